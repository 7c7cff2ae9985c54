"""A real ``prefect server start`` on loopback for end-to-end tests, and the CLI beside it.

Everything runs with a temporary ``PREFECT_HOME`` (so SQLite lives there), analytics off
and the given port; every process is started in its own session and stopped by its id.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import requests

REPO = Path(__file__).resolve().parents[2]
PREFECT = [sys.executable, "-m", "prefect"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], object], timeout: float, what: str, every: float = 0.5):
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def prefect_env(home: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "KLINES_"))}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_API_URL=f"http://127.0.0.1:{port}/api",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_API_HOST="127.0.0.1",
        PREFECT_SERVER_API_PORT=str(port),
        PREFECT_SERVER_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{home}/prefect.db",
        # runs come only from `prefect deployment run`, never from the cron schedules
        PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="false",
        PREFECT_WORKER_QUERY_SECONDS="1",
        PREFECT_LOGGING_LEVEL="INFO",
        KLINES_HTTP_BACKOFF="0.01",
        KLINES_WEIGHT_LEDGER=os.environ.get("KLINES_WEIGHT_LEDGER", "off"),
    )
    return env


class Processes:
    """Child processes of one test, each in its own session, stopped in reverse order."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[tuple[subprocess.Popen[bytes], IO[bytes]]] = []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            args, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.started.append((proc, log))
        return proc

    def stop_all(self, grace: float = 10.0) -> None:
        for proc, log in reversed(self.started):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(grace)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(grace)
            log.close()

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")


def run_cli(args: list[str], env: dict[str, str], timeout: float = 120) -> str:
    """One ``prefect`` CLI call from the repository root; its output, or an error with it."""
    done = subprocess.run(
        [*PREFECT, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        start_new_session=True,
    )
    if done.returncode != 0:
        raise AssertionError(
            f"prefect {' '.join(args)} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
        )
    return done.stdout + done.stderr


@contextmanager
def prefect_server(home: Path, timeout: float = 150) -> Iterator[tuple[dict[str, str], Processes]]:
    """Start ``prefect server start`` on a free loopback port; yield its env and the process set."""
    port = free_port()
    env = prefect_env(home, port)
    procs = Processes(home)
    try:
        server = procs.start(
            "server", [*PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)], env
        )

        def healthy() -> bool:
            if server.poll() is not None:
                raise AssertionError(f"prefect server exited:\n{procs.log('server')}")
            try:
                return requests.get(f"http://127.0.0.1:{port}/api/health", timeout=2).ok
            except requests.RequestException:
                return False

        wait_until(healthy, timeout, "the Prefect server's /api/health")
        yield env, procs
    finally:
        procs.stop_all()
