"""Benchmark (b): the local pipeline on 1M candles already in memory as raw REST bodies.

Parse (DuckDB ``from_json``, exact DECIMAL casts), validate (pandera), upsert (one
transaction per batch of 200 pages, the ingest's batch size) into a fresh warehouse file.

Run: ``uv run python -m bench.pipeline [--candles 1000000]``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from simulator import Market
from warehouse.parse import parse_pages
from warehouse.schema import validate_batch
from warehouse.store import Warehouse

from .common import NOW_MS, ms, print_table

HEADERS = ("stage", "seconds", "candles/s", "target")
PAGES_PER_BATCH = 200


def bodies(candles: int, limit: int = 499) -> list[str]:
    market, out, cursor, n = Market(), [], ms(2024, 6), 0
    while n < candles:
        rows = market.klines("BTCUSDT", "1m", cursor, cursor + limit * 60_000 - 1, NOW_MS, limit)
        out.append(json.dumps(rows, separators=(",", ":")))
        cursor += limit * 60_000
        n += len(rows)
    return out


def run(candles: int = 1_000_000) -> list[list]:
    pages = bodies(candles)
    n = 0
    spent = {"parse": 0.0, "validate": 0.0, "upsert": 0.0}
    with tempfile.TemporaryDirectory() as tmp:
        warehouse = Warehouse(Path(tmp) / "b.duckdb")
        t0 = time.perf_counter()
        for first in range(0, len(pages), PAGES_PER_BATCH):
            a = time.perf_counter()
            batch = parse_pages(pages[first : first + PAGES_PER_BATCH])
            b = time.perf_counter()
            checked = validate_batch(batch, "1m")
            c = time.perf_counter()
            lo = int(batch["open_time_ms"].iloc[0])
            hi = int(batch["open_time_ms"].iloc[-1]) + 60_000
            warehouse.write_batch(
                market="usdm", symbol="BTCUSDT", interval="1m", valid=checked.valid,
                rejected=[], source="rest", run_id="bench", expected=(lo, hi),
            )  # fmt: skip
            d = time.perf_counter()
            spent["parse"] += b - a
            spent["validate"] += c - b
            spent["upsert"] += d - c
            n += len(batch)
        total = time.perf_counter() - t0
    rows = [[stage, s, n / s, ""] for stage, s in spent.items()]
    rows.append([f"all ({n:,} candles)", total, n / total, "≥ 150,000/s"])
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--candles", type=int, default=1_000_000)
    print_table("(b) local pipeline: parse, validate, upsert", HEADERS, run(p.parse_args().candles))


if __name__ == "__main__":
    main()
