"""Benchmark (f): how long a small ad-hoc command takes, beside a trivial Prefect flow.

Each job is a fresh process, timed from spawn to exit, as a user at a terminal feels it:

- a trivial Prefect flow (``@flow def trivial(): return 1``) with no ``PREFECT_API_URL``:
  with Prefect's defaults and no bytecode (``PYTHONDONTWRITEBYTECODE=1`` and nothing
  compiled, as a plain install in many containers), with Prefect's defaults, and with the
  settings the ``klines`` command chooses (analytics off, no block registration);
- ``klines ingest`` of one series (BTCUSDT 1m, resuming: a few new candles) against the
  simulator in its own process, with no server up (its temporary API);
- the same two while ``prefect server start`` answers on 127.0.0.1:4200: the trivial flow
  is told (``PREFECT_API_URL``), ``klines ingest`` is not (it finds the server itself).

One ``PREFECT_HOME``, warmed by an untimed run of every job; jobs alternate for
``--rounds`` rounds and the median is reported. Targets: ``klines ingest`` within 1.5 s of
the trivial flow with the product's settings when no server is up, and under 3 s when one is.

Run: ``uv run python -m bench.startup [--rounds 3]`` (needs port 4200 free).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cli.prefect_api import LOCAL_SERVER, QUIET, TEMPORARY_ONLY, healthy

from .common import print_table, simulator_process

HEADERS = ("job", "Prefect API", "median wall s", "rounds s", "target", "verdict")
TRIVIAL = (
    "from prefect import flow\n\n@flow(name='trivial')\ndef trivial():\n    return 1\n\ntrivial()\n"
)
KLINES = Path(sys.executable).with_name("klines")


def user_env(home: str) -> dict[str, str]:
    """The environment of a user who set nothing for Prefect or this project."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "KLINES_"))}
    env.pop("DO_NOT_TRACK", None)
    return {**env, "PREFECT_HOME": home, "PYTHONDONTWRITEBYTECODE": "1"}


def wall(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"{cmd} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return seconds


@contextmanager
def local_server(env: dict[str, str]) -> Iterator[None]:
    """``prefect server start`` on 127.0.0.1:4200, as a user keeps one up."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"],
        env={**env, **QUIET},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 180
        while not healthy(LOCAL_SERVER):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("prefect server start did not come up on 127.0.0.1:4200")
            time.sleep(0.2)
        yield
    finally:
        proc.terminate()
        proc.wait(30)


def run(rounds: int = 3) -> list[list]:
    if healthy(LOCAL_SERVER):
        raise SystemExit("a Prefect server answers on 127.0.0.1:4200: stop it first")
    with tempfile.TemporaryDirectory() as tmp, simulator_process() as sim_url:
        home = str(Path(tmp) / "prefect-home")
        script = Path(tmp) / "trivial.py"
        script.write_text(TRIVIAL)
        env = user_env(home)
        no_bytecode = {**env, "PYTHONPYCACHEPREFIX": str(Path(tmp) / "no-pyc")}
        settings = {**env, **QUIET, **TEMPORARY_ONLY}
        db = str(Path(tmp) / "k.duckdb")
        ingest = [str(KLINES), "ingest", "--db", db, "--rest-url", sim_url]
        ingest += ["--symbols", "BTCUSDT", "--intervals", "1m"]
        trivial = [sys.executable, str(script)]
        jobs = {  # (job, with a server up): command, environment
            ("trivial flow, Prefect defaults, no bytecode", False): (trivial, no_bytecode),
            ("trivial flow, Prefect defaults", False): (trivial, env),
            ("trivial flow, the product's settings", False): (trivial, settings),
            ("klines ingest, 1 series incremental", False): (ingest, env),
            ("trivial flow, PREFECT_API_URL set", True): (
                trivial,
                {**settings, "PREFECT_API_URL": LOCAL_SERVER},
            ),
            ("klines ingest, 1 series incremental", True): (ingest, env),
        }
        times: dict[tuple[str, bool], list[float]] = {}
        for server in (False, True):
            these = {key: job for key, job in jobs.items() if key[1] == server}
            with local_server(env) if server else _nothing():
                for cmd, job_env in these.values():  # warm-up: migrations, the first load
                    wall(cmd, job_env)
                for _ in range(rounds):
                    for key, (cmd, job_env) in these.items():
                        times.setdefault(key, []).append(wall(cmd, job_env))
    med = {key: statistics.median(values) for key, values in times.items()}
    base = med[("trivial flow, the product's settings", False)]
    rows = []
    for (name, server), values in times.items():
        target, verdict = "", ""
        if name.startswith("klines") and not server:
            target = f"≤ trivial + 1.5 s = {base + 1.5:.1f} s"
            verdict = "ok" if med[(name, server)] <= base + 1.5 else "MISSED"
        elif name.startswith("klines"):
            target, verdict = "< 3 s", "ok" if med[(name, server)] < 3 else "MISSED"
        api = "server on 127.0.0.1:4200" if server else "temporary"
        rounds_text = ", ".join(f"{v:.1f}" for v in values)
        rows.append([name, api, med[(name, server)], rounds_text, target, verdict])
    return rows


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    print_table("(f) start-up of a small command", HEADERS, run(p.parse_args().rounds))


if __name__ == "__main__":
    main()
