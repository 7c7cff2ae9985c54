"""The cross-interval audit: 1m candles must add up to the stored higher intervals."""

from __future__ import annotations

from pathlib import Path

import duckdb

from simulator import Simulator
from tests.flows.helpers import ingest, klines


def test_candles_from_the_exchange_agree_and_a_tampered_one_is_reported(
    sim: Simulator, db_path: Path
) -> None:
    ran = ingest(
        sim,
        db_path,
        "--symbols",
        "BTCUSDT",
        "--intervals",
        "1m,15m,1h,1d",
        "--start",
        "2026-10-31",
    )
    assert ran.code == 0, ran.err
    clean = klines(
        "audit",
        "--db",
        str(db_path),
        "--symbols",
        "BTCUSDT",
        "--intervals",
        "15m,1h,1d",
        "--days",
        "3650",
    )
    assert clean.code == 0, clean.err
    assert "interval=1h  compared=48" in clean.out  # 2026-11-01 03:00 spans the maintenance gap
    assert "interval=1d  compared=2" in clean.out and "disagreeing=0" in clean.out
    with duckdb.connect(str(db_path)) as con:
        con.execute(
            "UPDATE klines SET high = high + 1 WHERE interval = '1h' AND open_time = '2026-11-01 03:00:00+00'"
        )
    dirty = klines(
        "audit", "--db", str(db_path), "--symbols", "BTCUSDT", "--intervals", "1h", "--days", "3650"
    )
    assert dirty.code == 1
    assert "DISAGREE BTCUSDT 1h 2026-11-01 03:00 UTC high" in dirty.out
    assert "1 disagreements" in dirty.err


def test_buckets_with_missing_1m_candles_are_skipped_not_reported(
    sim: Simulator, db_path: Path
) -> None:
    assert (
        ingest(
            sim,
            db_path,
            "--symbols",
            "ETHUSDT",
            "--intervals",
            "1h",
            "--start",
            "2026-11-01",
        ).code
        == 0
    )
    assert (
        ingest(
            sim,
            db_path,
            "--symbols",
            "ETHUSDT",
            "--intervals",
            "1m",
            "--start",
            "2026-11-01T10:30Z",
            "--end",
            "2026-11-01T12:00Z",
        ).code
        == 0
    )
    ran = klines(
        "audit", "--db", str(db_path), "--symbols", "ETHUSDT", "--intervals", "1h", "--days", "3650"
    )
    assert ran.code == 0
    assert "compared=1  " in ran.out  # only 11:00 has all its minutes
