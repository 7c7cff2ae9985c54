"""Separate processes on one host, hammering the simulator, stay within one allowance."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from simulator import Market, Simulator

ROOT = Path(__file__).resolve().parents[2]
LIMIT, SHARE = 40, 0.5  # per 1 s window: an allowance of 20, sent by 2 × 16 threads
ALLOWANCE = int(LIMIT * SHARE)


@pytest.fixture
def running_sim(market: Market) -> Iterator[Simulator]:
    """A simulator on a running clock (windows roll), 1 s windows, 30 ms latency."""
    with Simulator(market, weight_limit=LIMIT, weight_window_s=1, ban_seconds=5) as sim:
        sim.faults.update(latency_ms=30)
        yield sim


def hammer_together(sim: Simulator, ledger: str, requests: int = 24) -> dict[str, Any]:
    """Two processes send ``requests`` klines requests each, starting at once; the
    simulator's stats of that burst."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.exchange.hammer", sim.url, ledger, str(SHARE)]
            + [str(requests), "16"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    sim.stats.reset()
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert json.loads(out) == {"pages": requests}
    return sim.stats.snapshot()


def test_processes_sharing_the_ledger_stay_within_one_allowance_together(
    running_sim: Simulator, tmp_path: Path
) -> None:
    stats = hammer_together(running_sim, str(tmp_path))
    assert stats["count_429"] == stats["count_418"] == 0
    assert stats["max_window_weight"] <= ALLOWANCE


def test_without_the_ledger_the_same_processes_use_more_than_the_allowance(
    running_sim: Simulator,
) -> None:
    stats = hammer_together(running_sim, "off")
    assert stats["max_window_weight"] > ALLOWANCE
