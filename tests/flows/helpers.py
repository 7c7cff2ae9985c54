"""Run the real ``klines`` command in-process (its flow runs against the test harness)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from cli.main import main
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


def newest_flow_run_log(flow_name: str) -> list[str]:
    """The log lines of the newest run of ``flow_name``, as the Prefect API keeps them."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        LogFilter,
        LogFilterFlowRunId,
    )
    from prefect.client.schemas.sorting import FlowRunSort, LogSort
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)
    with get_client(sync_client=True) as client:
        (run,) = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])),
            sort=FlowRunSort.START_TIME_DESC,
            limit=1,
        )
        logs = client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])),
            sort=LogSort.TIMESTAMP_ASC,
        )
    return [log.message for log in logs]


def checksum(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None
