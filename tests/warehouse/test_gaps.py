"""Finding the missing candles of a fetched range (the gap ledger's input)."""

from __future__ import annotations

import numpy as np

from exchange.intervals import Interval
from tests.conftest import ms
from warehouse.gaps import missing_runs

MIN = 60_000


def test_runs_of_missing_minutes_with_their_counts() -> None:
    present = np.array([0, 1, 3, 4, 7]) * MIN
    runs = missing_runs(present, Interval.parse("1m"), 0, 10 * MIN)
    assert runs == [(2 * MIN, 3 * MIN, 1), (5 * MIN, 7 * MIN, 2), (8 * MIN, 10 * MIN, 2)]


def test_nothing_missing_and_everything_missing() -> None:
    minute = Interval.parse("1m")
    assert missing_runs(np.arange(10) * MIN, minute, 0, 10 * MIN) == []
    assert missing_runs(np.array([], dtype="int64"), minute, 0, 10 * MIN) == [(0, 10 * MIN, 10)]


def test_the_range_starts_at_the_next_grid_point_and_ignores_candles_off_it() -> None:
    present = np.array([-MIN, MIN + 30_000, 2 * MIN, 50 * MIN])
    assert missing_runs(present, Interval.parse("1m"), 30_000, 3 * MIN) == [(MIN, 2 * MIN, 1)]


def test_calendar_months_follow_the_calendar() -> None:
    months = [ms("2026-01-01T00:00:00"), ms("2026-02-01T00:00:00"), ms("2026-04-01T00:00:00")]
    runs = missing_runs(
        np.array(months), Interval.parse("1M"), months[0], ms("2026-05-01T00:00:00")
    )
    assert runs == [(ms("2026-03-01T00:00:00"), ms("2026-04-01T00:00:00"), 1)]


def test_weeks_start_on_monday() -> None:
    monday = ms("2026-11-02T00:00:00")
    week = 7 * 24 * 60 * MIN
    runs = missing_runs(
        np.array([monday + week]), Interval.parse("1w"), monday - 1, monday + 3 * week
    )
    assert runs == [(monday, monday + week, 1), (monday + 2 * week, monday + 3 * week, 1)]
