"""Migration 8: liveness runs and streams record their market and network; the runs recorded
before read usdm and mainnet, and one run may hold the same stream name on two markets."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from warehouse.migrations import MIGRATIONS
from warehouse.store import Warehouse


def file_at_version_6(path: Path) -> None:
    """A warehouse as the code before migrations 7 and 8 left it, with one liveness run."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, description VARCHAR,"
            " applied_at TIMESTAMPTZ)"
        )
        for version, description, sql in MIGRATIONS:
            if version <= 6:
                con.execute(sql)
                con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [version, description])  # fmt: skip
        con.execute(
            "INSERT INTO liveness_runs VALUES ('old', 'old', now(), now(), "
            "'wss://fstream.binance.com/market', 'https://fapi.binance.com', 30, 1, 'PASS', true, "
            "-3, '', '# report')"
        )
        con.execute(
            "INSERT INTO liveness_streams (run_id, stream, status, failed_checks, events) "
            "VALUES ('old', 'btcusdt@kline_1m', 'PASS', [], 120)"
        )


def test_runs_before_the_migration_read_usdm_and_mainnet(db_path: Path) -> None:
    file_at_version_6(db_path)
    warehouse = Warehouse(db_path)
    with warehouse.connect() as con:
        assert con.execute("SELECT market, network FROM liveness_runs").fetchall() == [
            ("usdm", "mainnet")
        ]
        assert con.execute(
            "SELECT run_id, market, network, stream, events FROM liveness_streams"
        ).fetchall() == [("old", "usdm", "mainnet", "btcusdt@kline_1m", 120)]
    run = {
        "run_id": "new", "flow_run_id": "new", "started_at": "2026-11-02T00:07:30+00:00",
        "finished_at": "2026-11-02T00:08:00+00:00", "market": "usdm,spot", "network": "testnet",
        "ws_url": "a, b", "rest_url": "c, c", "seconds": 30.0, "streams": 2, "verdict": "PASS",
        "healthy": True, "diagnosis": "", "report": "# report",
    }  # fmt: skip
    streams = [
        {"run_id": "new", "market": m, "network": "testnet", "stream": "btcusdt@kline_1m",
         "status": "PASS", "failed_checks": []}
        for m in ("usdm", "spot")
    ]  # fmt: skip
    warehouse.record_liveness(run, streams)  # one stream name on two markets
    with warehouse.connect(read_only=True) as con:
        assert con.execute(
            "SELECT market, network FROM liveness_streams WHERE run_id = 'new' ORDER BY market"
        ).fetchall() == [("spot", "testnet"), ("usdm", "testnet")]
    with pytest.raises(duckdb.ConstraintException):  # but once per market
        warehouse.record_liveness({**run, "run_id": "again", "flow_run_id": "again"}, streams * 2)
