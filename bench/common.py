"""Shared pieces of the benchmarks: the simulator setup and the table printer."""

from __future__ import annotations

import calendar
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from simulator import Market, Simulator, SymbolSpec

NOW_MS = 1793578050000  # 2026-11-02T00:07:30Z
# Binance's 2,400 weight per minute, scaled down to a 10 s window (the same rate: 40/s).
WEIGHT_LIMIT, WEIGHT_WINDOW_S = 400, 10
LATENCY_MS, JITTER_MS = 40.0, 10.0


def ms(year: int, month: int, day: int = 1) -> int:
    return calendar.timegm((year, month, day, 0, 0, 0)) * 1000


def bench_simulator(market: Market | None = None, frozen_ms: int | None = None) -> Simulator:
    """A started simulator: 40 ± 10 ms latency, 400 weight per 10 s.

    The clock runs (weight windows roll over only on a running clock) unless ``frozen_ms``.
    """
    sim = Simulator(
        market or Market(),
        weight_limit=WEIGHT_LIMIT,
        weight_window_s=WEIGHT_WINDOW_S,
        frozen_ms=frozen_ms,
        ban_seconds=30,
    )
    sim.faults.update(latency_ms=LATENCY_MS, latency_jitter_ms=JITTER_MS)
    sim.archive._cache_files = 4096  # benchmarks fetch files once, then time from the cache
    return sim.start()


@contextmanager
def simulator_process(
    *extra: str,
    weight_limit: int = WEIGHT_LIMIT,
    weight_window_s: int = WEIGHT_WINDOW_S,
    latency_ms: float = LATENCY_MS,
    jitter_ms: float = JITTER_MS,
) -> Iterator[str]:
    """A simulator in its own process (as a remote server would be), with the benchmarks'
    latency and weight window unless told otherwise; yields its URL. ``extra``: more
    ``python -m simulator`` options, e.g. ``--universe full``.

    Serving megabytes of archive files from a thread of the measured process would take
    that process's CPU and interpreter lock, which no real archive server does.
    """
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "simulator",
            "--latency-ms", str(latency_ms), "--latency-jitter-ms", str(jitter_ms),
            "--weight-limit", str(weight_limit), "--weight-window-s", str(weight_window_s),
            *extra,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"listening on (\S+)", line)
        if match is None:
            raise RuntimeError(f"the simulator did not start: {line!r}")
        yield match[1]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def many_symbols(n: int) -> list[SymbolSpec]:
    return [SymbolSpec(f"S{i:03d}USDT", ms(2024, 1), "100", "0.01", "0.001") for i in range(n)]


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Print (and return) a Markdown table."""
    cells = [[_fmt(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    lines = [
        f"### {title}",
        "",
        "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
        *(
            "| " + " | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) + " |"
            for r in cells
        ),
    ]
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:,.1f}" if abs(v) < 100 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)
