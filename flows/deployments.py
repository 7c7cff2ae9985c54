"""The deployments of ``prefect.yaml`` for ``klines serve``: one source of truth for both paths.

``prefect deploy --all`` reads prefect.yaml for the worker path; :func:`load_specs` reads the
same file so ``klines serve`` registers the same names, parameters, schedules and
concurrency limits in one long-lived process (Prefect's ``serve``).
"""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


@contextmanager
def local_server(host: str, port: int, startup_timeout: float = 180.0) -> Iterator[str]:
    """Reuse the Prefect server at ``host:port`` or start ``prefect server start`` there.

    Yields the API URL. A server started here is stopped on exit. Analytics stay off unless
    ``PREFECT_SERVER_ANALYTICS_ENABLED`` says otherwise.

    Raises:
        RuntimeError: the server exited or did not answer within ``startup_timeout``.
    """
    api = f"http://{host}:{port}/api"
    if api_healthy(api):
        yield api
        return
    env = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", **os.environ}
    env.pop("PREFECT_API_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)],
        env=env,
    )
    try:
        deadline = time.monotonic() + startup_timeout
        while not api_healthy(api):
            if proc.poll() is not None:
                raise RuntimeError(
                    f"prefect server start exited with {proc.returncode}; is port {port} taken?"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Prefect server on {host}:{port} did not start in time")
            time.sleep(0.5)
        yield api
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
