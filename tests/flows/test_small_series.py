"""A scheduled run's many one-page series load in groups: same result, far less work."""

from __future__ import annotations

from pathlib import Path

import duckdb
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from simulator import Market, Simulator, SymbolSpec
from tests.conftest import NOW_MS, STORED_SQL, ms, truth_rows
from tests.flows.helpers import ingest

SYMBOLS = [f"S{i:02d}USDT" for i in range(30)]


def test_sixty_one_page_series_load_in_three_groups_equal_to_the_truth(db_path: Path) -> None:
    market = Market(
        [SymbolSpec(s, ms("2026-01-01T00:00:00"), "100", "0.01", "0.001") for s in SYMBOLS],
        maintenance=[(ms("2026-11-01T23:10:00"), ms("2026-11-01T23:20:00"))],
    )
    with Simulator(market, frozen_ms=NOW_MS) as sim:
        ran = ingest(
            sim, db_path, "--symbols", ",".join(SYMBOLS), "--intervals", "1m,5m",
            "--start", "2026-11-01T22:00Z",
        )  # fmt: skip
    assert ran.code == 0, ran.err
    with duckdb.connect(str(db_path), read_only=True) as con:
        for symbol in SYMBOLS:
            for interval in ("1m", "5m"):
                stored = con.execute(STORED_SQL, [symbol, interval]).fetchall()
                assert [tuple(r) for r in stored] == truth_rows(
                    market, symbol, interval, "2026-11-01T22:00:00"
                )
        gaps = con.execute(
            "SELECT DISTINCT interval, epoch_ms(gap_start), epoch_ms(gap_end), cause, "
            "count(*) OVER (PARTITION BY interval) FROM klines_gaps ORDER BY ALL"
        ).fetchall()
        run_id = con.execute("SELECT run_id FROM ingest_runs").fetchone()[0]
    # The maintenance window, once per series, in every series' own ledger.
    assert gaps == [
        ("1m", ms("2026-11-01T23:10:00"), ms("2026-11-01T23:20:00"), "exchange_empty", 30),
        ("5m", ms("2026-11-01T23:10:00"), ms("2026-11-01T23:20:00"), "exchange_empty", 30),
    ]
    with get_client(sync_client=True) as client:
        tasks = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
        )
    names = sorted(t.name for t in tasks if t.name.startswith("ingest-"))
    assert names == [
        "ingest-S00USDT-1m-and-24-more",
        "ingest-S12USDT-5m-and-24-more",
        "ingest-S25USDT-1m-and-9-more",
    ]
