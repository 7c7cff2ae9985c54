"""The weight budget paces requests inside the published limit, on a fake clock."""

from __future__ import annotations

import pytest

from exchange.errors import IpBanned
from exchange.ratelimit import WeightBudget
from tests.exchange.fake_clock import FakeClock


def budget(clock: FakeClock, limit: int = 100, share: float = 0.5) -> WeightBudget:
    return WeightBudget(
        limit=limit, window_ms=10_000, share=share, clock=clock.time, sleep=clock.sleep
    )


def test_requests_within_the_share_go_through_without_waiting() -> None:
    clock = FakeClock()
    b = budget(clock)
    for _ in range(25):
        b.acquire(2)
    assert clock.slept == []


def test_the_request_that_would_exceed_the_share_waits_for_the_next_window() -> None:
    clock = FakeClock(1_000_003.0)  # 3 s into a 10 s window
    b = budget(clock)
    for _ in range(26):
        b.acquire(2)
    assert len(clock.slept) == 1 and 6.9 < clock.slept[0] < 7.1


def test_weight_reported_by_the_exchange_counts_against_the_share() -> None:
    clock = FakeClock()
    b = budget(clock)
    b.observe(49)  # another process on this IP used 49 of our 50
    b.acquire(1)
    assert clock.slept == []
    b.acquire(1)
    assert len(clock.slept) == 1


def test_a_429_pauses_everything_and_lowers_the_share() -> None:
    clock = FakeClock()
    b = budget(clock)
    b.pause(3.0)
    b.acquire(1)
    assert clock.slept and 2.9 < clock.slept[0] < 3.1
    assert b.share < 0.5


def test_a_ban_stops_every_request_until_it_ends() -> None:
    clock = FakeClock()
    b = budget(clock)
    b.ban(int((clock.now + 120) * 1000))
    with pytest.raises(IpBanned, match="banned this IP until"):
        b.acquire(1)
    clock.now += 121
    b.acquire(1)


def test_limits_published_by_the_exchange_replace_the_defaults() -> None:
    clock = FakeClock()
    b = budget(clock)
    b.configure(limit=20, window_ms=1000)
    assert b.allowance == 10
