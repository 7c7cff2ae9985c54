"""The gap ledger: every missing candle is accounted for with a cause, none is made up."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from simulator import Market, Simulator
from tests.conftest import STORED_SQL, ms, truth_rows
from tests.flows.helpers import ingest


def ledger(db: Path, symbol: str, interval: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT epoch_ms(gap_start), epoch_ms(gap_end), missing, cause FROM klines_gaps "
            "WHERE symbol = ? AND interval = ? ORDER BY gap_start",
            [symbol, interval],
        ).fetchall()


def count_klines(db: Path, symbol: str, interval: str) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT count(*) FROM klines WHERE symbol = ? AND interval = ?", [symbol, interval]
        ).fetchone()[0]


def test_a_maintenance_window_is_recorded_as_confirmed_empty(sim: Simulator, db_path: Path) -> None:
    assert (
        ingest(
            sim, db_path, "--symbols", "BTCUSDT", "--intervals", "1m", "--start", "2026-11-01"
        ).code
        == 0
    )
    assert ledger(db_path, "BTCUSDT", "1m") == [
        (ms("2026-11-01T03:40:00"), ms("2026-11-01T04:00:00"), 20, "exchange_empty")
    ]


def klines_requests(sim: Simulator) -> int:
    return sim.stats.snapshot()["requests_by_path"].get("/fapi/v1/klines", 0)


@pytest.mark.slow  # three flow runs; tests/pipeline/test_plan.py covers the rule
def test_confirmed_gaps_are_not_fetched_again_unless_asked(sim: Simulator, db_path: Path) -> None:
    args = (
        "--symbols",
        "BTCUSDT",
        "--intervals",
        "1m",
        "--start",
        "2026-11-01T03:00Z",
        "--end",
        "2026-11-01T05:00Z",
    )
    assert ingest(sim, db_path, *args).code == 0
    assert (
        ingest(sim, db_path, "--symbols", "BTCUSDT", "--intervals", "1m").code == 0
    )  # resume to now
    before = klines_requests(sim)
    assert ingest(sim, db_path, "--symbols", "BTCUSDT", "--intervals", "1m").code == 0
    assert klines_requests(sim) == before  # nothing new, and the confirmed gap is left alone
    assert (
        ingest(sim, db_path, "--symbols", "BTCUSDT", "--intervals", "1m", "--reverify-gaps").code
        == 0
    )
    assert klines_requests(sim) == before + 1  # exactly the gap's page
    assert (ms("2026-11-01T03:40:00"), ms("2026-11-01T04:00:00"), 20, "exchange_empty") in ledger(
        db_path, "BTCUSDT", "1m"
    )


def test_ranges_before_listing_and_after_delisting_are_accounted_for(
    sim: Simulator, db_path: Path
) -> None:
    assert (
        ingest(
            sim, db_path, "--symbols", "NEWUSDT", "--intervals", "1d", "--start", "2026-10-10"
        ).code
        == 0
    )
    assert ledger(db_path, "NEWUSDT", "1d")[0] == (
        ms("2026-10-10T00:00:00"),
        ms("2026-10-15T00:00:00"),
        5,
        "before_listing",
    )
    assert (
        ingest(
            sim,
            db_path,
            "--symbols",
            "OLDUSDT",
            "--intervals",
            "1d",
            "--start",
            "2026-05-25",
            "--end",
            "2026-06-05",
        ).code
        == 0
    )
    assert ledger(db_path, "OLDUSDT", "1d") == [
        (ms("2026-06-01T00:00:00"), ms("2026-06-05T00:00:00"), 4, "after_delisting")
    ]


def test_a_failed_fetch_is_recorded_then_repaired_by_the_next_run(
    sim: Simulator, market: Market, db_path: Path
) -> None:
    sim.faults.update(error_rate=1.0, kinds=("503",))
    ran = ingest(sim, db_path, "--symbols", "ETHUSDT", "--intervals", "1h", "--start", "2026-11-01")
    assert ran.code == 1 and "HTTP 503" in ran.err
    [(start, end, missing, cause)] = ledger(db_path, "ETHUSDT", "1h")
    assert (start, cause, missing) == (ms("2026-11-01T00:00:00"), "fetch_failed", 24)
    sim.faults.reset()
    assert ingest(sim, db_path, "--symbols", "ETHUSDT", "--intervals", "1h").code == 0
    assert "fetch_failed" not in {cause for *_, cause in ledger(db_path, "ETHUSDT", "1h")}
    with duckdb.connect(str(db_path), read_only=True) as con:
        stored = [tuple(r) for r in con.execute(STORED_SQL, ["ETHUSDT", "1h"]).fetchall()]
    assert [r for r in stored if r[0] >= ms("2026-11-01T00:00:00")] == truth_rows(
        market, "ETHUSDT", "1h", "2026-11-01T00:00:00"
    )


def test_a_hole_no_run_asked_for_is_listed_then_filled(
    sim: Simulator, market: Market, db_path: Path
) -> None:
    assert (
        ingest(
            sim,
            db_path,
            "--symbols",
            "SOLUSDT",
            "--intervals",
            "5m",
            "--start",
            "2026-11-01",
            "--end",
            "2026-11-01T02:00Z",
        ).code
        == 0
    )
    assert (
        ingest(
            sim,
            db_path,
            "--symbols",
            "SOLUSDT",
            "--intervals",
            "5m",
            "--start",
            "2026-11-01T06:00Z",
        ).code
        == 0
    )
    assert (ms("2026-11-01T02:00:00"), ms("2026-11-01T06:00:00"), 48, "not_fetched") in ledger(
        db_path, "SOLUSDT", "5m"
    )
    assert (
        ingest(sim, db_path, "--symbols", "SOLUSDT", "--intervals", "5m").code == 0
    )  # repairs the hole
    assert ledger(db_path, "SOLUSDT", "5m") == [
        (ms("2026-11-01T03:40:00"), ms("2026-11-01T04:00:00"), 4, "exchange_empty")
    ]
    with duckdb.connect(str(db_path), read_only=True) as con:
        stored = [tuple(r) for r in con.execute(STORED_SQL, ["SOLUSDT", "5m"]).fetchall()]
    assert stored == truth_rows(market, "SOLUSDT", "5m", "2026-11-01T00:00:00")


def test_a_rejected_candle_is_a_gap_with_its_own_cause(sim: Simulator, db_path: Path) -> None:
    sim.faults.update(script=["bad-row"])
    assert (
        ingest(
            sim, db_path, "--symbols", "BTCUSDT", "--intervals", "1h", "--start", "2026-11-01"
        ).code
        == 1
    )
    assert ledger(db_path, "BTCUSDT", "1h") == [
        (ms("2026-11-01T00:00:00"), ms("2026-11-01T01:00:00"), 1, "rejected")
    ]
    assert count_klines(db_path, "BTCUSDT", "1h") == 23  # never a made-up candle
