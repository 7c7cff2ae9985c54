"""Benchmark (a): REST backfill against the simulator's weight limit.

The project's pipeline (concurrent pages, weight budget, parse, validate, upsert) at page
limits 99, 499, 1000 and 1500, next to a naive sequential loop (``startTime`` paging, one
request at a time, sleeping ``Retry-After`` on 429, as peer tools do) at 1500 and 1000.
Each job first spends one weight window untimed, then times ``--windows`` windows' worth
of candles at the ceiling (so a fresh window's burst does not flatter the rate).
Ceiling = limit / weight(limit) × 40 weight/s.

Run: ``uv run python -m bench.rest_backfill [--windows 2]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import requests

from exchange.config import RestConfig
from exchange.markets import MARKETS
from exchange.rest import RestClient
from pipeline.plan import SeriesPlan
from pipeline.series import ingest_series
from warehouse.store import Warehouse

from .common import WEIGHT_LIMIT, WEIGHT_WINDOW_S, bench_simulator, ms, print_table

DEFAULT_PAGE_LIMIT = MARKETS["usdm"].page_limit
klines_weight = MARKETS["usdm"].klines_weight.weight

MINUTE = 60_000
HEADERS = (
    "job", "limit", "candles", "seconds", "candles/s", "ceiling/s", "share of ceiling",
    "requests", "429s", "418s",
)  # fmt: skip


def ceiling(limit: int) -> float:
    return limit / klines_weight(limit) * WEIGHT_LIMIT / WEIGHT_WINDOW_S


def ours(url: str, limit: int, candles: int, start_ms: int, db: Path) -> tuple[float, int]:
    client = RestClient(RestConfig(base_url=url, page_limit=limit, backoff_base=0.05))
    client.exchange_info()
    server_ms = client.server_time_ms()
    warehouse = Warehouse(db)
    warm = int(WEIGHT_LIMIT * 0.8 / klines_weight(limit)) * limit  # one window's share
    for lo, hi, _timed in ((start_ms, start_ms + warm * MINUTE, False),
                          (start_ms + warm * MINUTE, start_ms + (warm + candles) * MINUTE, True)):  # fmt: skip
        before = client.stats.requests
        t0 = time.monotonic()
        result = ingest_series(
            SeriesPlan("usdm", "BTCUSDT", "1m", lo, hi), client, warehouse,
            run_id="bench", server_ms=server_ms, workers=client.config.workers,
        )  # fmt: skip
        assert result.status == "ok", result
    return time.monotonic() - t0, client.stats.requests - before


def naive(url: str, limit: int, candles: int, start_ms: int) -> tuple[float, int, int]:
    session = requests.Session()
    warm = WEIGHT_LIMIT // klines_weight(limit) * limit
    cursor, end = start_ms, start_ms + (warm + candles) * MINUTE
    got = reqs = c429 = 0
    t0 = time.monotonic()
    while cursor < end:
        params = {"symbol": "ETHUSDT", "interval": "1m", "startTime": cursor, "limit": limit}
        r = session.get(f"{url}/fapi/v1/klines", params=params, timeout=30)
        if r.status_code == 429:
            c429 += 1
            time.sleep(float(r.headers.get("Retry-After", "1")))
            continue
        r.raise_for_status()
        rows = r.json()
        cursor = rows[-1][0] + 1 if rows else end
        if cursor >= start_ms + warm * MINUTE and got == 0:
            t0, reqs, c429 = time.monotonic(), 0, 0  # timing starts after the warm-up
            got = 1
        reqs += 1
    return time.monotonic() - t0, reqs, c429


def job_candles(limit: int, windows: float) -> int:
    return int(windows * WEIGHT_WINDOW_S * ceiling(limit))


def run(windows: float = 2.0, limits: tuple[int, ...] = (99, 499, 1000, 1500)) -> list[list]:
    rows: list[list] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, limit in enumerate(limits):
            candles = job_candles(limit, windows)
            sim = bench_simulator()
            try:
                seconds, reqs = ours(
                    sim.url, limit, candles, ms(2025, 1 + i), Path(tmp) / f"{i}.duckdb"
                )
                s = sim.stats.snapshot()
            finally:
                sim.stop()
            default = " (default)" if limit == DEFAULT_PAGE_LIMIT else ""
            rows.append([f"pipeline{default}", limit, candles, seconds, candles / seconds,
                         ceiling(limit), f"{candles / seconds / ceiling(limit):.0%}", reqs,
                         s["count_429"], s["count_418"]])  # fmt: skip
        for limit in (1500, 1000):
            candles = job_candles(limit, windows)
            sim = bench_simulator()
            try:
                seconds, reqs, _ = naive(sim.url, limit, candles, ms(2025, 1))
                s = sim.stats.snapshot()
            finally:
                sim.stop()
            rows.append(["naive sequential", limit, candles, seconds, candles / seconds,
                         ceiling(limit), f"{candles / seconds / ceiling(limit):.0%}", reqs,
                         s["count_429"], s["count_418"]])  # fmt: skip
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--windows", type=float, default=2.0)
    args = p.parse_args()
    print_table("(a) REST backfill, 1m candles", HEADERS, run(args.windows))


if __name__ == "__main__":
    main()
