"""Fixtures for the simulator tests: one Market per session, a fresh server per test."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from simulator import Market, Simulator

NOW = int(datetime(2026, 11, 2, 0, 7, 30, tzinfo=UTC).timestamp() * 1000)
MINUTE = 60_000
HOUR = 3_600_000
DAY = 86_400_000


def ms(*args: int) -> int:
    """UTC datetime components → epoch ms."""
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


@pytest.fixture(scope="session")
def market() -> Market:
    return Market()


@pytest.fixture
def sim(market: Market) -> Iterator[Simulator]:
    with Simulator(market, frozen_ms=NOW) as s:
        yield s
