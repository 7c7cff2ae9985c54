"""A warehouse filled once per module from the simulator's truth (no Prefect needed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from simulator import Market
from tests.analytics.fill import fill
from tests.conftest import NOW_MS, ms

# Monday 2026-09-28 .. the frozen clock: whole weeks, the whole of October, a maintenance
# window (2026-10-20 10:00-10:30 and 2026-11-01 03:40-04:00) and the open candle's edge.
START_MS = ms("2026-09-28T00:00:00")


@pytest.fixture(scope="session")
def filled_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("analytics") / "klines.duckdb"
    market = Market()
    fill(db, market, "BTCUSDT", "1m", START_MS, NOW_MS, NOW_MS)
    fill(db, market, "ETHUSDT", "1m", ms("2026-10-28T00:00:00"), NOW_MS, NOW_MS)
    for interval in ("1h", "1d"):
        for symbol in ("BTCUSDT", "ETHUSDT"):
            fill(db, market, symbol, interval, START_MS, NOW_MS, NOW_MS)
    return db


@pytest.fixture(scope="module")
def filled(filled_once: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the filled warehouse for each module (filling takes seconds)."""
    db = tmp_path_factory.mktemp("analytics") / "klines.duckdb"
    shutil.copyfile(filled_once, db)
    return db
