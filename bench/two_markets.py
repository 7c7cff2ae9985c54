"""Benchmark (h): one backfill over two markets whose weight budgets are separate.

USDⓈ-M futures and spot count request weight in separate pools (2,400 and 6,000 a minute on
Binance; 400 and 1,000 per 10 s on the simulator, the same rates), so a run that loads both
should take about as long as the slower one alone, not the sum. Three real ``ingest-klines``
flow runs, each against a fresh simulator in its own process (40 ± 10 ms latency): BTCUSDT
1m over the same days from USDⓈ-M alone, from spot alone, and from both in one run
(``--market usdm,spot``). Reported per job: candles, seconds of the flow run (Prefect's own
start and end), candles/s, requests and weight per pool next to each pool's ceiling.

Run: ``uv run python -m bench.two_markets [--days 120]``.
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from cli.ingest import run_ingest
from exchange.markets import MARKETS

from .common import NOW_MS, WEIGHT_LIMIT, WEIGHT_WINDOW_S, print_table, simulator_process

DAY_MS = 86_400_000
SPOT_WEIGHT_LIMIT = WEIGHT_LIMIT * 5 // 2  # the simulator's default: 6,000 for 2,400
HEADERS = (
    "job", "candles", "flow s", "candles/s", "seconds per market", "requests", "weight",
    "ceiling candles/s (weight)", "share",
)  # fmt: skip


def ceiling(market: str) -> float:
    """Candles a second the market's weight pool allows at full pages."""
    spec = MARKETS[market]
    limit = WEIGHT_LIMIT if spec.weight_pool == "futures" else SPOT_WEIGHT_LIMIT
    page = spec.page_limit
    return page / spec.klines_weight.weight(page) * limit / WEIGHT_WINDOW_S


def one_job(markets: str, days: int) -> list:
    start = datetime.fromtimestamp((NOW_MS - days * DAY_MS) / 1000, UTC)
    end = datetime.fromtimestamp((NOW_MS - DAY_MS) / 1000, UTC)
    with tempfile.TemporaryDirectory() as tmp, simulator_process() as url:
        db = str(Path(tmp) / "k.duckdb")
        summary = run_ingest(
            ["BTCUSDT"],
            ["1m"],
            start.isoformat(),
            end.isoformat(),
            db,
            url,
            source="rest",
            market=markets,
            network="mainnet",
        )
    with get_client(sync_client=True) as client:
        (flow_run,) = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[summary["run_id"]]))
        )
    flow_s = (flow_run.end_time - flow_run.start_time).total_seconds()
    candles = sum(int(s["inserted"]) for s in summary["series"])
    limit = sum(ceiling(m) for m in markets.split(","))
    per_market = ", ".join(f"{s['market']} {float(s['seconds']):.1f}" for s in summary["series"])
    return [
        f"--market {markets}",
        candles,
        flow_s,
        candles / flow_s,
        per_market,
        summary["requests"],
        summary["weight"],
        limit,
        f"{candles / flow_s / limit:.0%}",
    ]


def run(days: int = 120) -> list[list]:
    one_job("usdm,spot", 2)  # untimed: the process's first flow run starts Prefect's API
    return [one_job(markets, days) for markets in ("usdm", "spot", "usdm,spot")]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--days", type=int, default=120)
    print_table("(h) two markets in one backfill", HEADERS, run(p.parse_args().days))


if __name__ == "__main__":
    main()
