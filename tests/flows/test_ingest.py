"""``klines ingest`` end to end: a real flow run, the simulator, a real DuckDB file.

The warehouse must equal the simulator's truth row for row.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
from prefect.client.orchestration import get_client

from simulator import Market, Simulator
from tests.conftest import NOW_MS, STORED_SQL, ms, truth_rows
from tests.flows.helpers import ingest


def stored(db: Path, symbol: str, interval: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return [tuple(r) for r in con.execute(STORED_SQL, [symbol, interval]).fetchall()]


def test_several_symbols_and_intervals_equal_the_truth(
    sim: Simulator, market: Market, db_path: Path
) -> None:
    ran = ingest(
        sim,
        db_path,
        "--symbols",
        "BTCUSDT,ETHUSDT,SOLUSDT",
        "--intervals",
        "1m,15m,1h,1d",
        "--start",
        "2026-10-29",
    )
    assert ran.code == 0, ran.err
    for symbol in ("BTCUSDT", "ETHUSDT", "SOLUSDT"):
        for interval in ("1m", "15m", "1h", "1d"):
            assert stored(db_path, symbol, interval) == truth_rows(
                market, symbol, interval, "2026-10-29T00:00:00"
            )
    assert "BTCUSDT  1m" in ran.out and ": ok;" in ran.out


def test_a_maintenance_gap_stays_a_gap(sim: Simulator, market: Market, db_path: Path) -> None:
    assert (
        ingest(
            sim,
            db_path,
            "--symbols",
            "BTCUSDT",
            "--intervals",
            "1m",
            "--start",
            "2026-11-01T03:00Z",
            "--end",
            "2026-11-01T05:00Z",
        ).code
        == 0
    )
    opens = [r[0] for r in stored(db_path, "BTCUSDT", "1m")]
    assert len(opens) == 120 - 20
    assert not [t for t in opens if ms("2026-11-01T03:40:00") <= t < ms("2026-11-01T04:00:00")]
    assert stored(db_path, "BTCUSDT", "1m") == truth_rows(
        market, "BTCUSDT", "1m", "2026-11-01T03:00:00", ms("2026-11-01T05:00:00")
    )


def test_the_open_candle_is_left_out_then_picked_up(
    sim: Simulator, market: Market, db_path: Path
) -> None:
    assert (
        ingest(
            sim,
            db_path,
            "--symbols",
            "ETHUSDT",
            "--intervals",
            "1m,1h",
            "--start",
            "2026-11-01T20:00Z",
        ).code
        == 0
    )
    assert stored(db_path, "ETHUSDT", "1m")[-1][0] == ms(
        "2026-11-02T00:06:00"
    )  # 00:07 is still open
    assert stored(db_path, "ETHUSDT", "1h")[-1][0] == ms("2026-11-01T23:00:00")
    sim.clock.advance(3_600_000)
    later = NOW_MS + 3_600_000
    ran = ingest(sim, db_path, "--symbols", "ETHUSDT", "--intervals", "1m,1h")  # resume, no --start
    assert ran.code == 0, ran.err
    for interval in ("1m", "1h"):
        truth = [
            r
            for r in market.closed_klines(
                "ETHUSDT", interval, ms("2026-11-01T20:00:00"), later, later
            )
        ]
        assert [r[0] for r in stored(db_path, "ETHUSDT", interval)] == [r[0] for r in truth]
    assert stored(db_path, "ETHUSDT", "1h")[-1][0] == ms("2026-11-02T00:00:00")


def test_a_rerun_changes_nothing(sim: Simulator, db_path: Path) -> None:
    args = ("--symbols", "BTCUSDT", "--intervals", "5m,1h", "--start", "2026-11-01")
    assert ingest(sim, db_path, *args).code == 0
    with duckdb.connect(str(db_path), read_only=True) as con:
        before = con.execute("SELECT * FROM klines ORDER BY ALL").fetchall()
    ran = ingest(sim, db_path, *args)
    assert ran.code == 0
    with duckdb.connect(str(db_path), read_only=True) as con:
        assert con.execute("SELECT * FROM klines ORDER BY ALL").fetchall() == before
        assert con.execute("SELECT count(*) FROM klines_revisions").fetchone() == (0,)
        assert con.execute(
            "SELECT sum(inserted), sum(updated) FROM ingest_run_series WHERE run_id = "
            "(SELECT run_id FROM ingest_runs ORDER BY finished_at DESC LIMIT 1)"
        ).fetchone() == (0, 0)


def test_a_changed_candle_is_revised_and_the_old_values_kept(
    sim: Simulator, market: Market, db_path: Path
) -> None:
    args = ("--symbols", "BTCUSDT", "--intervals", "1h", "--start", "2026-11-01")
    assert ingest(sim, db_path, *args).code == 0
    with duckdb.connect(
        str(db_path)
    ) as con:  # what we stored earlier differs from the exchange now
        con.execute(
            "UPDATE klines SET close = close + 1 WHERE open_time = '2026-11-01 05:00:00+00'"
        )
        stale = con.execute(
            "SELECT close FROM klines WHERE open_time = '2026-11-01 05:00:00+00'"
        ).fetchone()
    assert ingest(sim, db_path, *args).code == 0
    assert stored(db_path, "BTCUSDT", "1h") == truth_rows(
        market, "BTCUSDT", "1h", "2026-11-01T00:00:00"
    )
    with duckdb.connect(str(db_path), read_only=True) as con:
        revisions = con.execute(
            "SELECT epoch_ms(open_time), close FROM klines_revisions"
        ).fetchall()
    assert revisions == [(ms("2026-11-01T05:00:00"), stale[0])]


def test_a_symbol_the_exchange_rejects_fails_alone(
    sim: Simulator, market: Market, db_path: Path
) -> None:
    sim.faults.update(invalid_symbols={"ETHUSDT"})
    ran = ingest(
        sim, db_path, "--symbols", "BTCUSDT,ETHUSDT", "--intervals", "1h", "--start", "2026-11-01"
    )
    assert ran.code == 1
    assert "ETHUSDT 1h" in ran.err and "Invalid symbol" in ran.err
    assert len(ran.err.strip().splitlines()[-1]) < 400
    assert stored(db_path, "BTCUSDT", "1h") == truth_rows(
        market, "BTCUSDT", "1h", "2026-11-01T00:00:00"
    )
    assert stored(db_path, "ETHUSDT", "1h") == []


def test_wrong_data_is_quarantined_and_the_run_exits_non_zero(
    sim: Simulator, db_path: Path
) -> None:
    sim.faults.update(script=["bad-row"])
    ran = ingest(sim, db_path, "--symbols", "BTCUSDT", "--intervals", "1h", "--start", "2026-11-01")
    assert ran.code == 1 and "1 rows rejected" in ran.err
    with duckdb.connect(str(db_path), read_only=True) as con:
        rejected = con.execute(
            "SELECT open_time_ms, failed_checks, raw FROM klines_rejected"
        ).fetchall()
        kept = con.execute("SELECT count(*) FROM klines").fetchone()[0]
    assert rejected[0][0] == ms("2026-11-01T00:00:00") and "high_is_highest" in rejected[0][1]
    assert '"0.00000001"' in rejected[0][2]
    assert kept == 23  # the other 23 hours of the batch loaded


def test_a_delisted_contract_stops_at_its_delivery(
    sim: Simulator, market: Market, db_path: Path
) -> None:
    assert (
        ingest(
            sim, db_path, "--symbols", "OLDUSDT", "--intervals", "1d", "--start", "2026-05-20"
        ).code
        == 0
    )
    rows = stored(db_path, "OLDUSDT", "1d")
    assert rows and rows[-1][0] == ms("2026-05-31T00:00:00")


def test_429_is_waited_out_without_a_ban(market: Market, db_path: Path) -> None:
    with Simulator(market, weight_limit=60, weight_window_s=1) as live:  # a live clock
        live.faults.update(script=["429"])
        ran = ingest(
            live,
            db_path,
            "--symbols",
            "BTCUSDT,ETHUSDT",
            "--intervals",
            "1m",
            "--start",
            "2026-11-01",
            "--end",
            "2026-11-01T12:00Z",
        )
        assert ran.code == 0, ran.err
        stats = live.stats.snapshot()
    assert stats["count_418"] == 0
    assert "429 1" in ran.out
    assert stored(db_path, "BTCUSDT", "1m") == truth_rows(
        market, "BTCUSDT", "1m", "2026-11-01T00:00:00", ms("2026-11-01T12:00:00")
    )


def test_each_run_publishes_summary_completeness_and_coverage_artifacts(
    sim: Simulator, db_path: Path
) -> None:
    assert (
        ingest(
            sim, db_path, "--symbols", "BTCUSDT", "--intervals", "1m", "--start", "2026-11-01"
        ).code
        == 0
    )
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:

        def latest(key: str):
            found = client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
            )
            assert found, key
            return max(found, key=lambda a: a.created)

        summary, completeness, coverage = (
            latest(k)
            for k in ("ingest-summary", "ingest-completeness", "klines-coverage-btcusdt-1m")
        )
    assert summary.type == "table" and "BTCUSDT" in str(summary.data)
    # 1,447 minutes from 2026-11-01 00:00 to the open candle, 20 of them maintenance
    data = completeness.data
    row = (json.loads(data) if isinstance(data, str) else data)[0]
    assert (row["expected"], row["present"], row["missing_exchange_empty"]) == (
        "1447",
        "1427",
        "20",
    )
    assert coverage.type == "markdown" and "data:image/png;base64," in str(coverage.data)
