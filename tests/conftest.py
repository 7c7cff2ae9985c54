"""Shared fixtures: a clean environment, a frozen simulator, a fresh warehouse path."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from simulator import Market, Simulator

# The simulator's clock is frozen here in most tests: 2026-11-02 00:07:30 UTC.
NOW = datetime(2026, 11, 2, 0, 7, 30, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
# Read once, here: the autouse clean_environ strips KLINES_* before every test.
REQUIRE_REAL_DATA = os.environ.get("KLINES_TESTS_REQUIRE_REAL_DATA") == "1"


def real_data(relative: str) -> Path:
    """A file or folder of the real Binance data beside the checkout (``../shared/data/real``).

    Where it is missing the test is skipped, except under CI (``.ci/run`` sets
    ``KLINES_TESTS_REQUIRE_REAL_DATA=1``: CI has the folder), where it fails.
    """
    path = REAL_DATA / relative
    if not path.exists():
        message = f"real data not present: {path}"
        if REQUIRE_REAL_DATA:
            pytest.fail(f"{message} (KLINES_TESTS_REQUIRE_REAL_DATA=1)", pytrace=False)
        pytest.skip(message)
    return path


def ms(text: str) -> int:
    """ISO 8601 (UTC) -> epoch milliseconds."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


@pytest.fixture(autouse=True)
def clean_environ(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No user setting leaks into a test; retries back off in milliseconds; each test has
    its own weight ledger (simulators reuse ports, and their clocks are frozen)."""
    for name in list(os.environ):
        if name.startswith(("KLINES_", "BINANCE_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("KLINES_HTTP_BACKOFF", "0.01")
    monkeypatch.setenv("KLINES_LOCK_TIMEOUT", "5")
    monkeypatch.setenv("KLINES_WEIGHT_LEDGER", str(tmp_path_factory.mktemp("weight-ledger")))


@pytest.fixture(scope="session")
def market() -> Market:
    return Market()


@pytest.fixture
def sim(market: Market) -> Iterator[Simulator]:
    with Simulator(market, frozen_ms=NOW_MS) as server:
        yield server


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "wh" / "klines.duckdb"


def truth_rows(
    market: Market,
    symbol: str,
    interval: str,
    start: str,
    end_ms: int = NOW_MS,
    market_name: str = "usdm",
) -> list[tuple]:
    """The simulator's closed candles as (open_ms, *Decimal values, close_ms, trades) tuples."""
    rows = market.closed_klines(symbol, interval, ms(start), end_ms, NOW_MS, market=market_name)
    return [as_values(r) for r in rows]


def as_values(row: list) -> tuple:
    """A Binance 12-field row as comparable values (decimals exact)."""
    return (
        int(row[0]),
        *(Decimal(row[i]) for i in (1, 2, 3, 4, 5)),
        int(row[6]),
        Decimal(row[7]),
        int(row[8]),
        Decimal(row[9]),
        Decimal(row[10]),
    )


STORED_SQL = """
SELECT epoch_ms(open_time), open, high, low, close, volume, epoch_ms(close_time),
       quote_volume, trades, taker_buy_base_volume, taker_buy_quote_volume
FROM klines WHERE symbol = ? AND interval = ? ORDER BY open_time
"""
