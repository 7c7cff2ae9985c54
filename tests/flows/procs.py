"""Run ``klines`` as a separate process (for kills, locks and concurrent writers).

Child processes use the session's Prefect test server instead of starting their own.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

from prefect.settings import PREFECT_API_URL

ROOT = Path(__file__).resolve().parents[2]


def child_env(own_server: bool = False, **extra: str) -> dict[str, str]:
    """Environment of a child ``klines``: the session's Prefect API, or (``own_server``)
    a temporary one of its own, as a user's command line would start."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KLINES_", "PREFECT_API"))}
    if not own_server:
        env["PREFECT_API_URL"] = str(PREFECT_API_URL.value())
    env.update(
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        KLINES_HTTP_BACKOFF="0.01",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class Proc:
    """A ``klines`` child process whose stderr lines can be awaited."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "flows", *args],
            cwd=ROOT,
            env=env or child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group: a kill takes its children too
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.err: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.popen.stderr is not None
        for line in self.popen.stderr:
            self.err.append(line)
            self.lines.put(line)
        self.lines.put("")

    def wait_for_line(self, text: str, timeout: float = 60.0) -> str:
        """Block until a stderr line contains ``text``; fail if the process ends first."""
        while True:
            line = self.lines.get(timeout=timeout)
            if text in line:
                return line
            if line == "":
                raise AssertionError(
                    f"process ended without printing {text!r}:\n{''.join(self.err)[-3000:]}"
                )

    def kill(self) -> None:
        """SIGKILL the command and everything it started (e.g. its temporary Prefect API)."""
        os.killpg(self.popen.pid, signal.SIGKILL)
        self.finish()

    def finish(self, timeout: float = 120.0) -> tuple[int, str, str]:
        try:
            out, _ = self.popen.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.communicate()
            raise AssertionError(
                f"klines did not finish in {timeout} s:\n{''.join(self.err)[-4000:]}"
            ) from None
        return self.popen.returncode, out, "".join(self.err)


class Holder:
    """Another process holding the DuckDB file open, like an analyst's idle session."""

    def __init__(self, db: Path, read_only: bool = True) -> None:
        code = (
            "import duckdb, sys\n"
            f"con = duckdb.connect({str(db)!r}, read_only={read_only})\n"
            "print('held', flush=True)\n"
            "sys.stdin.readline()\n"
        )
        self.popen = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.popen.stdout is not None and self.popen.stdout.readline().strip() == "held"

    def release(self) -> None:
        self.popen.communicate("\n", timeout=30)
