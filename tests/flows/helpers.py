"""Run the real ``klines`` command in-process (its flow runs against the test harness)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from flows.cli import main
from simulator import Simulator


@dataclass
class Ran:
    code: int
    out: str
    err: str


def klines(*args: str, env: dict[str, str] | None = None) -> Ran:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return Ran(result.exit_code, result.stdout, result.stderr)


def ingest_args(sim: Simulator, db: Path, *args: str) -> tuple[str, ...]:
    """The command line ``ingest --db DB --rest-url SIM ARGS...``."""
    return ("ingest", "--db", str(db), "--rest-url", sim.url, *args)


def ingest(sim: Simulator, db: Path, *args: str, env: dict[str, str] | None = None) -> Ran:
    """``klines ingest --db DB --rest-url SIM ARGS...``."""
    return klines(*ingest_args(sim, db, *args), env=env)


def checksum(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None
