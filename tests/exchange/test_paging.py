"""Page windows: fixed by time, ``limit`` grid points each, never overlapping."""

from __future__ import annotations

from exchange.intervals import Interval
from exchange.markets import MARKETS
from exchange.paging import plan_windows
from tests.conftest import ms

FUTURES = MARKETS["usdm"].klines_weight
cheapest_limit, klines_weight = FUTURES.cheapest_limit, FUTURES.weight


def test_windows_cover_the_range_exactly_once() -> None:
    minute = Interval.parse("1m")
    windows = plan_windows(minute, ms("2026-11-01T00:00:00"), ms("2026-11-01T01:00:00"), 25)
    assert len(windows) == 3
    assert windows[0].start_ms == ms("2026-11-01T00:00:00")
    assert windows[0].end_ms == ms("2026-11-01T00:25:00") - 1
    assert windows[-1].end_ms == ms("2026-11-01T01:00:00") - 1
    assert all(a.end_ms + 1 == b.start_ms for a, b in zip(windows, windows[1:], strict=False))


def test_an_off_grid_start_begins_at_the_next_open() -> None:
    windows = plan_windows(
        Interval.parse("1h"), ms("2026-11-01T00:30:00"), ms("2026-11-01T03:00:00"), 499
    )
    assert windows[0].start_ms == ms("2026-11-01T01:00:00")


def test_an_empty_range_has_no_windows() -> None:
    minute = Interval.parse("1m")
    assert plan_windows(minute, ms("2026-11-01T00:00:00"), ms("2026-11-01T00:00:00"), 499) == []


def test_month_windows_follow_the_calendar() -> None:
    windows = plan_windows(
        Interval.parse("1M"), ms("2023-01-01T00:00:00"), ms("2024-01-01T00:00:00"), 5
    )
    assert [w.start_ms for w in windows] == [
        ms("2023-01-01T00:00:00"),
        ms("2023-06-01T00:00:00"),
        ms("2023-11-01T00:00:00"),
    ]


def test_a_few_candles_are_fetched_at_the_cheapest_weight_that_holds_them() -> None:
    assert [cheapest_limit(n, 499) for n in (1, 5, 99, 100, 499)] == [99, 99, 99, 499, 499]
    assert [cheapest_limit(n, 1500) for n in (700, 1001, 1500)] == [1000, 1500, 1500]
    assert cheapest_limit(30, 50) == 50  # never above the configured page limit
    assert klines_weight(cheapest_limit(3, 499)) == 1
