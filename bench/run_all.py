"""Every benchmark in one run, one combined table (each figure next to its limit).

Run: ``uv run python -m bench.run_all [--quick]`` (``--quick``: smaller jobs, same shape).
"""

from __future__ import annotations

import argparse

from . import (
    archive_backfill,
    incremental,
    many_symbols,
    memory,
    pipeline,
    rest_backfill,
    startup,
    two_markets,
)
from .common import print_table

HEADERS = ("bench", "job", "figure", "limit / ceiling (same run)", "share", "notes")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    quick = p.parse_args().quick
    rows: list[list] = []
    for r in rest_backfill.run(windows=1.0 if quick else 2.0):
        rows.append(["(a) REST", f"{r[0]}, limit {r[1]:,}", f"{r[4]:,.0f} candles/s",
                     f"{r[5]:,.0f} candles/s", r[6], f"{r[7]} requests, 429s {r[8]}, 418s {r[9]}"])  # fmt: skip
    for r in pipeline.run(250_000 if quick else 1_000_000):
        rows.append(
            ["(b) pipeline", r[0], f"{r[2]:,.0f} candles/s", r[3] or "", "", f"{r[1]:.2f} s"]
        )
    archive = archive_backfill.run(("daily", "monthly"), 2 if quick else 8, 90, 2 if quick else 4)
    for ours, _, ceiling in (result.rows() for result in archive.jobs):
        rows.append(["(c) archive", ours[0], f"{ours[3]:,.0f} candles/s",
                     f"{ceiling[3]:,.0f} candles/s (DuckDB read_csv)", ours[4],
                     f"target {ours[5]}; {ours[6]}"])  # fmt: skip
    for size in archive.sizes:
        rows.append(["(c) archive", size[0], f"{size[3]:,.0f} MiB per million candles", "", "",
                     f"{size[2]:,.0f} MiB for {size[1]:,} candles; {size[4]}"])  # fmt: skip
    (d,) = incremental.run(100)
    rows.append(["(d) incremental", f"{d[1]} series, {d[2]} new candles", f"{d[4]:.1f} s",
                 "5 s", f"{d[4] / 5:.0%}", f"{d[3]} requests; wall {d[5]:.1f} s"])  # fmt: skip
    (e,) = memory.run(10 if not quick else 2, 12 if not quick else 2)
    rows.append(["(e) memory", e[0], f"{e[4]:,.0f} MiB peak RSS", "1,024 MiB",
                 f"{e[4] / 1024:.0%}", f"{e[1]:,} candles in {e[2]:.0f} s"])  # fmt: skip
    for f in many_symbols.run(100 if quick else 300):
        rows.append(["(f) many symbols", f"{f[1]} symbols × 1m, {f[2]} new candles; window {f[0]}",
                     f"{f[7]:.1f} s", "20 s", f"{f[7] / 20:.0%}",
                     f"{f[3]} requests, weight {f[4]} of {f[5]:,} ({f[6]}); wall {f[9]:.1f} s; "
                     f"peak RSS {f[10]:.0f} MiB"])  # fmt: skip
    for g in startup.run(2 if quick else 3):
        rows.append(["(g) start-up", f"{g[0]} ({g[1]})", f"{g[2]:.1f} s", g[4], g[5],
                     f"rounds {g[3]}"])  # fmt: skip
    for h in two_markets.run(30 if quick else 120):
        rows.append(["(h) two markets", f"{h[0]}, BTCUSDT 1m, {h[1]:,} candles",
                     f"{h[3]:,.0f} candles/s", f"{h[7]:,.0f} candles/s", h[8],
                     f"flow {h[2]:.1f} s ({h[4]}); {h[5]} requests, weight {h[6]}"])  # fmt: skip
    print()
    print_table("All benchmarks (one run)", HEADERS, rows)


if __name__ == "__main__":
    main()
