"""Request weight, 429 and 418 as on Binance."""

from __future__ import annotations

import pytest
import requests

from simulator import Market, Simulator
from tests.simulator.conftest import NOW

WINDOW_END_IN_S = 30  # NOW is hh:07:30


def get(sim: Simulator, path: str = "/fapi/v1/ping", **params: object) -> requests.Response:
    return requests.get(f"{sim.url}{path}", params=params, timeout=5)


@pytest.mark.parametrize(
    ("limit", "weight"),
    [(1, 1), (99, 1), (100, 2), (499, 2), (500, 5), (1000, 5), (1001, 10), (1500, 10), (None, 5)],
)
def test_klines_weight_table(sim: Simulator, limit: int | None, weight: int) -> None:
    params = {"symbol": "BTCUSDT", "interval": "1m", "startTime": NOW - 5 * 60_000}
    if limit is not None:
        params["limit"] = limit
    resp = get(sim, "/fapi/v1/klines", **params)
    assert resp.status_code == 200
    assert resp.headers["x-mbx-used-weight-1m"] == str(weight)
    assert sim.stats.weight_used_total == weight


def test_weight_accumulates_and_resets_with_the_window(sim: Simulator) -> None:
    assert [get(sim).headers["X-MBX-USED-WEIGHT-1M"] for _ in range(3)] == ["1", "2", "3"]
    assert get(sim, "/fapi/v1/exchangeInfo").headers["x-mbx-used-weight-1m"] == "4"
    get(sim, "/_sim/stats")  # control endpoints are free
    assert get(sim).headers["x-mbx-used-weight-1m"] == "5"
    sim.clock.advance(WINDOW_END_IN_S * 1000)  # next aligned window
    assert get(sim).headers["x-mbx-used-weight-1m"] == "1"


def test_stats_keep_the_most_weight_one_ip_used_in_one_window(sim: Simulator) -> None:
    for _ in range(3):
        get(sim)
    sim.clock.advance(WINDOW_END_IN_S * 1000)
    get(sim, "/fapi/v1/exchangeInfo")
    assert sim.stats.max_window_weight == 3
    assert get(sim, "/_sim/stats").json()["max_window_weight"] == 3


def test_429_then_418_ban_that_persists(market: Market) -> None:
    with Simulator(market, frozen_ms=NOW, weight_limit=10, ban_seconds=120) as sim:
        for _ in range(10):
            assert get(sim).status_code == 200
        first = get(sim)
        assert first.status_code == 429
        assert first.json() == {
            "code": -1003,
            "msg": "Too many requests; current limit is 10 requests per minute. Please use the "
            "websocket for live updates to avoid polling the API.",
        }
        assert first.headers["Retry-After"] == str(WINDOW_END_IN_S)
        assert first.headers["x-mbx-used-weight-1m"] == "10"
        assert [get(sim).status_code for _ in range(5)] == [429] * 5
        banned = get(sim)
        assert banned.status_code == 418
        assert banned.json()["code"] == -1003
        assert banned.json()["msg"] == (
            f"Way too many requests; IP banned until {NOW + 120_000}. Please use the websocket "
            "for live updates to avoid bans."
        )
        assert banned.headers["Retry-After"] == "120"
        sim.clock.advance(61_000)  # a fresh weight window does not lift the ban
        still = get(sim, "/fapi/v1/time")
        assert still.status_code == 418 and still.headers["Retry-After"] == "59"
        assert sim.stats.count_429 == 6 and sim.stats.count_418 == 2
        sim.clock.advance(59_000)
        assert get(sim).status_code == 200


def test_reset_lifts_bans_and_weight(market: Market) -> None:
    with Simulator(market, frozen_ms=NOW, weight_limit=1, ban_after=0) as sim:
        assert [get(sim).status_code for _ in range(3)] == [200, 429, 418]
        sim.reset()
        assert sim.stats.count_418 == 0
        assert get(sim).status_code == 200


def test_seconds_window_is_reflected_in_info_and_header(market: Market) -> None:
    with Simulator(market, frozen_ms=NOW, weight_limit=50, weight_window_s=10) as sim:
        resp = get(sim, "/fapi/v1/exchangeInfo")
        limit = resp.json()["rateLimits"][0]
        assert (limit["interval"], limit["intervalNum"], limit["limit"]) == ("SECOND", 10, 50)
        assert resp.headers["x-mbx-used-weight-10s"] == "1"
        assert "x-mbx-used-weight-1m" not in resp.headers


def test_window_must_be_whole_seconds() -> None:
    with pytest.raises(ValueError):
        Simulator(weight_window_s=0.5)
