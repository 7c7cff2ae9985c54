"""Benchmark (e): peak RSS of a one-year, ten-symbol 1m archive backfill.

``klines ingest --source archive`` runs as a child process (the simulator stays in this
one, serving 120 monthly files generated from its truth); its peak RSS is the largest
``ru_maxrss`` among this process's waited-for children (RUSAGE_CHILDREN).

Run: ``uv run python -m bench.memory [--symbols 10] [--months 12]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from simulator import Market

from .common import bench_simulator, many_symbols, print_table

HEADERS = ("job", "candles", "seconds", "candles/s", "peak RSS (MiB)", "limit (MiB)")


def run(symbols: int = 10, months: int = 12) -> list[list]:
    market = Market(many_symbols(symbols))
    sim = bench_simulator(market)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "e.duckdb"
            env = {
                **os.environ,
                "KLINES_REST_URL": sim.url,
                "KLINES_ARCHIVE_URL": sim.url,
                "KLINES_DB": str(db),
            }
            first = 2026 * 12 + 9 - months  # months before October 2026 (0-based months)
            start = f"{first // 12}-{first % 12 + 1:02d}-01"
            cmd = [sys.executable, "-m", "cli", "ingest", "--symbols", ",".join(market.symbols),
                   "--intervals", "1m", "--start", start, "--end", "2026-10-01",
                   "--source", "archive"]  # fmt: skip
            t0 = time.perf_counter()
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            seconds = time.perf_counter() - t0
            if done.returncode != 0:
                raise RuntimeError(done.stdout[-2000:] + done.stderr[-2000:])
            peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            with duckdb.connect(str(db), read_only=True) as con:
                (n,) = con.execute(
                    "SELECT count(*) FROM klines WHERE source = 'archive'"
                ).fetchone()
    finally:
        sim.stop()
    label = f"klines ingest --source archive: {symbols} symbols × {months} months of 1m"
    return [[label, n, seconds, n / seconds, peak_mib, 1024]]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--symbols", type=int, default=10)
    p.add_argument("--months", type=int, default=12)
    args = p.parse_args()
    print_table("(e) bounded memory", HEADERS, run(args.symbols, args.months))


if __name__ == "__main__":
    main()
