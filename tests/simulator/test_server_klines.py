"""HTTP klines: JSON types, paging semantics, errors, the open candle, listing bounds."""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from typing import Any

import pytest
import requests

from simulator import Market, Simulator
from tests.simulator.conftest import HOUR, MINUTE, NOW, ms
from tests.simulator.helpers import assert_row_invariants, values


def klines(sim: Simulator, **params: Any) -> requests.Response:
    return requests.get(f"{sim.url}/fapi/v1/klines", params=params, timeout=5)


def test_ping_time_and_headers(sim: Simulator) -> None:
    ping = requests.get(f"{sim.url}/fapi/v1/ping", timeout=5)
    assert ping.status_code == 200 and ping.json() == {}
    got = requests.get(f"{sim.url}/fapi/v1/time", timeout=5)
    assert got.json() == {"serverTime": NOW}
    assert parsedate_to_datetime(got.headers["Date"]).timestamp() == NOW // 1000
    assert got.headers["x-mbx-used-weight-1m"] == "2"


def test_exchange_info(sim: Simulator, market: Market) -> None:
    info = requests.get(f"{sim.url}/fapi/v1/exchangeInfo", timeout=5).json()
    assert info["timezone"] == "UTC"
    assert info["rateLimits"][0] == {
        "rateLimitType": "REQUEST_WEIGHT",
        "interval": "MINUTE",
        "intervalNum": 1,
        "limit": 2400,
    }
    assert info["rateLimits"][1]["rateLimitType"] == "ORDERS"
    by_symbol = {s["symbol"]: s for s in info["symbols"]}
    assert set(by_symbol) == set(market.symbols)
    btc = by_symbol["BTCUSDT"]
    assert btc["pair"] == "BTCUSDT" and btc["contractType"] == "PERPETUAL"
    assert btc["deliveryDate"] == 4133404800000 and btc["status"] == "TRADING"
    assert (btc["baseAsset"], btc["quoteAsset"], btc["marginAsset"]) == ("BTC", "USDT", "USDT")
    assert (btc["pricePrecision"], btc["quantityPrecision"]) == (2, 3)
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.10"
    assert filters["LOT_SIZE"]["stepSize"] == "0.001"
    old = by_symbol["OLDUSDT"]
    assert old["status"] == "SETTLING" and old["deliveryDate"] == ms(2026, 6, 1)
    assert by_symbol["NEWUSDT"]["onboardDate"] == ms(2026, 10, 15)


def test_rows_match_market_and_json_types(sim: Simulator, market: Market) -> None:
    start = ms(2026, 10, 5)
    resp = klines(sim, symbol="SOLUSDT", interval="15m", startTime=start, limit=200)
    rows = resp.json()
    assert len(rows) == 200
    for row in rows:
        assert_row_invariants(row)
    assert rows == market.closed_klines("SOLUSDT", "15m", start, rows[-1][0] + 1, NOW)


def test_start_time_is_inclusive_and_filters_on_open_time(sim: Simulator) -> None:
    start = ms(2026, 10, 7, 12)
    assert (
        klines(sim, symbol="BTCUSDT", interval="1h", startTime=start, limit=1).json()[0][0] == start
    )
    nxt = klines(sim, symbol="BTCUSDT", interval="1h", startTime=start + 1, limit=1).json()
    assert nxt[0][0] == start + HOUR


def test_end_time_is_inclusive_and_caps(sim: Simulator) -> None:
    start, end = ms(2026, 10, 7), ms(2026, 10, 7, 5)
    rows = klines(sim, symbol="BTCUSDT", interval="1h", startTime=start, endTime=end).json()
    assert [r[0] for r in rows] == [start + h * HOUR for h in range(6)]
    rows = klines(sim, symbol="BTCUSDT", interval="1h", startTime=start, endTime=end - 1).json()
    assert len(rows) == 5


def test_forward_pages_chain(sim: Simulator) -> None:
    start = ms(2026, 10, 20, 9)  # crosses the 10:00-10:30 maintenance window
    one = klines(sim, symbol="ETHUSDT", interval="1m", startTime=start, limit=300).json()
    first = klines(sim, symbol="ETHUSDT", interval="1m", startTime=start, limit=150).json()
    second = klines(
        sim, symbol="ETHUSDT", interval="1m", startTime=first[-1][0] + MINUTE, limit=150
    ).json()
    assert first + second == one
    assert one[-1][0] - one[0][0] == (300 - 1 + 30) * MINUTE  # 30 missing minutes


def test_default_limit_is_500(sim: Simulator) -> None:
    rows = klines(sim, symbol="BTCUSDT", interval="1m", startTime=ms(2026, 10, 1)).json()
    assert len(rows) == 500


def test_latest_without_start_time(sim: Simulator) -> None:
    rows = klines(sim, symbol="BTCUSDT", interval="1h", limit=5).json()
    assert len(rows) == 5
    assert rows[-1][0] == ms(2026, 11, 2) and rows[-1][6] > NOW  # open candle last
    assert rows[0][0] == ms(2026, 11, 1, 20)
    end = ms(2026, 10, 10, 6)
    rows = klines(sim, symbol="BTCUSDT", interval="1h", endTime=end, limit=3).json()
    assert [r[0] for r in rows] == [end - 2 * HOUR, end - HOUR, end]


def test_start_time_reaching_now_includes_open_candle(sim: Simulator) -> None:
    rows = klines(sim, symbol="BTCUSDT", interval="1m", startTime=NOW - 3 * MINUTE).json()
    assert [r[0] for r in rows] == [NOW // MINUTE * MINUTE - k * MINUTE for k in (2, 1, 0)]
    rows = klines(sim, symbol="BTCUSDT", interval="1m", startTime=NOW + MINUTE).json()
    assert rows == []


def test_open_candle_changes_after_the_clock_moves(sim: Simulator, market: Market) -> None:
    server_time = requests.get(f"{sim.url}/fapi/v1/time", timeout=5).json()["serverTime"]
    live = klines(sim, symbol="ETHUSDT", interval="5m", limit=1).json()[0]
    assert live[0] <= server_time < live[6]
    sim.clock.advance(10 * MINUTE)
    closed = klines(sim, symbol="ETHUSDT", interval="5m", startTime=live[0], limit=1).json()[0]
    assert closed[0] == live[0] and closed[6] == live[6] < sim.clock.now_ms()
    assert values(closed) != values(live)
    assert (
        closed == market.closed_klines("ETHUSDT", "5m", live[0], live[0] + 1, sim.clock.now_ms())[0]
    )


def test_listing_bounds_over_http(sim: Simulator) -> None:
    delivery = ms(2026, 6, 1)
    rows = klines(sim, symbol="OLDUSDT", interval="1h", startTime=delivery - 2 * HOUR).json()
    assert [r[0] for r in rows] == [delivery - 2 * HOUR, delivery - HOUR]
    assert klines(sim, symbol="OLDUSDT", interval="1d", limit=3).json()[-1][6] < delivery
    rows = klines(sim, symbol="NEWUSDT", interval="1d", startTime=0, limit=3).json()
    assert rows[0][0] == ms(2026, 10, 15)
    assert klines(sim, symbol="NEWUSDT", interval="1h", endTime=ms(2026, 10, 14)).json() == []


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"symbol": "NOPEUSDT", "interval": "1m"}, -1121),
        ({"symbol": "BTCUSDT", "interval": "2m"}, -1120),
        ({"symbol": "BTCUSDT", "interval": "1m", "limit": 1501}, -1130),
        ({"symbol": "BTCUSDT", "interval": "1m", "limit": 0}, -1130),
        ({"symbol": "BTCUSDT", "interval": "1m", "startTime": 2, "endTime": 1}, -1023),
        ({"interval": "1m"}, -1102),
        ({"symbol": "BTCUSDT"}, -1102),
        ({"symbol": "BTCUSDT", "interval": "1m", "startTime": "abc"}, -1100),
    ],
)
def test_error_codes(sim: Simulator, params: dict[str, Any], code: int) -> None:
    resp = klines(sim, **params)
    assert resp.status_code == 400
    body = resp.json()
    assert body["code"] == code and isinstance(body["msg"], str)
    if code == -1130:
        assert body["msg"] == "Data sent for parameter 'limit' is not valid."
    if code == -1121:
        assert body["msg"] == "Invalid symbol."
