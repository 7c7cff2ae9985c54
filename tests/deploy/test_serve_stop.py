"""``klines serve`` on a port of its own, stopped the way a terminal stops it: Ctrl-C sends
SIGINT to the whole foreground process group."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest
import requests

from tests.deploy.prefect_server import Processes, free_port, prefect_env, wait_until

pytestmark = pytest.mark.slow


def test_ctrl_c_stops_serve_and_its_server_quietly_and_exits_0(tmp_path: Path) -> None:
    home = tmp_path / "prefect-home"  # fresh: nothing from an earlier server
    home.mkdir()
    port = free_port()
    env = prefect_env(home, port)
    for name in ("PREFECT_API_URL", "PREFECT_SERVER_API_HOST", "PREFECT_SERVER_API_PORT"):
        del env[name]  # `klines serve --port` alone must give its server the address
    procs = Processes(tmp_path)
    try:
        serve = procs.start(
            "serve", [sys.executable, "-m", "cli", "serve", "--port", str(port)], env
        )

        def serving() -> bool:
            if serve.poll() is not None:
                raise AssertionError(procs.log("serve"))
            return "being served and polling" in procs.log("serve")

        wait_until(serving, 150, "klines serve to serve its deployments")
        settings = requests.get(f"http://127.0.0.1:{port}/ui-settings", timeout=10).json()
        assert settings["api_url"] == f"http://127.0.0.1:{port}/api"  # the UI's API is this one
        server_log = home / f"prefect-server-{port}.log"
        assert f"Prefect server log: {server_log}" in procs.log("serve")

        os.killpg(serve.pid, signal.SIGINT)  # what Ctrl-C in its terminal does
        wait_until(lambda: serve.poll() is not None, 60, "klines serve to stop")
    finally:
        procs.stop_all()
    out = procs.log("serve")
    assert serve.returncode == 0, out
    assert f"stopped the Prefect server on 127.0.0.1:{port}" in out
    assert "Traceback" not in out and "ERROR" not in out, out
    assert not _answers(port)
    assert (
        f"dashboard at http://127.0.0.1:{port}" in server_log.read_text()
    )  # its output went there


def _answers(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/api/health", timeout=2).ok
    except requests.RequestException:
        return False
