"""Migration 4: latest_klines, gaps, coverage and the resample macro."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from simulator import Market
from tests.analytics.conftest import START_MS
from tests.conftest import NOW_MS, as_values, ms
from warehouse.migrations import MIGRATIONS
from warehouse.store import Warehouse

RESAMPLED_SQL = """
SELECT epoch_ms(open_time), open, high, low, close, volume, epoch_ms(close_time),
       quote_volume, trades, taker_buy_base_volume, taker_buy_quote_volume
FROM resample(?, ?) WHERE complete ORDER BY open_time
"""
COARSER = ("3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M")


def query(db: Path, sql: str, params: list | None = None, tz: str = "UTC") -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute(f"SET TimeZone = '{tz}'")
        return [tuple(r) for r in con.execute(sql, params or []).fetchall()]


def test_migration_4_is_recorded(filled: Path) -> None:
    assert MIGRATIONS[-1][0] >= 4
    assert (4,) in query(filled, "SELECT version FROM schema_migrations")


@pytest.mark.parametrize("interval", COARSER)
def test_resample_equals_the_exchange_aggregation(filled: Path, interval: str) -> None:
    got = query(filled, RESAMPLED_SQL, ["BTCUSDT", interval])
    truth = [
        as_values(r)
        for r in Market().closed_klines("BTCUSDT", interval, START_MS, NOW_MS, NOW_MS)
        # only buckets wholly inside the stored 1m range are comparable
        if r[0] >= START_MS and r[6] < NOW_MS - NOW_MS % 60_000
    ]
    assert got and got == truth


def test_resample_marks_the_unfinished_bucket(filled: Path) -> None:
    last = query(
        filled,
        "SELECT open_time, minutes, complete FROM resample('BTCUSDT', '1h') ORDER BY open_time DESC LIMIT 1",
    )[0]
    assert last[0].isoformat() == "2026-11-02T00:00:00+00:00"
    assert last[1:] == (7, False)


def test_resample_rejects_an_unknown_interval(filled: Path) -> None:
    with pytest.raises(duckdb.InvalidInputException, match="unknown interval 2w"):
        query(filled, "SELECT * FROM resample('BTCUSDT', '2w')")


def test_resample_ignores_the_session_time_zone(filled: Path) -> None:
    for interval in ("1d", "1w", "1M"):
        utc = query(filled, RESAMPLED_SQL, ["BTCUSDT", interval])
        assert query(filled, RESAMPLED_SQL, ["BTCUSDT", interval], tz="America/New_York") == utc


def test_latest_klines_has_the_newest_candle_of_each_series(filled: Path) -> None:
    rows = query(
        filled,
        "SELECT symbol, interval, epoch_ms(open_time), since_close > INTERVAL 0 SECOND "
        "FROM latest_klines ORDER BY ALL",
    )
    assert rows == [
        ("BTCUSDT", "1d", ms("2026-11-01T00:00:00"), True),
        ("BTCUSDT", "1h", ms("2026-11-01T23:00:00"), True),
        ("BTCUSDT", "1m", ms("2026-11-02T00:06:00"), True),
        ("ETHUSDT", "1d", ms("2026-11-01T00:00:00"), True),
        ("ETHUSDT", "1h", ms("2026-11-01T23:00:00"), True),
        ("ETHUSDT", "1m", ms("2026-11-02T00:06:00"), True),
    ]


def maintenance_minutes(day: str) -> int:
    """Minutes of the simulator's maintenance windows on one UTC day."""
    d0 = ms(f"{day}T00:00:00")
    d1 = d0 + 86_400_000
    return sum(max(0, min(e, d1) - max(s, d0)) // 60_000 for s, e in Market().maintenance)


def _with_gaps(filled: Path, tmp_path: Path) -> Path:
    """A copy of the filled warehouse whose gap ledger explains every missing BTCUSDT 1m
    candle (the maintenance windows) and one not-fetched ETHUSDT stretch."""
    db = tmp_path / "gaps.duckdb"
    db.write_bytes(filled.read_bytes())
    windows = [(s, e) for s, e in Market().maintenance if START_MS <= s and e <= NOW_MS]
    with Warehouse(db).connect() as con:
        for s, e in windows:
            con.execute(
                "INSERT INTO klines_gaps (market, symbol, interval, gap_start, gap_end, missing, cause, "
                "detail, first_seen_at, verified_at, run_id) VALUES ('usdm', 'BTCUSDT', '1m', "
                "epoch_ms(?::BIGINT) AT TIME ZONE 'UTC', epoch_ms(?::BIGINT) AT TIME ZONE 'UTC', "
                "?, 'exchange_empty', 'maintenance', now(), now(), 'r1')",
                [s, e, (e - s) // 60_000],
            )
        con.execute(
            """INSERT INTO klines_gaps (market, symbol, interval, gap_start, gap_end, missing,
                cause, detail, first_seen_at, verified_at, run_id) VALUES
            ('usdm', 'ETHUSDT', '1m', '2026-10-27 23:50:00+00', '2026-10-28 00:10:00+00', 20,
             'not_fetched', 'before the first run', now(), now(), 'r1')"""
        )
        con.execute(
            "DELETE FROM klines WHERE symbol = 'ETHUSDT' AND interval = '1m' "
            "AND open_time < '2026-10-28 00:10:00+00'"
        )
    return db


def test_coverage_counts_expected_present_and_missing_by_cause(
    filled: Path, tmp_path: Path
) -> None:
    db = _with_gaps(filled, tmp_path)
    rows = {
        (r[0], r[1], str(r[2])): r[3:]
        for r in query(
            db,
            "SELECT symbol, interval, day, expected, present, missing_exchange_empty, "
            "missing_not_fetched, unexplained, completeness FROM coverage",
        )
    }
    for day in ("2026-11-01", "2026-10-20"):
        down = maintenance_minutes(day)
        assert down >= 20
        assert rows["BTCUSDT", "1m", day] == (
            1440,
            1440 - down,
            down,
            0,
            0,
            round(1 - down / 1440, 6),
        )
    assert rows["BTCUSDT", "1m", "2026-10-21"] == (1440, 1440, 0, 0, 0, 1.0)
    # the last day ends with the newest stored candle: 00:00 .. 00:06
    assert rows["BTCUSDT", "1m", "2026-11-02"] == (7, 7, 0, 0, 0, 1.0)
    # a not-fetched gap that starts the day before the first stored candle
    assert rows["ETHUSDT", "1m", "2026-10-27"] == (10, 0, 0, 10, 0, 0.0)
    assert rows["ETHUSDT", "1m", "2026-10-28"][:4] == (
        1440,
        1430 - maintenance_minutes("2026-10-28"),
        0,
        10,
    )
    assert rows["BTCUSDT", "1h", "2026-10-20"] == (24, 24, 0, 0, 0, 1.0)
    assert rows["BTCUSDT", "1d", "2026-10-20"] == (1, 1, 0, 0, 0, 1.0)
    # days are whole and contiguous per series; every expected candle is accounted for
    assert query(
        db,
        "SELECT count(*), sum(unexplained), sum(expected) - sum(present) - sum(missing_exchange_empty) "
        "FROM coverage WHERE interval = '1m' AND symbol = 'BTCUSDT'",
    ) == [(36, 0, 0)]


def test_coverage_counts_an_unexplained_hole(filled: Path, tmp_path: Path) -> None:
    db = tmp_path / "hole.duckdb"
    db.write_bytes(filled.read_bytes())
    with Warehouse(db).connect() as con:
        con.execute(
            "DELETE FROM klines WHERE symbol = 'BTCUSDT' AND interval = '1h' "
            "AND open_time BETWEEN '2026-10-05 01:00:00+00' AND '2026-10-05 03:00:00+00'"
        )
    assert query(
        db,
        "SELECT expected, present, unexplained FROM coverage "
        "WHERE symbol = 'BTCUSDT' AND interval = '1h' AND day = '2026-10-05'",
    ) == [(24, 21, 3)]


def test_gaps_view_says_what_a_rerun_can_fix(filled: Path, tmp_path: Path) -> None:
    db = _with_gaps(filled, tmp_path)
    assert query(
        db,
        "SELECT symbol, cause, recoverable, duration = INTERVAL 20 MINUTE FROM gaps "
        "WHERE gap_start = '2026-11-01 03:40:00+00' OR symbol = 'ETHUSDT' ORDER BY symbol",
    ) == [("BTCUSDT", "exchange_empty", False, True), ("ETHUSDT", "not_fetched", True, True)]
