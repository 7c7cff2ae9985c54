"""End to end: a real Prefect server, ``prefect deploy`` from prefect.yaml, a process worker,
``prefect deployment run --param ...`` against the simulator, and the data in DuckDB."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import duckdb
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from prefect.settings import PREFECT_API_URL, temporary_settings

from simulator import Simulator
from tests.conftest import STORED_SQL, truth_rows
from tests.deploy.prefect_server import PREFECT, prefect_server, run_cli, wait_until

pytestmark = pytest.mark.slow
START = "2026-11-01T00:00:00Z"


async def _flow_run(api: str, run_id: str):
    with temporary_settings({PREFECT_API_URL: api}):
        async with get_client() as client:
            return await client.read_flow_run(run_id)


async def _evidence(api: str, run_id: str):
    with temporary_settings({PREFECT_API_URL: api}):
        async with get_client() as client:
            deployment = await client.read_deployment_by_name("ingest-klines/ingest-short")
            artifacts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
            )
            return deployment, artifacts


def test_a_deployed_ingest_runs_on_a_worker(tmp_path: Path, sim: Simulator) -> None:
    started = time.monotonic()
    home = tmp_path / "prefect-home"
    home.mkdir()
    db = tmp_path / "wh" / "klines.duckdb"
    with prefect_server(home) as (env, procs):
        api = env["PREFECT_API_URL"]
        run_cli(["work-pool", "create", "klines-process", "--type", "process"], env)
        run_cli(["--no-prompt", "deploy", "--name", "ingest-klines/ingest-short"], env)
        out = run_cli(
            [
                "deployment",
                "run",
                "ingest-klines/ingest-short",
                "--param",
                f"rest_url={sim.url}",
                "--param",
                f"db={db}",
                "--param",
                'symbols=["BTCUSDT"]',
                "--param",
                f"start={START}",
            ],
            env,
        )
        run_id = re.search(r"UUID:\s*([0-9a-f-]{36})", out).group(1)
        worker = procs.start(
            "worker", [*PREFECT, "worker", "start", "--pool", "klines-process", "--run-once"], env
        )

        def finished():
            run = asyncio.run(_flow_run(api, run_id))
            return run if run.state and run.state.is_final() else None

        try:
            run = wait_until(finished, 90, "the flow run to finish", every=1.0)
        except TimeoutError as exc:
            raise AssertionError(f"{exc}\n{procs.log('worker')}") from exc
        assert run.state.is_completed(), f"{run.state}\n{procs.log('worker')}"
        assert run.parameters["rest_url"] == sim.url and run.parameters["intervals"] == ["1m", "5m"]
        wait_until(lambda: worker.poll() is not None, 30, "the --run-once worker to exit")

        deployment, artifacts = asyncio.run(_evidence(api, run_id))
        assert [s.schedule.cron for s in deployment.schedules] == ["* * * * *"]
        assert deployment.work_pool_name == "klines-process"
        assert deployment.global_concurrency_limit.limit == 1
        assert deployment.concurrency_options.collision_strategy == "CANCEL_NEW"
        summary = [a for a in artifacts if a.key == "ingest-summary"]
        assert summary and summary[0].type == "table"
        assert "klines-coverage-ingest-short" in {a.key for a in artifacts}  # its own picture

    with duckdb.connect(str(db), read_only=True) as con:
        for interval in ("1m", "5m"):
            stored = [tuple(r) for r in con.execute(STORED_SQL, ["BTCUSDT", interval]).fetchall()]
            assert stored == truth_rows(sim.market, "BTCUSDT", interval, "2026-11-01T00:00:00")
        runs = con.execute("SELECT flow_run_id, status FROM ingest_runs").fetchall()
    assert runs == [(run_id, "ok")]
    assert time.monotonic() - started < 150
