"""Benchmark: two processes on one host backfill at once, with and without the weight ledger.

Two processes (one IP) each backfill their own symbol (1m, limit 499, the pipeline's
``ingest_series`` into their own DuckDB file) against one simulator (400 weight per 10 s,
40 ± 10 ms latency). At the start of a window, each spends half of that window's share
untimed (so the timed part starts in a spent window, as a long backfill is); then both
time ``--windows`` windows' worth of candles at ``share`` between them.
Reported against one IP's ceiling (499 / 2 × 40 weight/s = 9,980 candles/s) and against
``share`` × that ceiling, with the simulator's requests, 429s, 418s and the most weight
the IP used in one window (limit 400). Then the cost of one ``WeightBudget.acquire`` (and
of acquire + observe, what one request does) with the ledger on and off.

Run: ``uv run python -m bench.shared_budget [--windows 2]``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
import timeit
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from exchange.config import RestConfig
from exchange.hostbudget import HostLedger
from exchange.markets import MARKETS
from exchange.ratelimit import WeightBudget
from exchange.rest import RestClient
from pipeline.plan import SeriesPlan
from pipeline.series import ingest_series
from warehouse.store import Warehouse

from .common import WEIGHT_LIMIT, WEIGHT_WINDOW_S, bench_simulator, ms, print_table

DEFAULT_PAGE_LIMIT = MARKETS["usdm"].page_limit
klines_weight = MARKETS["usdm"].klines_weight.weight

MINUTE = 60_000
LIMIT = DEFAULT_PAGE_LIMIT
CEILING = LIMIT / klines_weight(LIMIT) * WEIGHT_LIMIT / WEIGHT_WINDOW_S  # one IP, share 1.0
SYMBOLS = ("BTCUSDT", "ETHUSDT")
HEADERS = (
    "ledger", "share", "candles", "seconds", "candles/s", "of ceiling", "of share × ceiling",
    "requests", "429s", "418s", "max weight in a window",
)  # fmt: skip
COST_HEADERS = ("ledger", "µs per acquire", "µs per acquire + observe")


def backfill(
    url: str,
    ledger: str | None,
    share: float,
    symbol: str,
    candles: int,
    db: Path,
    step: Barrier,
    window_start: Any,
    results: Any,
) -> None:
    """One process: at ``window_start`` warm up untimed, wait for the other, then time
    ``candles`` 1m candles."""
    client = RestClient(
        RestConfig(base_url=url, weight_share=share, weight_ledger=ledger, backoff_base=0.05)
    )
    client.exchange_info()
    server_ms = client.server_time_ms()
    warehouse = Warehouse(db)
    warm = int(WEIGHT_LIMIT * share / 2 / klines_weight(LIMIT)) * LIMIT
    lo = ms(2025, 1)
    statuses = []
    step.wait()  # both ready: the parent sets window_start
    step.wait()
    time.sleep(max(0.0, window_start.value - time.time()))
    for hi, timed in ((lo + warm * MINUTE, False), (lo + (warm + candles) * MINUTE, True)):
        if timed:
            step.wait()
            t0 = time.monotonic()
        result = ingest_series(
            SeriesPlan("usdm", symbol, "1m", lo, hi), client, warehouse,
            run_id="bench", server_ms=server_ms, workers=client.config.workers,
        )  # fmt: skip
        statuses.append(result.status)
        lo = hi
    results.put((t0, time.monotonic(), result.fetched, statuses))


def run_pair(ledger: bool, share: float, windows: float, tmp: Path) -> list[object]:
    """Both processes against a fresh simulator; one table row."""
    candles = int(windows * WEIGHT_WINDOW_S * CEILING * share / len(SYMBOLS))
    ledger_dir = tempfile.mkdtemp(dir=tmp) if ledger else None
    spawn = multiprocessing.get_context("spawn")
    step, window_start, results = spawn.Barrier(len(SYMBOLS) + 1), spawn.Value("d"), spawn.Queue()
    sim = bench_simulator()  # its clock runs on real time: windows start at multiples of 10 s
    try:
        procs = [
            spawn.Process(
                target=backfill,
                args=(
                    sim.url,
                    ledger_dir,
                    share,
                    symbol,
                    candles,
                    Path(tempfile.mkdtemp(dir=tmp)) / "klines.duckdb",
                    step,
                    window_start,
                    results,
                ),
            )
            for symbol in SYMBOLS
        ]
        for proc in procs:
            proc.start()
        step.wait()
        window_start.value = (time.time() // WEIGHT_WINDOW_S + 1) * WEIGHT_WINDOW_S
        if window_start.value - time.time() < 1:
            window_start.value += WEIGHT_WINDOW_S
        step.wait()
        step.wait()
        sim.stats.reset()  # the timed part starts now: count only its requests
        done = [results.get(timeout=600) for _ in procs]
        for proc in procs:
            proc.join()
        s = sim.stats.snapshot()
    finally:
        sim.stop()
    seconds = max(d[1] for d in done) - min(d[0] for d in done)
    fetched = sum(d[2] for d in done)
    statuses = {st for d in done for st in d[3]} - {"ok"}
    rate = fetched / seconds
    return [
        "on" if ledger else "off", share, fetched, seconds, rate,
        f"{rate / CEILING:.0%}", f"{rate / (CEILING * share):.0%}",
        s["requests_by_path"].get("/fapi/v1/klines", 0), s["count_429"], s["count_418"],
        f"{s['max_window_weight']} of {WEIGHT_LIMIT}"
        + (f" ({', '.join(sorted(statuses))})" if statuses else ""),
    ]  # fmt: skip


def acquire_cost(tmp: Path, n: int = 100_000) -> list[list[object]]:
    """µs per ``acquire``, and per ``acquire`` + ``observe`` of a header that brings nothing
    new (the usual response), with the ledger off and on."""
    rows: list[list[object]] = []
    for name, ledger in (("off", None), ("on", HostLedger(tmp / "cost.weight"))):
        budget = WeightBudget(limit=10**12, window_ms=3_600_000, share=1.0, ledger=ledger)
        acquire = timeit.timeit(lambda b=budget: b.acquire(1), number=n) / n
        both = timeit.timeit(lambda b=budget: (b.acquire(1), b.observe(1)), number=n) / n
        rows.append([name, f"{acquire * 1e6:.2f}", f"{both * 1e6:.2f}"])
    return rows


def run(windows: float = 2.0, shares: tuple[float, ...] = (0.8, 1.0)) -> list[list[object]]:
    with tempfile.TemporaryDirectory() as tmp:
        return [
            run_pair(ledger, share, windows, Path(tmp))
            for share in shares
            for ledger in (False, True)
        ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--windows", type=float, default=2.0)
    args = p.parse_args()
    title = f"Two processes, one IP, limit {LIMIT}: ceiling {CEILING:,.0f} candles/s"
    print_table(title, HEADERS, run(args.windows))
    print()
    with tempfile.TemporaryDirectory() as tmp:
        print_table("Cost of the weight budget per request", COST_HEADERS, acquire_cost(Path(tmp)))


if __name__ == "__main__":
    main()
