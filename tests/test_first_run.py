"""A user's first runs: the ``klines`` command in its own process, a new ``PREFECT_HOME``, and
no Prefect or project variable set, prints no traceback and no ERROR line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cli.prefect_api import LOCAL_SERVER, healthy
from simulator import Simulator

ROOT = Path(__file__).resolve().parents[1]
ERROR_LINE = re.compile(r"\bERROR\b|Traceback|Exception in ASGI")


@pytest.fixture(scope="module")
def prefect_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("new-prefect-home")


def user_klines(*args: str, home: Path, ledger: Path) -> subprocess.CompletedProcess[str]:
    """``klines ARGS`` as a user runs it: only PREFECT_HOME is theirs (and, so tests on
    reused simulator ports do not share it, the weight ledger's folder)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "KLINES_"))}
    env.pop("DO_NOT_TRACK", None)
    env.update(PREFECT_HOME=str(home), KLINES_WEIGHT_LEDGER=str(ledger))
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_first_ingest_is_quiet(
    sim: Simulator, db_path: Path, prefect_home: Path, tmp_path: Path
) -> None:
    done = user_klines(
        "ingest",
        "--db",
        str(db_path),
        "--rest-url",
        sim.url,
        "--symbols",
        "BTCUSDT",
        "--intervals",
        "1h",
        "--start",
        "2026-11-01",
        home=prefect_home,
        ledger=tmp_path,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert [line for line in output.splitlines() if ERROR_LINE.search(line)] == []
    path = "using the Prefect server at" if healthy(LOCAL_SERVER) else "temporary Prefect API"
    assert path in done.stderr
    assert "Finished in state Completed()" in done.stderr


@pytest.mark.slow  # a second fresh process; the catalogue covers the message in-process
def test_an_unknown_symbol_is_one_line_with_no_traceback(
    sim: Simulator, db_path: Path, prefect_home: Path, tmp_path: Path
) -> None:
    done = user_klines(
        "ingest",
        *("--db", str(db_path), "--rest-url", sim.url),
        *("--symbols", "NOPEUSDT", "--intervals", "1m"),
        home=prefect_home,
        ledger=tmp_path,
    )
    assert done.returncode == 2
    assert [line for line in done.stderr.splitlines() if ERROR_LINE.search(line)] == []
    assert done.stderr.strip().splitlines()[-1] == (
        "error: unknown symbol NOPEUSDT: not listed in /fapi/v1/exchangeInfo; "
        "check the spelling (e.g. BTCUSDT)"
    )
    assert not db_path.exists()
