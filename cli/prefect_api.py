"""The Prefect API a command's flow runs talk to, chosen before Prefect is imported.

Prefect fixes its client settings at ``import prefect``, so the ``klines`` command decides
here, first thing, and says which path it took:

1. ``PREFECT_API_URL``, from the environment or the active Prefect profile: that server.
2. A Prefect server of the same minor version answering on ``127.0.0.1:4200`` (``prefect
   server start``, ``klines serve``): reused without being told (a 2-4 ms probe).
3. Otherwise a temporary API: Prefect's own server app in a subprocess on a free loopback
   port, exactly as Prefect starts its temporary server, but started first thing, so it
   boots while this process imports its modules, and stopped when the command ends. Runs
   are kept in ``$PREFECT_HOME`` as with Prefect's own.

Settings chosen for the user unless they set them (environment or active profile):

- ``PREFECT_SERVER_ANALYTICS_ENABLED=false`` and ``DO_NOT_TRACK=1``: neither the server nor
  the client phones home. (The server's telemetry heartbeat also printed ``database is
  locked`` tracebacks into most first runs on a new ``PREFECT_HOME``.)
- For the temporary API only, ``PREFECT_SERVER_REGISTER_BLOCKS_ON_START=false`` and
  ``PREFECT_SERVER_MEMOIZE_BLOCK_AUTO_REGISTRATION=false``: the flows use no blocks, and
  registering them costs a second (it imports every installed collection, dask included).
  Migrations and the task-run recorder stay on: runs are recorded as always.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from importlib import metadata, util
from pathlib import Path

LOCAL_SERVER = "http://127.0.0.1:4200/api"
QUIET = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
TEMPORARY_ONLY = {
    "PREFECT_SERVER_REGISTER_BLOCKS_ON_START": "false",
    "PREFECT_SERVER_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false",
}
STARTUP_TIMEOUT_S = 180.0  # a new PREFECT_HOME migrates SQLite first; slow disks take long


class PrefectApiUnavailable(RuntimeError):
    """The temporary Prefect API did not start."""


@dataclass
class PrefectApi:
    """The API this process's flow runs use; ``temporary`` when it belongs to this command."""

    url: str
    found: str  # "configured", "running" or "temporary"
    note: str = ""
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def description(self) -> str:
        """One line for the terminal: which path this run takes."""
        if self.found == "temporary":
            return (
                "temporary Prefect API (runs kept in PREFECT_HOME; keep `prefect server start` "
                "running for faster runs and the UI)"
            )
        how = "configured" if self.found == "configured" else "found running"
        return f"using the Prefect server at {self.url} ({how})"

    def wait_ready(self, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
        """Block until the temporary API answers ``/health`` (no-op for other paths).

        Raises:
            PrefectApiUnavailable: the server exited, or did not answer in time.
        """
        if self.process is None:
            return
        deadline = time.monotonic() + timeout_s
        while not healthy(self.url, timeout_s=1.0):
            code = self.process.poll()
            if code is not None:
                raise PrefectApiUnavailable(
                    f"the temporary Prefect API exited with code {code} while starting; "
                    "rerun with --debug, or start one with `prefect server start`"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise PrefectApiUnavailable(
                    f"the temporary Prefect API did not start within {timeout_s:.0f} s; "
                    "start one with `prefect server start` and rerun"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        """Hand over the run's last logs and events, then stop a temporary API."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None and "prefect" in sys.modules:
            _drain_prefect_workers()
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def choose_api(env: MutableMapping[str, str] | None = None) -> PrefectApi | None:
    """Pick the Prefect API and set this process's Prefect defaults; ``None`` when Prefect
    is already imported (its settings are fixed: tests, or a second call)."""
    env = os.environ if env is None else env
    if "prefect" in sys.modules:
        return None
    profile = _active_profile(env)
    for name, value in QUIET.items():
        if name not in env and name not in profile:
            env[name] = value
    configured = env.get("PREFECT_API_URL") or profile.get("PREFECT_API_URL")
    if configured:
        return PrefectApi(configured, "configured")
    note = ""
    if healthy(LOCAL_SERVER):
        server, ours = server_version(LOCAL_SERVER), metadata.version("prefect")
        if server and server.split(".")[:2] == ours.split(".")[:2]:
            env["PREFECT_API_URL"] = LOCAL_SERVER
            return PrefectApi(LOCAL_SERVER, "running")
        note = (
            f"the Prefect server at {LOCAL_SERVER} runs {server or 'an unknown version'}, "
            f"this installation {ours}: not reused"
        )
    for name, value in TEMPORARY_ONLY.items():
        if name not in env and name not in profile:
            env[name] = value
    api = start_temporary_api(env)
    api.note = note
    env["PREFECT_API_URL"] = api.url
    # No "View at" link: this API serves no UI, and it is gone when the command ends.
    env.setdefault("PREFECT_UI_URL", "")
    return api


def start_temporary_api(env: Mapping[str, str]) -> PrefectApi:
    """Start Prefect's server app on a free loopback port, without waiting for it.

    The process dies with this one (Linux), and the terminal's Ctrl-C reaches only this
    process, which stops it in order: so neither a kill nor an interrupt leaves it behind
    or makes it print tracebacks.
    """
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    prefect_dir = Path(util.find_spec("prefect").origin).parent  # type: ignore[arg-type]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--app-dir",
            str(prefect_dir.parent),
            "--factory",
            "prefect.server.api.server:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "error",
            "--lifespan",
            "on",
        ],
        env={
            **env,
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
        },
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
    )
    return PrefectApi(url, "temporary", process=process)


def healthy(api_url: str, timeout_s: float = 0.25) -> bool:
    """Whether a Prefect API answers ``GET /health`` with 200."""
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=timeout_s) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


def server_version(api_url: str) -> str | None:
    """The Prefect version a server reports (``/admin/version``), or None."""
    try:
        with urllib.request.urlopen(f"{api_url}/admin/version", timeout=1.0) as response:
            return str(response.read().decode().strip().strip('"'))
    except (OSError, urllib.error.URLError, UnicodeDecodeError):
        return None


def _active_profile(env: Mapping[str, str]) -> dict[str, str]:
    """The settings of the active Prefect profile (``$PREFECT_HOME/profiles.toml``)."""
    home = Path(env.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()
    path = Path(env.get("PREFECT_PROFILES_PATH") or home / "profiles.toml").expanduser()
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    name = env.get("PREFECT_PROFILE") or document.get("active") or "ephemeral"
    profile = (document.get("profiles") or {}).get(name) or {}
    return {str(k): str(v) for k, v in profile.items()}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the parent dies (``prctl(PR_SET_PDEATHSIG)``)."""
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def _drain_prefect_workers() -> None:
    """Send the logs and events still queued in this process before the API goes away."""
    try:
        from prefect.events.worker import EventsWorker
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=5)
        EventsWorker.drain_all(timeout=5)
    except Exception:  # noqa: BLE001  (a lost log line must not fail the command)
        pass
