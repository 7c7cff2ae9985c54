"""The deployments of ``prefect.yaml`` for ``klines serve``: one source of truth for both paths.

``prefect deploy --all`` reads prefect.yaml for the worker path; :func:`load_specs` reads the
same file so ``klines serve`` registers the same names, parameters, schedules and
concurrency limits in one long-lived process (Prefect's ``serve``).
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import requests
import yaml

PROJECT_DIR = Path(__file__).resolve().parents[1]
DEFAULT_FILE = PROJECT_DIR / "prefect.yaml"


@dataclass(frozen=True)
class ScheduleSpec:
    """One schedule entry: a cron line in a time zone (the only kind prefect.yaml uses)."""

    cron: str
    timezone: str = "UTC"


@dataclass(frozen=True)
class DeploymentSpec:
    """One entry of ``deployments:`` in prefect.yaml."""

    name: str
    entrypoint: str  # path/to/file.py:flow_function
    description: str = ""
    tags: tuple[str, ...] = ()
    parameters: dict[str, Any] = field(default_factory=dict)
    schedules: tuple[ScheduleSpec, ...] = ()
    concurrency_limit: int | None = None
    collision_strategy: str | None = None

    @property
    def module(self) -> str:
        """``flows/ingest.py:ingest_klines`` -> ``flows.ingest``."""
        path = self.entrypoint.rsplit(":", 1)[0]
        return path.removesuffix(".py").replace("/", ".")

    @property
    def function(self) -> str:
        return self.entrypoint.rsplit(":", 1)[1]


def load_specs(path: str | os.PathLike[str] = DEFAULT_FILE) -> list[DeploymentSpec]:
    """Parse prefect.yaml's deployments (pure: no Prefect, no imports of flows)."""
    doc = yaml.safe_load(Path(path).read_text())
    specs = []
    for entry in doc.get("deployments") or []:
        limit = entry.get("concurrency_limit")
        strategy = None
        if isinstance(limit, dict):
            limit, strategy = limit.get("limit"), limit.get("collision_strategy")
        specs.append(
            DeploymentSpec(
                name=entry["name"],
                entrypoint=entry["entrypoint"],
                description=entry.get("description") or "",
                tags=tuple(entry.get("tags") or ()),
                parameters=dict(entry.get("parameters") or {}),
                schedules=tuple(
                    ScheduleSpec(s["cron"], s.get("timezone") or "UTC")
                    for s in entry.get("schedules") or []
                ),
                concurrency_limit=limit,
                collision_strategy=strategy,
            )
        )
    return specs


def build_deployments(specs: list[DeploymentSpec]) -> tuple[list[Any], list[str]]:
    """``RunnerDeployment`` objects for ``prefect.serve``, and one note per spec left out
    because its flow cannot be imported (for example a flow not installed yet)."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig
    from prefect.schedules import Cron

    deployments, skipped = [], []
    for spec in specs:
        try:
            flow = getattr(importlib.import_module(spec.module), spec.function)
        except (ImportError, AttributeError) as exc:
            skipped.append(f"{spec.name}: {spec.entrypoint} cannot be loaded ({exc})")
            continue
        limit: Any = spec.concurrency_limit
        if limit is not None and spec.collision_strategy:
            limit = ConcurrencyLimitConfig(limit=limit, collision_strategy=spec.collision_strategy)
        deployments.append(
            flow.to_deployment(
                name=spec.name,
                description=spec.description or None,
                tags=list(spec.tags),
                parameters=spec.parameters,
                schedules=[Cron(s.cron, timezone=s.timezone) for s in spec.schedules],
                concurrency_limit=limit,
                paused=False,
            )
        )
    return deployments, skipped


def api_healthy(api_url: str, timeout: float = 2.0) -> bool:
    """Whether a Prefect API answers ``/health`` at ``api_url`` (``http://host:port/api``)."""
    try:
        return requests.get(f"{api_url.rstrip('/')}/health", timeout=timeout).ok
    except requests.RequestException:
        return False


@dataclass(frozen=True)
class LocalServer:
    """The Prefect server ``klines serve`` talks to.

    ``started`` says whether :func:`local_server` started it (and stops it on exit);
    ``log`` is where the output of a server it started goes (``None``: the terminal).
    """

    api_url: str
    started: bool = False
    log: Path | None = None


def server_url(host: str, port: int) -> str:
    """``http://host:port/api`` (an IPv6 host in brackets)."""
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}/api"


def server_env(host: str, port: int, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment of the ``prefect server start`` that :func:`local_server` starts.

    ``--host``/``--port`` alone do not reach the server's settings: its UI would ask
    ``/ui-settings`` for the API and be told the default ``127.0.0.1:4200``, and show
    "Unable to connect to Prefect server" on any other port. So the server is told its own
    address (``PREFECT_SERVER_API_HOST``/``PORT``, and ``PREFECT_UI_API_URL``, which
    ``/ui-settings`` answers, unless the user set it, e.g. behind a proxy). The client's
    ``PREFECT_API_URL`` is dropped (the server would hand it to the UI instead), prompts are
    off (on a terminal ``prefect server start`` asks whether to change the profile's
    ``PREFECT_API_URL``), and analytics stay off unless the environment says otherwise.
    """
    env = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", **environ}
    env.pop("PREFECT_API_URL", None)
    env.update(
        PREFECT_SERVER_API_HOST=host,
        PREFECT_SERVER_API_PORT=str(port),
        PREFECT_CLI_PROMPT="false",
    )
    if not (env.get("PREFECT_UI_API_URL") or env.get("PREFECT_SERVER_UI_API_URL")):
        env["PREFECT_UI_API_URL"] = server_url(host, port)
    return env


def server_log_path(port: int) -> Path:
    """Where the output of a server started on ``port`` goes: ``$PREFECT_HOME``."""
    from prefect.settings import PREFECT_HOME

    return Path(PREFECT_HOME.value()) / f"prefect-server-{port}.log"


@contextmanager
def local_server(
    host: str, port: int, startup_timeout: float = 180.0, log: Path | None = None
) -> Iterator[LocalServer]:
    """Reuse the Prefect server at ``host:port`` or start ``prefect server start`` there.

    A server started here runs in a session of its own, so a Ctrl-C in the terminal
    reaches only the caller, which then stops it (on leaving the block: SIGTERM, a
    graceful shutdown). Its output goes to ``log`` (rewritten), or to the caller's
    stdout/stderr when ``log`` is ``None``. Its environment: :func:`server_env`.

    Raises:
        RuntimeError: the server exited or did not answer within ``startup_timeout``
            (the message quotes the end of ``log``).
    """
    api = server_url(host, port)
    if api_healthy(api):
        yield LocalServer(api)
        return
    out: IO[bytes] | None = None
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        out = log.open("wb")
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start"]
            + ["--host", host, "--port", str(port)],
            env=server_env(host, port, os.environ),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT if out is not None else None,
            start_new_session=True,
        )
    except BaseException:
        if out is not None:
            out.close()
        raise
    try:
        deadline = time.monotonic() + startup_timeout
        while not api_healthy(api):
            if proc.poll() is not None:
                raise RuntimeError(
                    f"prefect server start exited with {proc.returncode}; is port {port} "
                    f"taken?{_tail(log)}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the Prefect server on {host}:{port} did not start in "
                    f"{startup_timeout:.0f} s{_tail(log)}"
                )
            time.sleep(0.5)
        yield LocalServer(api, started=True, log=log)
    finally:
        stop_server(proc)
        if out is not None:
            out.close()


def stop_server(proc: subprocess.Popen[bytes], grace: float = 20.0) -> None:
    """SIGTERM (uvicorn's graceful shutdown), then SIGKILL after ``grace`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _tail(log: Path | None, lines: int = 5) -> str:
    if log is None or not log.is_file():
        return ""
    last = log.read_text(errors="replace").strip().splitlines()[-lines:]
    return f" (log {log}: " + " / ".join(line.strip() for line in last) + ")" if last else ""
