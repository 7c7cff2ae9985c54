"""Nothing lost, nothing invented: faults, bans, concurrent writers, analysts, kills."""

from __future__ import annotations

import random
import subprocess
import time
from pathlib import Path

import duckdb
import pytest

from simulator import Market, Simulator
from tests.conftest import NOW_MS, STORED_SQL, truth_rows
from tests.flows.helpers import ingest, ingest_args
from tests.flows.procs import Holder, Proc, child_env


def assert_equals_truth(
    db: Path, market: Market, series: list[tuple[str, str]], start: str
) -> None:
    with duckdb.connect(str(db), read_only=True) as con:
        for symbol, interval in series:
            stored = [tuple(r) for r in con.execute(STORED_SQL, [symbol, interval]).fetchall()]
            assert stored == truth_rows(market, symbol, interval, start), (symbol, interval)
        assert con.execute(
            "SELECT count(*) FROM (SELECT 1 FROM klines GROUP BY market, symbol, interval, open_time HAVING count(*) > 1)"
        ).fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM klines_rejected").fetchone() == (0,)


SERIES = [(s, i) for s in ("BTCUSDT", "ETHUSDT", "SOLUSDT") for i in ("1m", "15m", "1h")]


def test_ten_percent_faults_still_end_equal_to_the_truth(
    sim: Simulator, market: Market, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KLINES_READ_TIMEOUT", "0.5")
    sim.faults.update(
        error_rate=0.1,
        kinds=("500", "502", "503", "drop", "slow", "truncate", "html403"),
        slow_seconds=1.5,
        seed=11,
    )
    ran = ingest(
        sim,
        db_path,
        "--symbols",
        "BTCUSDT,ETHUSDT,SOLUSDT",
        "--intervals",
        "1m,15m,1h",
        "--start",
        "2026-10-26",
    )
    assert ran.code == 0, ran.err
    assert_equals_truth(db_path, market, SERIES, "2026-10-26T00:00:00")
    injected = sim.stats.snapshot()["faults_injected"]
    assert sum(injected.values()) >= 5
    retries_line = next(line for line in ran.out.splitlines() if "retries:" in line)
    for kind, cause in (
        ("503", "5xx"),
        ("drop", "dropped"),
        ("truncate", "truncated"),
        ("html403", "403"),
        ("slow", "timeout"),
    ):
        if injected.get(kind):
            assert cause in retries_line, (kind, retries_line)


def test_a_418_is_remembered_and_the_next_run_sends_nothing(sim: Simulator, db_path: Path) -> None:
    sim.faults.update(script=["418"])
    ran = ingest(sim, db_path, "--symbols", "BTCUSDT", "--intervals", "1h", "--start", "2026-11-01")
    assert ran.code == 1 and "banned this IP until" in ran.err
    sent = sim.stats.snapshot()["requests"]
    again = ingest(
        sim, db_path, "--symbols", "BTCUSDT", "--intervals", "1h", "--start", "2026-11-01"
    )
    assert again.code == 1
    assert "banned this IP until" in again.err and "no request was sent" in again.err
    assert sim.stats.snapshot()["requests"] == sent


@pytest.mark.slow  # two real processes: seconds of lock waits
def test_two_runs_at_once_on_one_file_neither_corrupt_nor_duplicate(
    sim: Simulator, market: Market, db_path: Path
) -> None:
    sim.faults.update(latency_ms=3)
    args = ingest_args(
        sim,
        db_path,
        "--symbols",
        "BTCUSDT,ETHUSDT",
        "--intervals",
        "1m,1h",
        "--start",
        "2026-10-29",
    )
    first, second = Proc(*args), Proc(*args)
    for proc in (first, second):
        code, out, err = proc.finish()
        assert code == 0, err[-2000:]
    assert_equals_truth(
        db_path,
        market,
        [(s, i) for s in ("BTCUSDT", "ETHUSDT") for i in ("1m", "1h")],
        "2026-10-29T00:00:00",
    )


@pytest.mark.slow  # waits out a held lock for real
def test_an_analyst_session_makes_the_run_wait_then_proceed(
    sim: Simulator, market: Market, db_path: Path
) -> None:
    assert (
        ingest(
            sim, db_path, "--symbols", "BTCUSDT", "--intervals", "1h", "--start", "2026-11-01"
        ).code
        == 0
    )
    analyst = Holder(db_path, read_only=True)
    run = Proc(
        *ingest_args(
            sim, db_path, "--symbols", "ETHUSDT", "--intervals", "1h", "--start", "2026-11-01"
        )
    )
    try:
        line = run.wait_for_line("waiting for")
        assert "locked by another process" in line
    finally:
        analyst.release()
    code, _, err = run.finish()
    assert code == 0, err[-2000:]
    assert_equals_truth(
        db_path, market, [("BTCUSDT", "1h"), ("ETHUSDT", "1h")], "2026-11-01T00:00:00"
    )


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_sigkill_at_random_moments_loses_nothing_committed(market: Market, db_path: Path) -> None:
    # A weight limit no number of reruns can reach: the frozen clock never opens a new window.
    with Simulator(market, frozen_ms=NOW_MS, weight_limit=10**9) as sim:
        _kill_loop(sim, market, db_path)


def _kill_loop(sim: Simulator, market: Market, db_path: Path) -> None:
    sim.faults.update(latency_ms=2)
    args = ingest_args(
        sim,
        db_path,
        "--symbols",
        "BTCUSDT,ETHUSDT",
        "--intervals",
        "1m,5m",
        "--start",
        "2026-09-01",  # about 450,000 candles: long enough for many kills, however fast a run
    )
    rng = random.Random(20261126)
    env = child_env(KLINES_LOCK_TIMEOUT="60")
    kills = 0
    while kills < 20:
        proc = Proc(*args, env=env)
        t0 = time.monotonic()
        proc.wait_for_line("Beginning flow run", timeout=120)
        print(
            f"kill {kills}: flow started after {time.monotonic() - t0:.1f} s"
        )  # killed while fetching or writing
        try:
            proc.popen.wait(timeout=rng.uniform(0.05, 1.2))
        except subprocess.TimeoutExpired:  # still running: kill it where it stands
            proc.kill()
            kills += 1
        else:
            proc.finish()
            break
        if db_path.exists():  # the file opens cleanly after every kill
            with duckdb.connect(str(db_path), read_only=True) as con:
                con.execute("SELECT count(*) FROM klines").fetchone()
    assert kills >= 5
    t0 = time.monotonic()
    code, _, err = Proc(*args, env=env).finish(timeout=600)
    print(f"final run: {time.monotonic() - t0:.1f} s")
    assert code == 0, err[-2000:]
    assert_equals_truth(
        db_path,
        market,
        [(s, i) for s in ("BTCUSDT", "ETHUSDT") for i in ("1m", "5m")],
        "2026-09-01T00:00:00",
    )
