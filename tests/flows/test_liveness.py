"""``klines liveness``: real flow runs against the simulator (the verdicts and the report
itself are tested without sockets in tests/liveness/)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.client.schemas.sorting import ArtifactSort

from simulator import Market, Simulator
from tests.conftest import NOW_MS
from tests.flows.helpers import klines

KEY = "6qv2KVTjQx8LmP0aZ3rT9wYbN4cVh7Ks1NiD"


@pytest.fixture
def live(market: Market) -> Iterator[Simulator]:
    with Simulator(market, frozen_ms=NOW_MS) as sim:
        sim.ws.settings.update(event_period_s=0.02)
        sim.clock.unfreeze()
        yield sim


def close_candle_once_subscribed(sim: Simulator) -> threading.Thread:
    """When the flow has subscribed, move the clock so the 00:07 candle closes 0.3 s later
    (flow start-up time varies, so the move waits for the SUBSCRIBE, not for a fixed delay)."""

    def watch() -> None:
        done = threading.Event()
        while not sim.ws.counts["subscribe_requests"] and not done.wait(0.01):
            pass
        sim.clock.advance(NOW_MS + 30_000 - 300 - sim.clock.now_ms())

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def env_for(sim: Simulator, ws_url: str | None = None) -> dict[str, str]:
    return {
        "KLINES_WS_URL": ws_url or sim.ws_url,
        "KLINES_REST_URL": sim.url,
        "KLINES_API_KEY": KEY,
        "KLINES_READ_TIMEOUT": "2",
    }


def test_healthy_run_exits_0_writes_the_report_stores_history_and_publishes(
    live: Simulator, db_path: Path, tmp_path: Path
) -> None:
    report = tmp_path / "reports" / "liveness.md"
    close_candle_once_subscribed(live)
    ran = klines(
        "liveness", "--symbols", "BTCUSDT,ETHUSDT", "--intervals", "1m", "--seconds", "1.2",
        "--report", str(report), "--db", str(db_path), env=env_for(live),
    )  # fmt: skip
    assert ran.code == 0, ran.out + ran.err
    assert "verdict: PASS" in ran.out
    text = report.read_text()
    assert text.startswith("# WebSocket liveness: PASS")
    assert f"- **WebSocket URL:** `{live.ws_url}`" in text
    assert f"- **REST URL:** `{live.url}`" in text
    assert "- **API key:** 6qv2KVTj...1NiD" in text and KEY not in text
    assert "| `btcusdt@kline_1m` | **PASS** |" in text and "| none |" in text
    assert "websockets 16" in text and "Python 3." in text and "prefect 3.9" in text
    assert "1 closed candles identical to REST, field by field" in text
    with duckdb.connect(str(db_path), read_only=True) as con:
        run = con.execute("SELECT verdict, healthy, streams, report FROM liveness_runs").fetchall()
        rows = con.execute(
            "SELECT stream, status, events > 10, closed_seen, rest_mismatches, failed_checks "
            "FROM liveness_streams ORDER BY stream"
        ).fetchall()
    assert run == [("PASS", True, 2, text)]
    assert rows == [
        ("btcusdt@kline_1m", "PASS", True, 1, 0, []),
        ("ethusdt@kline_1m", "PASS", True, 1, 0, []),
    ]
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(  # this run's: the newest (other tests publish too)
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["ws-liveness"])),
            sort=ArtifactSort.CREATED_DESC,
            limit=1,
        )
    assert artifacts and artifacts[0].type == "markdown"
    assert KEY not in str(artifacts[0].data) and "6qv2KVTj...1NiD" in str(artifacts[0].data)


def test_unhealthy_run_exits_1_with_the_diagnosis_and_is_kept_in_history(
    live: Simulator, db_path: Path, tmp_path: Path
) -> None:
    legacy = live.ws_url.removesuffix("/market")
    args = ("liveness", "--symbols", "BTCUSDT", "--intervals", "1m", "--seconds", "0.5",
            "--db", str(db_path))  # fmt: skip
    ran = klines(*args, "--report", str(tmp_path / "r.md"), env=env_for(live, legacy))
    assert ran.code == 1
    assert "verdict: FAIL" in ran.out and "subscribed but silent" in ran.out
    assert "KLINES_WS_URL=wss://fstream.binance.com/market" in ran.out
    assert "/market route" in (tmp_path / "r.md").read_text()
    assert klines(*args, env=env_for(live)).code == 0
    with duckdb.connect(str(db_path), read_only=True) as con:
        uptime = con.execute(
            "SELECT count(*), avg(healthy::INT), min(verdict) FROM liveness_runs"
        ).fetchone()
        per_stream = con.execute(
            "SELECT list(status ORDER BY r.started_at), max(events_per_s) > 0 "
            "FROM liveness_streams s JOIN liveness_runs r USING (run_id) GROUP BY stream"
        ).fetchall()
    assert uptime == (2, 0.5, "FAIL")
    assert per_stream == [(["FAIL", "PASS"], True)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seconds", "0"], "--seconds 0 is out of range"),
        (["--intervals", "1H"], "invalid interval '1H'"),
        (["--symbols", "NOPEUSDT"], "unknown symbol NOPEUSDT"),
        (["--ws-url", "http://127.0.0.1:1/market"], "invalid WebSocket URL"),
    ],
)
def test_bad_input_exits_2(live: Simulator, db_path: Path, args: list[str], message: str) -> None:
    base = {"--symbols": "BTCUSDT", "--intervals": "1m", "--seconds": "1"}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    flat = [x for pair in base.items() for x in pair]
    ran = klines("liveness", *flat, "--db", str(db_path), env=env_for(live))
    assert ran.code == 2, ran.out + ran.err
    assert message in ran.err and "Traceback" not in ran.err
