"""Spot over HTTP (``/api/v3``): its exchangeInfo, klines (weight 2, max 1000, ``1s``,
microseconds on request), tickers, and its own request-weight pool with spot's 429 / 418."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from simulator import Market, Simulator
from tests.simulator.conftest import MINUTE, NOW, ms
from tests.simulator.helpers import assert_row_invariants

API = "/api/v3"


def get(
    sim: Simulator, path: str, headers: dict[str, str] | None = None, **params: Any
) -> requests.Response:
    return requests.get(f"{sim.rest_url}{path}", params=params, headers=headers, timeout=10)


def test_exchange_info_has_spots_own_shape(sim: Simulator) -> None:
    resp = get(sim, f"{API}/exchangeInfo")
    assert resp.headers["x-mbx-used-weight-1m"] == "20"
    info = resp.json()
    assert info["rateLimits"][0] == {
        "rateLimitType": "REQUEST_WEIGHT",
        "interval": "MINUTE",
        "intervalNum": 1,
        "limit": 6000,
    }
    assert {r["rateLimitType"] for r in info["rateLimits"]} == {"REQUEST_WEIGHT", "ORDERS",
                                                                "RAW_REQUESTS"}  # fmt: skip
    rows = {s["symbol"]: s for s in info["symbols"]}
    assert {"BTCUSDT", "ETHUSDT", "PEPEUSDT"} <= set(rows) and "1000PEPEUSDT" not in rows
    btc = rows["BTCUSDT"]
    assert (btc["status"], btc["baseAsset"], btc["quoteAsset"]) == ("TRADING", "BTC", "USDT")
    for field in ("contractType", "onboardDate", "deliveryDate", "pair", "contractSize"):
        assert field not in btc
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000"
    assert filters["LOT_SIZE"]["stepSize"] == "0.00001000"
    assert rows["OLDUSDT"]["status"] == "BREAK" and rows["OLDUSDT"]["permissionSets"] == []
    one = get(sim, f"{API}/exchangeInfo", symbol="ETHUSDT").json()["symbols"]
    assert [s["symbol"] for s in one] == ["ETHUSDT"]
    some = get(sim, f"{API}/exchangeInfo", symbols='["PEPEUSDT","BTCUSDT"]').json()["symbols"]
    assert [s["symbol"] for s in some] == ["PEPEUSDT", "BTCUSDT"]
    assert get(sim, f"{API}/exchangeInfo", symbol="BTCUSD_PERP").json()["code"] == -1121


@pytest.mark.parametrize("limit", [1, 99, 500, 1000, None])
def test_klines_weigh_two_whatever_the_limit(sim: Simulator, limit: int | None) -> None:
    params = {"symbol": "BTCUSDT", "interval": "1m", "startTime": ms(2026, 10, 1)}
    if limit is not None:
        params["limit"] = limit
    resp = get(sim, f"{API}/klines", **params)
    assert resp.status_code == 200 and resp.headers["x-mbx-used-weight-1m"] == "2"
    rows = resp.json()
    assert len(rows) == (500 if limit is None else limit)
    assert rows == sim.market.closed_klines(
        "BTCUSDT", "1m", ms(2026, 10, 1), rows[-1][0] + 1, NOW, market="spot"
    )


def test_klines_rows_and_errors(sim: Simulator) -> None:
    rows = get(sim, f"{API}/klines", symbol="PEPEUSDT", interval="1h", limit=5).json()
    assert rows[-1][0] <= NOW < rows[-1][6]
    for row in rows:
        assert_row_invariants(row)
        assert all(len(row[i].split(".")[1]) == 8 for i in (1, 2, 3, 4, 5, 7, 9, 10))
    for params, code in [
        ({"symbol": "BTCUSDT", "interval": "1m", "limit": 1001}, -1130),
        ({"symbol": "1000PEPEUSDT", "interval": "1m"}, -1121),
        ({"symbol": "BTCUSDT", "interval": "2m"}, -1120),
        ({"symbol": "BTCUSDT", "interval": "1m", "startTime": 2, "endTime": 1}, -1023),
        ({"interval": "1m"}, -1102),
    ]:
        resp = get(sim, f"{API}/klines", **params)
        assert resp.status_code == 400 and resp.json()["code"] == code, params


def test_one_second_klines_and_microseconds_on_request(sim: Simulator) -> None:
    start = NOW - 5000
    rows = get(sim, f"{API}/klines", symbol="BTCUSDT", interval="1s", startTime=start).json()
    assert [r[0] for r in rows] == list(range(start, NOW + 1, 1000))
    micro = get(sim, f"{API}/klines", headers={"X-MBX-TIME-UNIT": "MICROSECOND"},
                symbol="BTCUSDT", interval="1s", startTime=start * 1000).json()  # fmt: skip
    assert [r[0] for r in micro] == [r[0] * 1000 for r in rows]
    assert [r[6] for r in micro] == [r[6] * 1000 + 999 for r in rows]
    assert [r[1:6] for r in micro] == [r[1:6] for r in rows]
    server = get(sim, f"{API}/time", headers={"x-mbx-time-unit": "MICROSECOND"}).json()
    assert server == {"serverTime": NOW * 1000}


def test_tickers_and_their_weights(sim: Simulator) -> None:
    one = get(sim, f"{API}/ticker/24hr", symbol="BTCUSDT")
    assert one.headers["x-mbx-used-weight-1m"] == "2"
    assert one.json() == sim.market.ticker_24h("BTCUSDT", NOW, market="spot")
    some = get(sim, f"{API}/ticker/24hr", symbols='["ETHUSDT","PEPEUSDT"]')
    assert [t["symbol"] for t in some.json()] == ["ETHUSDT", "PEPEUSDT"]
    assert some.headers["x-mbx-used-weight-1m"] == "4"
    every = get(sim, f"{API}/ticker/24hr")
    assert every.headers["x-mbx-used-weight-1m"] == str(4 + 80) and len(every.json()) == 7


def test_spot_has_its_own_pool_429_418_and_scaled_limits(market: Market) -> None:
    with Simulator(market, frozen_ms=NOW, weight_limit=10, weight_window_s=10, ban_after=1) as sim:
        info = get(sim, f"{API}/exchangeInfo").json()
        assert info["rateLimits"][0] == {"rateLimitType": "REQUEST_WEIGHT", "interval": "SECOND",
                                         "intervalNum": 10, "limit": 25}  # fmt: skip
        kline = {"symbol": "BTCUSDT", "interval": "1m", "limit": 1}
        assert get(sim, f"{API}/klines", **kline).headers["x-mbx-used-weight-10s"] == "22"
        assert get(sim, f"{API}/klines", **kline).headers["x-mbx-used-weight-10s"] == "24"
        refused = get(sim, f"{API}/klines", **kline)
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "10"
        assert refused.json() == {
            "code": -1003,
            "msg": "Too much request weight used; current limit is 25 request weight per "
            "10 SECOND. Please use WebSocket Streams for live updates to avoid polling the API.",
        }
        get(sim, f"{API}/ping")  # 25: still within
        assert get(sim, f"{API}/time").status_code == 429
        banned = get(sim, f"{API}/time")
        assert banned.status_code == 418
        assert banned.json()["msg"].startswith("Way too much request weight used; IP banned until")
        futures = get(sim, "/fapi/v1/klines", symbol="BTCUSDT", interval="1m", limit=1)
        assert futures.status_code == 200 and futures.headers["x-mbx-used-weight-10s"] == "1"
        assert sim.stats.count_429 == 2 and sim.stats.count_418 == 1


def test_faults_apply_to_spot_and_coinm(sim: Simulator) -> None:
    sim.faults.script = ["503", "truncate", "-1121", "bad-row"]
    spot = {"symbol": "BTCUSDT", "interval": "1m", "limit": 3}
    assert get(sim, f"{API}/klines", **spot).status_code == 503
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        get(sim, "/dapi/v1/klines", symbol="BTCUSD_PERP", interval="1m", limit=3)
    assert get(sim, "/fapi/v1/premiumIndexKlines", **spot).json()["code"] == -1121
    bad = get(sim, "/dapi/v1/premiumIndexKlines", symbol="ETHUSD_PERP", interval="1h",
              startTime=NOW - 30 * MINUTE * 48, limit=3).json()[0]  # fmt: skip
    assert float(bad[2]) < float(bad[3])  # high below low
    sim.faults.update(waf_block=True)
    assert get(sim, f"{API}/ping").status_code == 403
    sim.faults.update(waf_block=False, invalid_symbols=["BTCUSDT"])
    assert get(sim, f"{API}/klines", **spot).json()["code"] == -1121
    assert sim.stats.faults_injected == {
        "503": 1,
        "truncate": 1,
        "-1121": 1,
        "bad-row": 1,
        "waf_block": 1,
    }
