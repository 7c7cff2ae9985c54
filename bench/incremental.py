"""Benchmark (d): a scheduled incremental run over 100 series with ≤ 5 new candles each.

100 symbols × 1m on the simulator (40 ± 10 ms latency, 400 weight per 10 s). A first run
stores the last 30 minutes; the clock then moves 5 minutes and the timed run (a real
``ingest-klines`` flow run on a temporary Prefect API, as ``klines ingest`` does) resumes
every series. Reported: seconds from the flow run's start to its end, as Prefect recorded
them (planning, loading and every artifact included), and the wall time of the call.

Run: ``uv run python -m bench.incremental [--series 100]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from cli.ingest import run_ingest
from simulator import Market

from .common import NOW_MS, bench_simulator, many_symbols, print_table

HEADERS = (
    "job",
    "series",
    "new candles",
    "requests",
    "seconds after flow start",
    "wall s",
    "target",
)


def run(series: int = 100) -> list[list]:
    market = Market(many_symbols(series), maintenance=[])
    sim = bench_simulator(market, frozen_ms=NOW_MS)
    symbols = list(market.symbols)
    start = datetime.fromtimestamp((NOW_MS - 30 * 60_000) / 1000, UTC).isoformat()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            db = str(Path(tmp) / "d.duckdb")
            run_ingest(symbols, ["1m"], start, None, db, sim.url, source="rest")
            sim.clock.advance(5 * 60_000)
            before = sim.stats.snapshot()["requests_by_path"].get("/fapi/v1/klines", 0)
            t0 = time.perf_counter()
            summary = run_ingest(symbols, ["1m"], None, None, db, sim.url)
            wall = time.perf_counter() - t0
            reqs = sim.stats.snapshot()["requests_by_path"]["/fapi/v1/klines"] - before
            with get_client(sync_client=True) as client:
                (flow_run,) = client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[summary["run_id"]]))
                )
            flow_s = (flow_run.end_time - flow_run.start_time).total_seconds()
    finally:
        sim.stop()
    new = sum(int(s["inserted"]) for s in summary["series"])
    return [
        ["incremental run (1m)", len(summary["series"]), new, reqs, float(flow_s), wall, "< 5 s"]
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--series", type=int, default=100)
    print_table("(d) incremental scheduled run", HEADERS, run(p.parse_args().series))


if __name__ == "__main__":
    main()
