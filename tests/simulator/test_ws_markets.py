"""WebSocket streams of every market on the one port: COIN-M under ``/dstream``, spot under
``/spot`` (its cadence and ids), mark price and continuous kline streams, per-market settings."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from decimal import Decimal
from typing import Any, TypeVar

import pytest
import requests
from websockets.asyncio.client import ClientConnection, connect

from simulator import Simulator
from tests.simulator.conftest import NOW

T = TypeVar("T")
PERIOD = 0.02


def run(coro: Awaitable[T], timeout: float = 10.0) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


@pytest.fixture
def fast(sim: Simulator) -> Simulator:
    for feed in sim.ws_feeds.values():
        feed.settings.update(event_period_s=PERIOD, second_event_period_s=PERIOD,
                             mark_period_s=PERIOD, mark_fast_period_s=PERIOD)  # fmt: skip
    return sim


async def recv_json(ws: ClientConnection) -> Any:
    return json.loads(await ws.recv())


async def request(ws: ClientConnection, payload: Any) -> Any:
    await ws.send(json.dumps(payload))
    while "id" not in (msg := await recv_json(ws)):
        pass
    return msg


def rest(sim: Simulator, path: str, **params: Any) -> Any:
    return requests.get(f"{sim.rest_url}{path}", params=params, timeout=5).json()


def test_urls_of_every_market(sim: Simulator) -> None:
    base = f"ws://127.0.0.1:{sim.port}"
    assert sim.ws_url == f"{base}/market" and sim.ws_url("usdm") == f"{base}/market"
    assert (sim.ws_url("coinm"), sim.ws_url("spot")) == (f"{base}/dstream", f"{base}/spot")
    assert sim.rest_url == sim.url == sim.archive_url == f"http://127.0.0.1:{sim.port}"
    assert sim.urls()["ws_spot"] == f"{base}/spot"
    with pytest.raises(ValueError):
        sim.ws_url("options")


def test_coinm_klines_on_dstream_with_coinm_payload_and_rest_finals(fast: Simulator) -> None:
    async def go() -> tuple[dict[str, Any], dict[str, Any]]:
        async with connect(fast.ws_url("coinm") + "/ws/btcusd_perp@kline_1m") as ws:
            first = await recv_json(ws)
            fast.clock.advance(45_000)
            while not (final := await recv_json(ws))["k"]["x"]:
                pass
            return first, final

    first, final = run(go())
    assert first["s"] == "BTCUSD_PERP" and first["k"]["t"] == NOW - 30_000
    assert first["k"]["v"].isdigit() and len(first["k"]["q"].split(".")[1]) == 8
    k = final["k"]
    row = rest(fast, "/dapi/v1/klines", symbol="BTCUSD_PERP", interval="1m", startTime=k["t"],
               endTime=k["t"], limit=1)[0]  # fmt: skip
    assert [k[f] for f in "tohlcvTqnVQ"] == [row[i] for i in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)]


def test_spot_streams_under_spot_with_1s_klines(fast: Simulator) -> None:
    async def go() -> list[dict[str, Any]]:
        url = fast.ws_url("spot") + "/stream?streams=btcusdt@kline_1s/pepeusdt@kline_1m"
        async with connect(url) as ws:
            seen = [await recv_json(ws) for _ in range(2)]
            fast.clock.advance(1000)
            while not (msg := await recv_json(ws))["data"]["k"]["x"]:
                pass
            return [*seen, msg]

    *firsts, final = run(go())
    assert {m["stream"] for m in firsts} == {"btcusdt@kline_1s", "pepeusdt@kline_1m"}
    k = final["data"]["k"]
    assert (k["i"], k["t"], k["T"]) == ("1s", NOW, NOW + 999)
    row = rest(fast, "/api/v3/klines", symbol="BTCUSDT", interval="1s", startTime=NOW, limit=1)[0]
    assert [k[f] for f in "ohlcv"] == row[1:6] and len(k["o"].split(".")[1]) == 8


def test_spot_events_in_microseconds_on_request(fast: Simulator) -> None:
    async def go() -> dict[str, Any]:
        url = fast.ws_url("spot") + "/ws/ethusdt@kline_1m?timeUnit=MICROSECOND"
        async with connect(url) as ws:
            return await recv_json(ws)

    event = run(go())
    assert event["E"] == NOW * 1000
    assert (event["k"]["t"], event["k"]["T"]) == ((NOW - 30_000) * 1000, (NOW + 30_000) * 1000 - 1)


def test_spot_defaults_its_cadence_and_takes_string_ids(sim: Simulator) -> None:
    spot = sim.ws_feeds["spot"].settings
    assert (spot.event_period_s, spot.second_event_period_s) == (2.0, 1.0)
    assert (spot.ping_interval_s, spot.pong_timeout_s, spot.inbound_limit) == (20.0, 60.0, 5)
    assert sim.ws_feeds["coinm"].settings.event_period_s == 0.25

    async def go(url: str, rid: Any) -> Any:
        async with connect(url + "/ws") as ws:
            return await request(
                ws, {"method": "SUBSCRIBE", "params": ["btcusdt@kline_1m"], "id": rid}
            )

    assert run(go(sim.ws_url("spot"), "my-request")) == {"result": None, "id": "my-request"}
    assert run(go(sim.ws_url("spot"), None)) == {"result": None, "id": None}
    assert run(go(sim.ws_url("coinm"), "my-request"))["code"] == 2


@pytest.mark.parametrize("market_name", ["usdm", "coinm"])
def test_mark_price_streams_match_the_mark_and_index_klines(
    fast: Simulator, market_name: str
) -> None:
    symbol, pair = ("BTCUSDT", "BTCUSDT") if market_name == "usdm" else ("BTCUSD_PERP", "BTCUSD")

    async def go() -> dict[str, Any]:
        async with connect(fast.ws_url(market_name) + f"/ws/{symbol.lower()}@markPrice@1s") as ws:
            return await recv_json(ws)

    event = run(go())
    assert list(event) == (["e", "E", "s", "p", "i", "P", "r", "T"] if market_name == "usdm"
                           else ["e", "E", "s", "p", "P", "i", "r", "T"])  # fmt: skip
    assert (event["e"], event["E"], event["s"]) == ("markPriceUpdate", NOW, symbol)
    mark = fast.market.latest_klines(symbol, "1m", NOW, NOW, 1, market=market_name, kind="mark")
    index = fast.market.latest_klines(pair, "1m", NOW, NOW, 1, market=market_name, kind="index")
    assert (event["p"], event["i"]) == (mark[0][4], index[0][4])
    assert abs(Decimal(event["r"])) <= Decimal("0.0075") and event["T"] == 1793606400000


def test_coinm_delivery_contracts_have_no_funding(fast: Simulator) -> None:
    async def go() -> dict[str, Any]:
        async with connect(fast.ws_url("coinm") + "/ws/btcusd_261225@markPrice") as ws:
            return await recv_json(ws)

    event = run(go())
    assert (event["s"], event["r"], event["T"]) == ("BTCUSD_261225", "", 0)


def test_continuous_klines_and_the_route_rule_for_every_market_stream(fast: Simulator) -> None:
    async def routed() -> dict[str, Any]:
        async with connect(fast.ws_url + "/ws/btcusdt_perpetual@continuousKline_1m") as ws:
            return await recv_json(ws)

    event = run(routed())
    assert (event["e"], event["ps"], event["ct"]) == ("continuous_kline", "BTCUSDT", "PERPETUAL")
    assert "s" not in event["k"] and event["k"]["t"] == NOW - 30_000
    assert event["k"]["c"] == fast.market.latest_klines("BTCUSDT", "1m", NOW, NOW, 1)[0][4]

    async def legacy() -> list[str]:
        sub = {"method": "SUBSCRIBE", "id": 1,
               "params": ["btcusdt@markPrice@1s", "btcusdt_perpetual@continuousKline_1m"]}  # fmt: skip
        legacy_url = fast.ws_url.removesuffix("/market") + "/ws"
        async with connect(legacy_url) as legacy, connect(fast.ws_url + "/ws") as routed:
            await request(legacy, sub)
            await request(routed, sub)
            for _ in range(10):  # ten periods of events on the routed connection...
                await routed.recv()
            await legacy.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 2}))
            return [json.loads(await legacy.recv())["id"]]  # ...and on the legacy one the reply

    assert run(legacy()) == [2]


def test_settings_per_market_over_http_and_unknown_routes(sim: Simulator) -> None:
    post = requests.post(f"{sim.url}/_sim/ws?market=spot", json={"event_period_s": 0.5}, timeout=5)
    assert (
        post.json()["event_period_s"] == 0.5 and sim.ws_feeds["spot"].settings.event_period_s == 0.5
    )
    assert sim.ws.settings.event_period_s == 0.25
    assert requests.get(f"{sim.url}/_sim/ws?market=options", timeout=5).status_code == 400
    sim.reset()
    assert sim.ws_feeds["spot"].settings.event_period_s == 2.0

    async def go() -> None:
        async with connect(sim.ws_url("coinm") + "/nowhere"):
            pass

    with pytest.raises(Exception, match="404"):
        run(go())
