"""The simulator's WebSocket side: routes, live subscribe protocol, events, keep-alive, faults."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest
import requests
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from simulator import Simulator
from tests.simulator.conftest import NOW

T = TypeVar("T")
PERIOD = 0.02  # seconds between events in these tests (Binance: 0.25)


def run(coro: Awaitable[T], timeout: float = 10.0) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


@pytest.fixture
def fast(sim: Simulator) -> Simulator:
    sim.ws.settings.update(event_period_s=PERIOD)
    return sim


async def recv_json(ws: ClientConnection) -> Any:
    return json.loads(await ws.recv())


async def request(ws: ClientConnection, payload: Any) -> Any:
    """Send a control request and return the first reply (events are skipped)."""
    await ws.send(payload if isinstance(payload, str) else json.dumps(payload))
    while True:
        msg = await recv_json(ws)
        if "id" in msg:
            return msg


def test_raw_route_sends_raw_kline_events(fast: Simulator) -> None:
    async def go() -> list[Any]:
        async with connect(fast.ws_url + "/ws/btcusdt@kline_1m") as ws:
            return [await recv_json(ws) for _ in range(3)]

    events = run(go())
    assert all(e["e"] == "kline" and e["s"] == "BTCUSDT" and e["k"]["i"] == "1m" for e in events)
    assert events[0]["E"] == NOW and events[0]["k"]["t"] == NOW - 30_000
    assert events[0]["k"]["x"] is False
    assert all(isinstance(events[0]["k"][f], str) for f in "ochlvqVQ")


def test_combined_route_wraps_each_stream(fast: Simulator) -> None:
    async def go() -> set[str]:
        url = fast.ws_url + "/stream?streams=btcusdt@kline_1m/ethusdt@kline_5m"
        async with connect(url) as ws:
            seen = [await recv_json(ws) for _ in range(4)]
        assert all(m["data"]["e"] == "kline" for m in seen)
        return {m["stream"] for m in seen}

    assert run(go()) == {"btcusdt@kline_1m", "ethusdt@kline_5m"}


def test_live_subscribe_list_unsubscribe_and_errors(fast: Simulator) -> None:
    async def go() -> None:
        async with connect(fast.ws_url + "/ws") as ws:
            sub = {
                "method": "SUBSCRIBE",
                "params": ["btcusdt@kline_1m", "ethusdt@kline_1m"],
                "id": 1,
            }
            assert await request(ws, sub) == {"result": None, "id": 1}
            assert await request(ws, {"method": "LIST_SUBSCRIPTIONS", "id": 2}) == {
                "result": ["btcusdt@kline_1m", "ethusdt@kline_1m"],
                "id": 2,
            }
            unsub = {"method": "UNSUBSCRIBE", "params": ["ethusdt@kline_1m"], "id": 3}
            assert await request(ws, unsub) == {"result": None, "id": 3}
            assert (await request(ws, {"method": "LIST_SUBSCRIPTIONS", "id": 4}))["result"] == [
                "btcusdt@kline_1m"
            ]
            assert await request(
                ws, {"method": "GET_PROPERTY", "params": ["combined"], "id": 5}
            ) == {
                "result": False,
                "id": 5,
            }
            prop = {"method": "SET_PROPERTY", "params": ["combined", True], "id": 6}
            assert await request(ws, prop) == {"result": None, "id": 6}
            while "stream" not in (msg := await recv_json(ws)):
                pass
            assert msg["stream"] == "btcusdt@kline_1m"
        async with connect(fast.ws_url + "/ws") as ws:  # a fresh budget of 10 messages/s
            errors = [
                ("{not json", 3, "Invalid JSON"),
                ({"params": [], "id": 7}, 2, "missing field `method`"),
                ({"method": "SUBSCRIBE", "params": [], "id": -1}, 2, "unsigned integer"),
                ({"method": "PING", "id": 8}, 2, "unknown variant `PING`"),
                (
                    {"method": "SUBSCRIBE", "params": ["BTC USDT"], "id": 9},
                    2,
                    "invalid stream name",
                ),
                (
                    {"method": "SET_PROPERTY", "params": ["combined", 1], "id": 10},
                    1,
                    "expected Boolean",
                ),
                ({"method": "GET_PROPERTY", "params": ["colour"], "id": 11}, 0, "Unknown property"),
            ]
            for payload, code, text in errors:
                reply = await request(ws, payload)
                assert reply["code"] == code and text in reply["msg"], reply

    run(go())


def test_the_final_event_of_a_candle_equals_rest(fast: Simulator) -> None:
    async def go() -> list[dict[str, Any]]:
        async with connect(fast.ws_url + "/ws") as ws:
            params = ["btcusdt@kline_1m", "solusdt@kline_1m"]
            await request(ws, {"method": "SUBSCRIBE", "params": params, "id": 1})
            await recv_json(ws)  # the candle is open...
            fast.clock.advance(45_000)  # ...and closes at 00:08:00
            finals = []
            while len(finals) < 2:
                event = await recv_json(ws)
                if event["k"]["x"]:
                    finals.append(event)
            return finals

    finals = run(go())
    for event in finals:
        k = event["k"]
        rest = requests.get(
            f"{fast.url}/fapi/v1/klines",
            params={"symbol": k["s"], "interval": "1m", "startTime": k["t"], "limit": 1},
            timeout=5,
        ).json()[0]
        assert [
            k["t"],
            k["o"],
            k["h"],
            k["l"],
            k["c"],
            k["v"],
            k["T"],
            k["q"],
            k["n"],
            k["V"],
            k["Q"],
        ] == rest[:11]
        assert event["E"] > k["T"] and k["t"] == NOW - 30_000


async def raw_handshake(
    sim: Simulator, path: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A bare TCP WebSocket client that never answers pings (websockets always does)."""
    reader, writer = await asyncio.open_connection(sim.host, sim.port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101")
    return reader, writer


def test_a_client_that_never_pongs_is_dropped_at_the_deadline(fast: Simulator) -> None:
    fast.ws.settings.update(ping_interval_s=0.05, pong_timeout_s=0.2)

    async def go() -> bytes:
        reader, writer = await raw_handshake(fast, "/market/ws")
        data = await reader.read()  # until the server closes: a ping, then the close frame
        writer.close()
        return data

    data = run(go())
    assert data[0] == 0x89  # FIN + ping
    assert fast.ws.counts["closed_no_pong"] == 1


def test_a_client_that_pongs_stays_connected(fast: Simulator) -> None:
    fast.ws.settings.update(ping_interval_s=0.15, pong_timeout_s=0.1)  # pongs count: <10/s

    async def go() -> None:
        async with connect(fast.ws_url + "/ws/btcusdt@kline_1m") as ws:
            for _ in range(30):  # about 0.6 s: many pings, several pong deadlines
                await ws.recv()

    run(go())
    assert fast.ws.counts["closed_no_pong"] == 0


def test_connections_are_closed_at_the_age_limit(fast: Simulator) -> None:
    fast.ws.settings.update(max_age_s=0.2)

    async def go() -> ConnectionClosed:
        async with connect(fast.ws_url + "/ws/btcusdt@kline_1m") as ws:
            with pytest.raises(ConnectionClosed) as info:
                while True:
                    await ws.recv()
            return info.value

    closed = run(go())
    assert closed.rcvd is not None and closed.rcvd.code == 1000
    assert "age limit" in closed.rcvd.reason


def test_more_than_ten_incoming_messages_a_second_disconnects(fast: Simulator) -> None:
    async def go() -> ConnectionClosed:
        async with connect(fast.ws_url + "/ws") as ws:
            with pytest.raises(ConnectionClosed) as info:
                for i in range(11):
                    await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": i}))
                while True:
                    await ws.recv()
            return info.value

    closed = run(go())
    assert closed.rcvd is not None and closed.rcvd.code == 1008
    assert fast.ws.counts["closed_inbound_limit"] == 1


def test_the_legacy_route_acknowledges_but_stays_silent(fast: Simulator) -> None:
    sub = {"method": "SUBSCRIBE", "params": ["btcusdt@kline_1m"], "id": 1}

    async def go() -> list[str]:
        legacy_url = fast.ws_url.removesuffix("/market") + "/ws"
        async with connect(legacy_url) as legacy, connect(fast.ws_url + "/ws") as routed:
            assert await request(legacy, sub) == {"result": None, "id": 1}
            await request(routed, sub)
            for _ in range(10):  # ten periods of events on the routed connection...
                await routed.recv()
            await legacy.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 2}))
            return [await legacy.recv()]  # ...and on the legacy one only the reply

    assert run(go()) == ['{"result":["btcusdt@kline_1m"],"id":2}']
    fast.ws.settings.update(legacy_silent=False)

    async def unsilenced() -> Any:
        async with connect(fast.ws_url.removesuffix("/market") + "/ws/btcusdt@kline_1m") as ws:
            return await recv_json(ws)

    assert run(unsilenced())["e"] == "kline"


@pytest.mark.parametrize("status", [403, 451])
def test_a_refused_upgrade_gets_its_status(fast: Simulator, status: int) -> None:
    fast.ws.settings.update(reject_upgrade=status)

    async def go() -> None:
        async with connect(fast.ws_url + "/ws"):
            pass

    with pytest.raises(InvalidStatus) as info:
        run(go())
    assert info.value.response.status_code == status


def test_faults_stall_wrong_data_malformed_and_reset(fast: Simulator) -> None:
    fast.ws.settings.update(subscribe_error="Invalid request: too many parameters")

    async def rejected() -> Any:
        async with connect(fast.ws_url + "/ws") as ws:
            return await request(
                ws, {"method": "SUBSCRIBE", "params": ["btcusdt@kline_1m"], "id": 1}
            )

    assert run(rejected()) == {"code": 2, "msg": "Invalid request: too many parameters", "id": 1}
    fast.ws.settings.update(subscribe_error=None, malformed_every=2, wrong_data=True)

    async def bad_events() -> list[Any]:
        async with connect(fast.ws_url + "/ws/btcusdt@kline_1m") as ws:
            first, second = await recv_json(ws), await recv_json(ws)
            fast.clock.advance(30_000)
            while not (final := await recv_json(ws))["k"]["x"]:
                pass
            return [first, second, final]

    first, second, final = run(bad_events())
    assert isinstance(first["k"]["o"], str) and isinstance(second["k"]["o"], float)
    rest = fast.market.klines("BTCUSDT", "1m", NOW - 30_000, NOW - 30_000, NOW + 60_000, 1)[0]
    assert final["k"]["c"] != rest[4] and final["k"]["o"] == rest[1]
    fast.reset()
    assert fast.ws.settings.malformed_every == 0 and fast.ws.settings.event_period_s == 0.25


def test_events_stop_after_the_stall_time_but_the_connection_stays(fast: Simulator) -> None:
    fast.ws.settings.update(stall_after_s=0.1, ping_interval_s=0.15)

    async def go() -> int:
        async with connect(fast.ws_url + "/ws/btcusdt@kline_1m") as ws:
            n = 0
            with pytest.raises(TimeoutError):
                while True:
                    await asyncio.wait_for(ws.recv(), 0.3)
                    n += 1
            await ws.ping()  # still alive and answering
            return n

    assert 1 <= run(go()) <= 10
