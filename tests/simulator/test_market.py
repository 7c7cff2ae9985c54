"""Market truth: invariants, exact aggregation, gaps, listing bounds, open candle."""

from __future__ import annotations

import time

import pytest

from simulator import INTERVALS, Market, SymbolSpec
from tests.simulator.conftest import DAY, HOUR, MINUTE, NOW, ms
from tests.simulator.helpers import aggregate, assert_row_invariants, values


@pytest.mark.parametrize("interval", INTERVALS)
def test_rows_obey_invariants_for_every_interval(market: Market, interval: str) -> None:
    rows = market.latest_klines("ETHUSDT", interval, NOW, NOW, 60)
    assert rows
    for row in rows:
        assert_row_invariants(row)
    opens = [r[0] for r in rows]
    assert opens == sorted(set(opens))
    assert rows[-1][0] <= NOW < rows[-1][6]  # the open candle comes last


def test_prices_are_tick_multiples_and_fixed_precision(market: Market) -> None:
    rows = market.klines("BTCUSDT", "1m", ms(2026, 10, 1), ms(2026, 10, 2), NOW, 1500)
    for row in rows:
        for i in (1, 2, 3, 4):
            assert len(row[i].split(".")[1]) == 2
            assert int(row[i].replace(".", "")) % 10 == 0  # tick 0.10
        assert len(row[5].split(".")[1]) == 3


def test_some_minutes_have_zero_volume(market: Market) -> None:
    rows = market.closed_klines("BTCUSDT", "1m", ms(2026, 10, 1), ms(2026, 10, 2), NOW)
    idle = [r for r in rows if r[5] == "0.000"]
    assert idle and len(idle) < len(rows) // 10
    assert all(r[8] == 0 and r[1] == r[2] == r[3] == r[4] for r in idle)


def test_deterministic_and_seed_dependent() -> None:
    a = Market(seed=3).klines("SOLUSDT", "5m", ms(2024, 1, 1), ms(2024, 1, 2), NOW, 50)
    b = Market(seed=3).klines("SOLUSDT", "5m", ms(2024, 1, 1), ms(2024, 1, 2), NOW, 50)
    c = Market(seed=4).klines("SOLUSDT", "5m", ms(2024, 1, 1), ms(2024, 1, 2), NOW, 50)
    assert a == b
    assert a != c


@pytest.mark.parametrize(
    ("interval", "start", "end"),
    [
        ("1h", ms(2026, 11, 1, 3), ms(2026, 11, 1, 5)),  # 03:00 bucket spans 03:40-04:00 gap
        ("1d", ms(2026, 10, 31), ms(2026, 11, 2)),  # 11-01 spans the 03:40 gap
        ("3d", ms(2026, 10, 18), ms(2026, 10, 27)),
        ("1w", ms(2026, 10, 19), ms(2026, 11, 2)),  # Monday-aligned, spans both gaps
        ("1M", ms(2026, 10, 1), ms(2026, 11, 1)),  # October spans the 10-20 gap
    ],
)
def test_higher_intervals_aggregate_1m_exactly(
    market: Market, interval: str, start: int, end: int
) -> None:
    buckets = market.closed_klines("XRPUSDT", interval, start, end, NOW)
    assert buckets
    for row in buckets:
        assert_row_invariants(row)
        minutes = market.closed_klines("XRPUSDT", "1m", row[0], row[6] + 1, NOW)
        assert minutes[0][0] >= row[0] and minutes[-1][6] <= row[6]
        assert values(row) == aggregate(minutes)
        if row[0] <= ms(2026, 11, 1, 3, 40) < row[6]:
            assert len(minutes) <= (row[6] + 1 - row[0]) // MINUTE - 20  # the gap is skipped


def test_bucket_alignment(market: Market) -> None:
    week = market.closed_klines("BTCUSDT", "1w", ms(2026, 9, 1), NOW, NOW)
    assert all((r[0] - 4 * DAY) % (7 * DAY) == 0 for r in week)  # Mondays
    assert all(r[6] == r[0] + 7 * DAY - 1 for r in week)
    three = market.closed_klines("BTCUSDT", "3d", ms(2026, 9, 1), NOW, NOW)
    assert all(r[0] % (3 * DAY) == 0 for r in three)
    months = market.closed_klines("BTCUSDT", "1M", ms(2026, 1, 1), NOW, NOW)
    assert [r[0] for r in months] == [ms(2026, m, 1) for m in range(1, 11)]
    assert months[1][6] == ms(2026, 3, 1) - 1  # February: 28 days


def test_maintenance_minutes_absent(market: Market) -> None:
    rows = market.closed_klines("BTCUSDT", "1m", ms(2026, 11, 1, 3), ms(2026, 11, 1, 5), NOW)
    opens = {r[0] for r in rows}
    gap = set(range(ms(2026, 11, 1, 3, 40), ms(2026, 11, 1, 4), MINUTE))
    assert not opens & gap
    assert len(rows) == 120 - 20
    for symbol in ("ETHUSDT", "NEWUSDT"):
        rows = market.closed_klines(symbol, "5m", ms(2026, 10, 20, 9), ms(2026, 10, 20, 12), NOW)
        assert not [r for r in rows if ms(2026, 10, 20, 10) <= r[0] < ms(2026, 10, 20, 10, 30)]
        assert len(rows) == 36 - 6


def test_bucket_without_existing_minutes_does_not_exist() -> None:
    start = ms(2024, 3, 1, 5)
    market = Market(maintenance=[(start, start + HOUR)])
    rows = market.closed_klines("BTCUSDT", "1h", ms(2024, 3, 1, 3), ms(2024, 3, 1, 8), NOW)
    assert [r[0] for r in rows] == [ms(2024, 3, 1, h) for h in (3, 4, 6, 7)]
    # paging over the hole still returns `limit` rows
    page = market.klines("BTCUSDT", "1m", start - 2 * MINUTE, NOW, NOW, 4)
    assert [r[0] for r in page] == [
        start - 2 * MINUTE,
        start - MINUTE,
        start + HOUR,
        start + HOUR + MINUTE,
    ]


def test_listing_bounds(market: Market) -> None:
    old = market.symbols["OLDUSDT"]
    assert old.status == "SETTLING"
    tail = market.latest_klines("OLDUSDT", "1m", NOW, NOW, 10)
    assert tail[-1][0] == old.delivery_ms - MINUTE and tail[-1][6] < old.delivery_ms
    assert market.klines("OLDUSDT", "1h", old.delivery_ms, NOW, NOW, 10) == []
    daily = market.klines("OLDUSDT", "1d", 0, NOW, NOW, 1500)
    assert daily[0][0] == old.onboard_ms and daily[-1][0] == old.delivery_ms - DAY

    new = market.symbols["NEWUSDT"]
    assert new.onboard_ms == ms(2026, 10, 15)
    first = market.klines("NEWUSDT", "1m", 0, NOW, NOW, 3)
    assert first[0][0] == new.onboard_ms
    assert market.klines("NEWUSDT", "1d", 0, new.onboard_ms - 1, NOW, 10) == []
    assert market.latest_klines("NEWUSDT", "1w", NOW, NOW, 1500)[0][0] <= new.onboard_ms


def test_onboard_inside_a_bucket_starts_that_bucket_late() -> None:
    spec = SymbolSpec("ABCUSDT", ms(2025, 5, 5, 7, 30), "10", "0.001", "0.1")
    market = Market([spec], maintenance=[])
    first_hour = market.klines("ABCUSDT", "1h", 0, NOW, NOW, 1)[0]
    minutes = market.closed_klines("ABCUSDT", "1m", ms(2025, 5, 5, 7), ms(2025, 5, 5, 8), NOW)
    assert first_hour[0] == ms(2025, 5, 5, 7) and minutes[0][0] == spec.onboard_ms
    assert len(minutes) == 30 and values(first_hour) == aggregate(minutes)


def test_open_candle_is_partial_and_differs_from_final(market: Market) -> None:
    for interval in ("1m", "1h", "1d"):
        live = market.latest_klines("BTCUSDT", interval, NOW, NOW, 1)[0]
        assert live[0] <= NOW < live[6]
        later = live[6] + 1
        final = market.closed_klines("BTCUSDT", interval, live[0], live[0] + 1, later)[0]
        assert final[0] == live[0] and final[6] == live[6]
        assert values(live) != values(final)
        assert_row_invariants(live)
    # closed_klines never returns the open candle; klines does
    assert market.closed_klines("BTCUSDT", "1m", NOW - 2 * MINUTE, NOW + MINUTE, NOW)[-1][6] < NOW
    assert market.klines("BTCUSDT", "1m", NOW - 2 * MINUTE, NOW + HOUR, NOW, 10)[-1][0] == (
        NOW // MINUTE * MINUTE
    )


def test_big_daily_page_is_fast(market: Market) -> None:
    t0 = time.perf_counter()
    rows = market.klines("BNBUSDT", "1d", ms(2021, 1, 1), NOW, NOW, 499)
    assert len(rows) == 499
    assert time.perf_counter() - t0 < 1.0
