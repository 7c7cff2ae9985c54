"""A configured API key and secret never appear in logs, artifacts, reports or the database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client

from simulator import Simulator
from tests.flows.helpers import ingest, klines

KEY = "6qv2KVTjAbCdEfGhIjKlMnOpQrStUvWx1NiD"
SECRET = "s3cr3tS3CR3Ts3cr3tS3CR3Ts3cr3tZ9"


def leaks(text: str) -> list[str]:
    return [s for s in (KEY, SECRET, KEY[8:-4], SECRET[4:-4]) if s in text]


def test_keys_stay_secret_everywhere(
    sim: Simulator, db_path: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env = {"KLINES_API_KEY": KEY, "KLINES_API_SECRET": SECRET}
    loaded = ingest(
        sim,
        db_path,
        "--symbols",
        "BTCUSDT",
        "--intervals",
        "1h",
        "--start",
        "2026-11-01",
        "--debug",
        env=env,
    )
    assert loaded.code == 0, loaded.err
    sim.faults.update(script=["503", "bad-row"])  # error paths log too
    ingest(
        sim,
        db_path,
        "--symbols",
        "ETHUSDT",
        "--intervals",
        "1h",
        "--start",
        "2026-11-01",
        "--debug",
        env=env,
    )
    report = tmp_path / "liveness.md"
    liveness = klines(
        "liveness",
        "--db",
        str(db_path),
        "--rest-url",
        sim.url,
        "--ws-url",
        sim.url.replace("http", "ws") + "/market",
        "--symbols",
        "BTCUSDT",
        "--intervals",
        "1m",
        "--seconds",
        "1",
        "--report",
        str(report),
        env=env,
    )
    assert liveness.code in (0, 1), liveness.err
    assert "6qv2KVTj...1NiD" in report.read_text()  # configured, and shown masked

    with get_client(sync_client=True) as client:
        artifacts = json.dumps([a.model_dump(mode="json") for a in client.read_artifacts()])
        logs = json.dumps([log.message for log in client.read_logs()])
    for where, text in {
        "command output": loaded.out + loaded.err + liveness.out + liveness.err,
        "python logs": caplog.text,
        "prefect logs": logs,
        "prefect artifacts": artifacts,
        "report": report.read_text(),
        "database file": db_path.read_bytes().decode("latin-1"),
    }.items():
        assert leaks(text) == [], where
