"""Interval parsing and the UTC grid candles open on."""

from __future__ import annotations

import pytest

from exchange.errors import InvalidInput, InvalidInterval
from exchange.intervals import INTERVAL_NAMES, Interval
from exchange.markets import MARKETS
from tests.conftest import ms


@pytest.mark.parametrize("name", ["1H", "2m", "1mo", "", "1 m", "60s", "2s"])
def test_unknown_intervals_are_rejected_with_the_valid_list(name: str) -> None:
    with pytest.raises(InvalidInterval, match="use one of 1s,1m,3m"):
        Interval.parse(name)


def test_one_second_candles_exist_but_only_spot_has_them() -> None:
    assert Interval.parse("1s").count(0, 60_000) == 60
    MARKETS["spot"].check_interval("1s")
    with pytest.raises(InvalidInput, match="invalid interval '1s' for USDⓈ-M futures"):
        MARKETS["usdm"].check_interval("1s")


def test_case_matters_and_the_message_says_so() -> None:
    with pytest.raises(InvalidInterval, match="case-sensitive"):
        Interval.parse("1H")
    assert Interval.parse("1M").ms is None and Interval.parse("1m").ms == 60_000


def test_every_binance_interval_parses() -> None:
    assert [Interval.parse(n).name for n in INTERVAL_NAMES] == list(INTERVAL_NAMES)


def test_weeks_open_on_monday_midnight_utc() -> None:
    week = Interval.parse("1w")
    # 2026-11-05 is a Thursday; its week opened Monday 2026-11-02.
    assert week.floor(ms("2026-11-05T13:00:00")) == ms("2026-11-02T00:00:00")
    assert week.close_time(ms("2026-11-02T00:00:00")) == ms("2026-11-09T00:00:00") - 1


def test_months_follow_the_calendar() -> None:
    month = Interval.parse("1M")
    assert month.floor(ms("2024-02-29T23:59:00")) == ms("2024-02-01T00:00:00")
    assert month.add(ms("2024-01-01T00:00:00"), 1) == ms("2024-02-01T00:00:00")
    assert month.add(ms("2024-12-01T00:00:00"), 1) == ms("2025-01-01T00:00:00")
    assert month.close_time(ms("2024-02-01T00:00:00")) == ms("2024-03-01T00:00:00") - 1
    assert month.count(ms("2023-11-01T00:00:00"), ms("2024-03-01T00:00:00")) == 4


def test_ceil_and_floor_on_and_off_the_grid() -> None:
    hour = Interval.parse("1h")
    assert hour.ceil(ms("2026-11-01T00:00:00")) == ms("2026-11-01T00:00:00")
    assert hour.ceil(ms("2026-11-01T00:00:01")) == ms("2026-11-01T01:00:00")
    assert hour.floor(ms("2026-11-01T00:59:59")) == ms("2026-11-01T00:00:00")
