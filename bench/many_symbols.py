"""Benchmark (f): one scheduled run over 300 symbols × 1m, chosen by a pattern.

The simulator runs in its own process with the full-size listing (``--universe full``:
330 TRADING USDT perpetuals among 362 contracts), 40 ± 10 ms latency and a running clock.
Per weight window: an untimed run stores the last 30 minutes of
``--symbols '*USDT' --top 300``; the simulator's clock then moves 3 minutes, and the timed
run (a real ``ingest-klines`` flow run with the same parameters, as a deployment calls it)
resumes every series: exchangeInfo, the 24-hour ticker for ``--top``, one klines request
per series. Reported: the weight the run used next to one minute's weight at
``KLINES_WEIGHT_SHARE`` 0.8 (1,920 of Binance's 2,400), the flow run's own start-to-end
seconds (Prefect's record) next to the 20 s limit, and the peak RSS of this process (the
flow run's; the simulator and Prefect's temporary API run in processes of their own).

Two weight windows: Binance's (2,400 per 60 s), which the limit is about, and the other
benchmarks' (400 per 10 s: the same rate), where a run needing more than one 10-s slice
(320 at 0.8) must wait for the next one; the run starts on a fresh window in both.

Run: ``uv run python -m bench.many_symbols [--symbols 300] [--window binance|scaled|both]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import requests
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from cli.ingest import run_ingest

from .common import WEIGHT_LIMIT, WEIGHT_WINDOW_S, print_table, simulator_process

HEADERS = (
    "window", "symbols", "candles", "requests", "weight used", "1 min at share 0.8",
    "share", "flow s", "limit s", "wall s", "peak RSS MiB",
)  # fmt: skip
WINDOWS = {"binance": (2400, 60), "scaled": (WEIGHT_LIMIT, WEIGHT_WINDOW_S)}
SHARE, LIMIT_S, MINUTE_MS = 0.8, 20.0, 60_000
_ENV = (
    "KLINES_WEIGHT_LEDGER",
    "KLINES_WEIGHT_SHARE",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS",
)


def run(symbols: int = 300, windows: tuple[str, ...] = ("binance", "scaled")) -> list[list]:
    """One row per weight window: the timed incremental run's figures."""
    saved = {k: os.environ.get(k) for k in _ENV}
    with tempfile.TemporaryDirectory() as tmp:
        # This benchmark's own weight ledger and share, whatever the environment says;
        # Prefect's temporary API may take a while to come up on a busy machine.
        os.environ.update(
            {
                "KLINES_WEIGHT_LEDGER": str(Path(tmp) / "ledger"),
                "KLINES_WEIGHT_SHARE": str(SHARE),
                "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
            }
        )
        try:
            return [_one(name, symbols, Path(tmp) / f"{name}.duckdb") for name in windows]
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def _one(window: str, symbols: int, db: Path) -> list:
    limit, window_s = WINDOWS[window]
    minute_weight = int(limit * 60 / window_s * SHARE)
    with simulator_process(
        "--universe", "full", weight_limit=limit, weight_window_s=window_s
    ) as url:
        now_ms = requests.get(f"{url}/fapi/v1/time", timeout=10).json()["serverTime"]
        start = datetime.fromtimestamp((now_ms - 30 * MINUTE_MS) / 1000, UTC).isoformat()
        args = dict(db=str(db), rest_url=url, source="rest", top=symbols)
        run_ingest(["*USDT"], ["1m"], start, None, **args)  # untimed: 30 minutes of history
        requests.post(f"{url}/_sim/clock", json={"advance_ms": 3 * MINUTE_MS}, timeout=10)
        _wait_for_a_fresh_window(url, window_s)
        t0 = time.perf_counter()
        summary = run_ingest(["*USDT"], ["1m"], None, None, **args)
        wall = time.perf_counter() - t0
    with get_client(sync_client=True) as client:
        (flow_run,) = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[summary["run_id"]]))
        )
    flow_s = (flow_run.end_time - flow_run.start_time).total_seconds()
    assert summary["status"] == "ok", summary["status"]
    series = summary["series"]
    new = sum(int(s["inserted"]) for s in series)
    weight = int(summary["weight"])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return [f"{limit:,} / {window_s} s", len(series), new, summary["requests"], weight,
            minute_weight, f"{weight / minute_weight:.0%}", flow_s, LIMIT_S, wall, peak]  # fmt: skip


def _wait_for_a_fresh_window(url: str, window_s: int) -> None:
    """Sleep until the simulator's weight window turns over (a scheduled run starts on one)."""
    now_ms = requests.get(f"{url}/fapi/v1/time", timeout=10).json()["serverTime"]
    time.sleep((window_s * 1000 - now_ms % (window_s * 1000)) / 1000 + 0.05)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--symbols", type=int, default=300)
    p.add_argument("--window", choices=("binance", "scaled", "both"), default="both")
    args = p.parse_args()
    windows = ("binance", "scaled") if args.window == "both" else (args.window,)
    print_table("(f) 300 symbols × 1m, one scheduled run", HEADERS, run(args.symbols, windows))


if __name__ == "__main__":
    main()
