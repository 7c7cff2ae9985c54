"""``klines liveness``: the report (pure, literal data), then real flow runs against the simulator."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from exchange.liveness import (
    CHECKS,
    CandleCheck,
    Check,
    LivenessReport,
    StreamReport,
    render_report,
)
from exchange.ws_events import FieldMismatch
from simulator import Market, Simulator
from tests.conftest import NOW_MS
from tests.flows.helpers import klines

KEY = "6qv2KVTjQx8LmP0aZ3rT9wYbN4cVh7Ks1NiD"


def literal_report() -> LivenessReport:
    ok = [Check(n, "PASS", "fine") for n in ("connect", "subscribe", "events")]
    return LivenessReport(
        run_id="run-1",
        started_at=datetime(2026, 11, 2, 0, 7, 30, tzinfo=UTC),
        ws_url="wss://fstream.binance.com/market",
        rest_url="https://fapi.binance.com",
        seconds=30.0,
        api_key_masked="6qv2KVTj...1NiD",
        versions={"Python": "3.11.7", "websockets": "16.1.1"},
        clock_offset_ms=-12,
        streams=[
            StreamReport("btcusdt@kline_1m", ok, {"events": 120, "lag_p95_ms": 85.0}),
            StreamReport(
                "ethusdt@kline_1m",
                [*ok, Check("rest", "FAIL", "REST/WS disagreement on 1 of 1 closed candles")],
                {"events": 118, "lag_p95_ms": None},
                [CandleCheck(NOW_MS - 90_000, [FieldMismatch("close", "3200.01", "3200.00")])],
            ),
        ],
        diagnosis=["ethusdt@kline_1m: REST/WS disagreement on 1 of 1 closed candles"],
        next_steps=["Do not store WebSocket candles without reconciling them with REST."],
    )


def test_the_report_has_metadata_summary_verdict_diagnosis_and_details() -> None:
    text = render_report(literal_report())
    assert text.startswith("# WebSocket liveness: FAIL\n")
    for expected in (
        "- **time (UTC):** 2026-11-02 00:07:30\n",
        "- **WebSocket URL:** `wss://fstream.binance.com/market`\n",
        "- **REST URL:** `https://fapi.binance.com`\n",
        "- **streams:** `btcusdt@kline_1m`, `ethusdt@kline_1m`\n",
        "- **clock offset:** -12 ms (exchange − local)\n",
        "- **API key:** 6qv2KVTj...1NiD\n",
        "- **versions:** Python 3.11.7, websockets 16.1.1\n",
        # five columns: the checks that did not pass are named, the rest follow per stream
        "| stream | verdict | events | lag p95 | checks not passed |\n|---|---|---|---|---|\n",
        "| `btcusdt@kline_1m` | **PASS** | 120 | 85 ms | 7 skipped |\n",
        "| `ethusdt@kline_1m` | **FAIL** | 118 | – | rest FAIL; 6 skipped |\n",
        "## Verdict: FAIL\n\nUnhealthy: see the diagnosis.",
        "- ethusdt@kline_1m: REST/WS disagreement on 1 of 1 closed candles",
        "1. Do not store WebSocket candles without reconciling them with REST.",
        "### `ethusdt@kline_1m`: FAIL",
        "- **rest** FAIL: REST/WS disagreement on 1 of 1 closed candles\n",
        "- numbers: events 118, lag_p95_ms –",
        "| 2026-11-02 00:06 | close: ws 3200.01 ≠ rest 3200.00 |",
    ):
        assert expected in text, expected


def test_the_report_has_no_table_without_a_header_and_no_row_wider_than_five_columns() -> None:
    lines = render_report(literal_report()).splitlines()
    tables = [i for i, line in enumerate(lines) if line.startswith("|---")]
    assert all(lines[i - 1].strip("| ") for i in tables)  # every table has a real header
    assert max(line.count("|") for line in lines) <= 6


def test_a_healthy_report_says_so() -> None:
    report = literal_report()
    report.streams = report.streams[:1]
    report.diagnosis, report.next_steps = [], []
    report.streams[0].checks = [Check(n, "PASS", "fine") for n in CHECKS]
    report.streams[0].metrics["events_per_s"] = 4.0
    text = render_report(report)
    assert "# WebSocket liveness: PASS" in text and "- nothing wrong was seen" in text
    assert "| `btcusdt@kline_1m` | **PASS** | 120 (4/s) | 85 ms | none |" in text


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
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["ws-liveness"]))
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
