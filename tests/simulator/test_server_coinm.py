"""COIN-M over HTTP (``/dapi/v1``): exchangeInfo, the 200-day window counting back from
``endTime``, the price kinds on both futures markets, the ticker, and the futures pool that
``/fapi`` and ``/dapi`` share."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from simulator import Market, Simulator
from tests.simulator.conftest import DAY, HOUR, MINUTE, NOW, ms
from tests.simulator.helpers import assert_row_invariants

DAPI = "/dapi/v1"


def get(sim: Simulator, path: str, **params: Any) -> requests.Response:
    return requests.get(f"{sim.rest_url}{path}", params=params, timeout=10)


def test_exchange_info_has_coinm_fields(sim: Simulator) -> None:
    info = get(sim, f"{DAPI}/exchangeInfo").json()
    assert info["rateLimits"][0] == {
        "rateLimitType": "REQUEST_WEIGHT",
        "interval": "MINUTE",
        "intervalNum": 1,
        "limit": 2400,  # the futures pool, shared with /fapi
    }
    rows = {s["symbol"]: s for s in info["symbols"]}
    assert set(rows) == {"BTCUSD_PERP", "ETHUSD_PERP", "BTCUSD_260925", "BTCUSD_261225",
                         "BTCUSD_270326", "XMRUSD_PERP"}  # fmt: skip
    btc = rows["BTCUSD_PERP"]
    assert (btc["pair"], btc["contractType"], btc["contractSize"]) == ("BTCUSD", "PERPETUAL", 100)
    assert (btc["baseAsset"], btc["quoteAsset"], btc["marginAsset"]) == ("BTC", "USD", "BTC")
    assert btc["contractStatus"] == "TRADING" and "status" not in btc
    assert btc["deliveryDate"] == 4133404800000 and btc["onboardDate"] == ms(2020, 8, 10, 8)
    assert rows["ETHUSD_PERP"]["contractSize"] == 10
    quarter = rows["BTCUSD_261225"]
    assert (quarter["contractType"], quarter["deliveryDate"]) == (
        "CURRENT_QUARTER",
        ms(2026, 12, 25, 8),
    )
    assert rows["XMRUSD_PERP"]["contractStatus"] == "SETTLING"


def test_both_times_give_the_most_recent_limit_counting_back_from_end(sim: Simulator) -> None:
    start, end = ms(2026, 10, 1), ms(2026, 10, 10)
    rows = get(sim, f"{DAPI}/klines", symbol="BTCUSD_PERP", interval="1h", startTime=start,
               endTime=end, limit=5).json()  # fmt: skip
    assert [r[0] for r in rows] == [end - k * HOUR for k in (4, 3, 2, 1, 0)]
    for row in rows:
        assert_row_invariants(row)
    assert rows == sim.market.closed_klines(
        "BTCUSD_PERP", "1h", end - 4 * HOUR, end + 1, NOW, market="coinm"
    )
    # the window still bounds the page: fewer candles than `limit` near startTime
    rows = get(sim, f"{DAPI}/klines", symbol="BTCUSD_PERP", interval="1h", startTime=end - HOUR,
               endTime=end, limit=5).json()  # fmt: skip
    assert [r[0] for r in rows] == [end - HOUR, end]


def test_only_start_time_ends_200_days_later_or_now(sim: Simulator) -> None:
    start = ms(2025, 1, 1)
    rows = get(sim, f"{DAPI}/klines", symbol="BTCUSD_PERP", interval="1d", startTime=start,
               limit=3).json()  # fmt: skip
    assert [r[0] for r in rows] == [start + (200 - k) * DAY for k in (2, 1, 0)]
    recent = get(sim, f"{DAPI}/klines", symbol="BTCUSD_PERP", interval="1d",
                 startTime=NOW - 5 * DAY, limit=3).json()  # fmt: skip
    assert recent[-1][0] <= NOW < recent[-1][6]  # capped at now: the open candle comes last


def test_only_end_time_starts_200_days_earlier(sim: Simulator) -> None:
    end = ms(2026, 9, 1)
    rows = get(sim, f"{DAPI}/klines", symbol="ETHUSD_PERP", interval="1w", endTime=end,
               limit=1500).json()  # fmt: skip
    assert rows[0][0] >= end - 200 * DAY and len(rows) == 29
    latest = get(sim, f"{DAPI}/klines", symbol="ETHUSD_PERP", interval="1m", limit=2).json()
    assert [r[0] for r in latest] == [NOW // MINUTE * MINUTE - MINUTE, NOW // MINUTE * MINUTE]


def test_more_than_200_days_is_refused(sim: Simulator) -> None:
    start = ms(2026, 1, 1)
    resp = get(sim, f"{DAPI}/klines", symbol="BTCUSD_PERP", interval="1d", startTime=start,
               endTime=start + 200 * DAY + 1)  # fmt: skip
    assert resp.status_code == 400
    assert resp.json() == {
        "code": -1127,
        "msg": "More than 4800 hours between startTime and endTime.",
    }
    ok = get(sim, f"{DAPI}/klines", symbol="BTCUSD_PERP", interval="1d", startTime=start,
             endTime=start + 200 * DAY)  # fmt: skip
    assert ok.status_code == 200 and len(ok.json()) == 201


@pytest.mark.parametrize("prefix", ["/fapi/v1", DAPI])
@pytest.mark.parametrize(
    ("path", "params", "kind"),
    [
        ("markPriceKlines", {"symbol": "{perp}"}, "mark"),
        ("indexPriceKlines", {"pair": "{pair}"}, "index"),
        ("premiumIndexKlines", {"symbol": "{perp}"}, "premium"),
        ("continuousKlines", {"pair": "{pair}", "contractType": "PERPETUAL"}, "continuous"),
    ],
)
def test_price_kinds_serve_the_truth_with_the_klines_weight(
    sim: Simulator, prefix: str, path: str, params: dict[str, str], kind: str
) -> None:
    market_name = "usdm" if prefix == "/fapi/v1" else "coinm"
    names = {"perp": "BTCUSDT", "pair": "BTCUSDT"} if market_name == "usdm" else {
        "perp": "BTCUSD_PERP", "pair": "BTCUSD"}  # fmt: skip
    query = {k: v.format(**names) for k, v in params.items()}
    end = ms(2026, 10, 5, 12)
    resp = get(sim, f"{prefix}/{path}", interval="1m", startTime=end - 99 * MINUTE, endTime=end,
               limit=100, **query)  # fmt: skip
    assert resp.status_code == 200 and resp.headers["x-mbx-used-weight-1m"] == "2"
    name = query.get("symbol") or query["pair"]
    truth = sim.market.closed_klines(name, "1m", end - 99 * MINUTE, end + 1, NOW,
                                     market=market_name, kind=kind,
                                     contract_type=query.get("contractType"))  # fmt: skip
    assert resp.json() == truth and len(truth) == 100


def test_price_kind_errors(sim: Simulator) -> None:
    cases = [
        ("/fapi/v1/indexPriceKlines", {"symbol": "BTCUSDT", "interval": "1m"}, -1102),
        ("/fapi/v1/indexPriceKlines", {"pair": "NOPE", "interval": "1m"}, -1121),
        ("/fapi/v1/continuousKlines", {"pair": "BTCUSDT", "interval": "1m"}, -1102),
        (
            "/fapi/v1/continuousKlines",
            {"pair": "BTCUSDT", "interval": "1m", "contractType": "CURRENT_MONTH"},
            -1130,
        ),  # fmt: skip
        ("/dapi/v1/markPriceKlines", {"symbol": "BTCUSDT", "interval": "1m"}, -1121),
        ("/dapi/v1/klines", {"symbol": "BTCUSD_PERP", "interval": "1s"}, -1120),
        (
            "/dapi/v1/premiumIndexKlines",
            {"symbol": "BTCUSD_PERP", "interval": "1m", "limit": 1501},
            -1130,
        ),  # fmt: skip
    ]
    for path, params, code in cases:
        resp = get(sim, path, **params)
        assert resp.status_code == 400 and resp.json()["code"] == code, (path, params)


def test_ticker_is_always_an_array_and_takes_a_pair(sim: Simulator) -> None:
    one = get(sim, f"{DAPI}/ticker/24hr", symbol="BTCUSD_PERP")
    assert one.headers["x-mbx-used-weight-1m"] == "1"
    (stats,) = one.json()
    assert stats["symbol"] == "BTCUSD_PERP" and stats["pair"] == "BTCUSD"
    assert stats == sim.market.ticker_24h("BTCUSD_PERP", NOW, market="coinm")
    pair = get(sim, f"{DAPI}/ticker/24hr", pair="BTCUSD").json()
    assert {s["symbol"] for s in pair} == {"BTCUSD_PERP", "BTCUSD_260925", "BTCUSD_261225",
                                           "BTCUSD_270326"}  # fmt: skip
    every = get(sim, f"{DAPI}/ticker/24hr")
    assert every.headers["x-mbx-used-weight-1m"] == str(1 + 40 + 40)
    both = get(sim, f"{DAPI}/ticker/24hr", symbol="BTCUSD_PERP", pair="BTCUSD")
    assert both.json()["code"] == -1128


def test_fapi_and_dapi_share_one_budget_and_its_429(market: Market) -> None:
    with Simulator(market, frozen_ms=NOW, weight_limit=10, ban_seconds=60, ban_after=1) as sim:
        for i in range(5):
            assert get(sim, "/fapi/v1/ping").headers["x-mbx-used-weight-1m"] == str(2 * i + 1)
            assert get(sim, f"{DAPI}/time").headers["x-mbx-used-weight-1m"] == str(2 * i + 2)
        refused = get(sim, f"{DAPI}/ping")
        assert refused.status_code == 429 and refused.json()["code"] == -1003
        assert "current limit is 10 requests per minute" in refused.json()["msg"]
        assert get(sim, "/fapi/v1/ping").status_code == 429
        assert get(sim, f"{DAPI}/ping").status_code == 418  # one pool, one ban
        assert get(sim, "/fapi/v1/time").status_code == 418
        spot = get(sim, "/api/v3/ping")  # spot's own pool is untouched
        assert spot.status_code == 200 and spot.headers["x-mbx-used-weight-1m"] == "1"
        assert sim.stats.weight_by_pool == {"futures": 10, "spot": 1}
