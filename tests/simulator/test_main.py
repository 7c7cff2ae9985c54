"""``python -m simulator`` as a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import requests

from tests.simulator.conftest import NOW

ROOT = Path(__file__).resolve().parents[2]


def test_cli_prints_url_and_serves() -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "simulator", "--port", "0", "--freeze", "2026-11-02T00:07:30Z"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        _check_and_stop(proc)


def _check_and_stop(proc: subprocess.Popen[str]) -> None:
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        prefix = "simulator listening on http://127.0.0.1:"
        assert line.startswith(prefix) and line[len(prefix) :].isdigit()
        url = line.removeprefix("simulator listening on ")
        assert requests.get(f"{url}/fapi/v1/ping", timeout=5).json() == {}
        assert requests.get(f"{url}/fapi/v1/time", timeout=5).json() == {"serverTime": NOW}
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
