"""Run ``klines`` as a separate process (for kills, locks and concurrent writers).

Child processes use the session's Prefect test server instead of starting their own.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from prefect.settings import PREFECT_API_URL

ROOT = Path(__file__).resolve().parents[2]


def child_env(own_server: bool = False, **extra: str) -> dict[str, str]:
    """Environment of a child ``klines``: the session's Prefect API, or (``own_server``)
    a temporary one of its own, as a user's command line would start."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KLINES_", "PREFECT_"))}
    if not own_server:
        env["PREFECT_API_URL"] = str(PREFECT_API_URL.value())
    env.update(
        KLINES_HTTP_BACKOFF="0.01",
        KLINES_WEIGHT_LEDGER=os.environ.get("KLINES_WEIGHT_LEDGER", "off"),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class Proc:
    """A ``klines`` child process whose stderr lines can be awaited."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "cli", *args],
            cwd=ROOT,
            env=env or child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
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
        """SIGKILL the command and every process it started (e.g. a temporary Prefect API)."""
        family = [self.popen.pid, *_descendants(self.popen.pid)]
        for pid in family:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.popen.wait(timeout=30)
        deadline = time.monotonic() + 30  # every descendant gone: no lock of theirs remains
        while any(_alive(pid) for pid in family[1:]) and time.monotonic() < deadline:
            pass

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


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie has released everything it held)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux /proc), children before grandchildren."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found.extend(children)
        todo.extend(children)
    return found


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
