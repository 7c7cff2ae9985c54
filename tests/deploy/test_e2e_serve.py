"""End to end: ``klines serve`` starts a local Prefect server (API + UI), serves the
deployments of prefect.yaml, runs a triggered ingest, and stops its server on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import duckdb
import pytest
import requests
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL, temporary_settings

from simulator import Simulator
from tests.conftest import STORED_SQL, truth_rows
from tests.deploy.prefect_server import Processes, free_port, prefect_env, wait_until

pytestmark = pytest.mark.slow
EXPECTED = {
    "ingest-klines/ingest-short",
    "ingest-klines/ingest-long",
    "ws-liveness/ws-liveness",
    "audit-klines/audit-daily",
}


async def _deployments(api: str) -> dict[str, object]:
    with temporary_settings({PREFECT_API_URL: api}):
        async with get_client() as client:
            found = await client.read_deployments()
            flows = {f.id: f.name for f in await client.read_flows()}
            return {f"{flows[d.flow_id]}/{d.name}": d for d in found}


async def _trigger(api: str, deployment_id, parameters: dict) -> str:
    with temporary_settings({PREFECT_API_URL: api}):
        async with get_client() as client:
            run = await client.create_flow_run_from_deployment(deployment_id, parameters=parameters)
            return str(run.id)


async def _state(api: str, run_id: str):
    with temporary_settings({PREFECT_API_URL: api}):
        async with get_client() as client:
            return (await client.read_flow_run(run_id)).state


def test_klines_serve_runs_the_deployments(tmp_path: Path, sim: Simulator) -> None:
    home = tmp_path / "prefect-home"
    home.mkdir()
    db = tmp_path / "serve.duckdb"
    port = free_port()
    env = prefect_env(home, port)
    del env["PREFECT_API_URL"]  # `klines serve` must start (or reuse) its own server
    api = f"http://127.0.0.1:{port}/api"
    procs = Processes(home)
    try:
        serve = procs.start(
            "serve", [sys.executable, "-m", "cli", "serve", "--port", str(port)], env
        )

        def served():
            if serve.poll() is not None:
                raise AssertionError(procs.log("serve"))
            try:
                found = asyncio.run(_deployments(api))
            except Exception:
                return None
            return found if EXPECTED <= set(found) else None

        deployments = wait_until(served, 150, "klines serve to register its deployments", 1.0)
        assert set(deployments) == EXPECTED
        short = deployments["ingest-klines/ingest-short"]
        assert [s.schedule.cron for s in short.schedules] == ["* * * * *"]
        assert short.parameters == {
            "market": "usdm",
            "symbols": ["BTCUSDT", "ETHUSDT"],
            "intervals": ["1m", "5m"],
        }
        assert "Prefect UI: http://127.0.0.1:" in procs.log("serve")
        ui = requests.get(f"http://127.0.0.1:{port}/", timeout=10)
        assert ui.ok and "<html" in ui.text.lower()

        run_id = asyncio.run(
            _trigger(
                api,
                short.id,
                {
                    "rest_url": sim.url,
                    "db": str(db),
                    "symbols": ["ETHUSDT"],
                    "start": "2026-11-01T12:00:00Z",
                },
            )
        )
        state = wait_until(
            lambda: (s := asyncio.run(_state(api, run_id))) and s.is_final() and s,
            90,
            "the served flow run to finish",
            1.0,
        )
        assert state.is_completed(), f"{state}\n{procs.log('serve')}"

        os.kill(serve.pid, signal.SIGTERM)
        wait_until(lambda: serve.poll() is not None, 30, "klines serve to stop")
        wait_until(lambda: not _answers(api), 30, "the server it started to stop")
    finally:
        procs.stop_all()
    with duckdb.connect(str(db), read_only=True) as con:
        stored = [tuple(r) for r in con.execute(STORED_SQL, ["ETHUSDT", "5m"]).fetchall()]
    assert stored == truth_rows(sim.market, "ETHUSDT", "5m", "2026-11-01T12:00:00")


def _answers(api: str) -> bool:
    try:
        return requests.get(f"{api}/health", timeout=2).ok
    except requests.RequestException:
        return False
