"""Fault injection observed from a real HTTP client, and the control endpoints."""

from __future__ import annotations

import socket
import time

import pytest
import requests

from simulator import Market, Simulator
from tests.simulator.conftest import NOW

PARAMS = {"symbol": "BTCUSDT", "interval": "1m", "startTime": NOW - 10 * 60_000}


def klines(sim: Simulator, timeout: float = 5) -> requests.Response:
    return requests.get(f"{sim.url}/fapi/v1/klines", params=PARAMS, timeout=timeout)


def test_drop_closes_without_response(sim: Simulator) -> None:
    sim.faults.script = ["drop"]
    with pytest.raises(requests.ConnectionError):
        klines(sim)
    assert klines(sim).status_code == 200
    assert sim.stats.faults_injected == {"drop": 1}


def test_truncate_sends_half_the_body(sim: Simulator) -> None:
    sim.faults.script = ["truncate"]
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        klines(sim)
    raw = socket.create_connection((sim.host, sim.port), timeout=5)
    sim.faults.script = ["truncate"]
    raw.sendall(
        b"GET /fapi/v1/klines?symbol=BTCUSDT&interval=1h&limit=10 HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    data = b""
    while chunk := raw.recv(65536):
        data += chunk
    raw.close()
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    assert 0 < len(body) == length // 2


def test_slow_exceeds_client_timeout(sim: Simulator) -> None:
    sim.faults.update(script=["slow"], slow_seconds=2.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        klines(sim, timeout=0.3)
    assert klines(sim).status_code == 200  # other connections are not blocked


@pytest.mark.parametrize(
    ("kind", "status", "json_code"),
    [("500", 500, -1000), ("502", 502, None), ("503", 503, -1000), ("html403", 403, None)],
)
def test_server_error_kinds(sim: Simulator, kind: str, status: int, json_code: int | None) -> None:
    sim.faults.script = [kind]
    resp = klines(sim)
    assert resp.status_code == status
    if json_code is None:
        assert resp.headers["Content-Type"].startswith("text/html")
    else:
        assert resp.json()["code"] == json_code
    if kind == "html403":
        assert "403 ERROR" in resp.text and "Request blocked." in resp.text
    assert resp.headers["x-mbx-used-weight-1m"] == "0"  # faults are free
    assert sim.stats.faults_injected == {kind: 1}


def test_scripted_rate_limit_and_symbol_faults(sim: Simulator) -> None:
    sim.faults.script = ["429", "418", "-1121"]
    first, second, third = klines(sim), klines(sim), klines(sim)
    assert first.status_code == 429 and int(first.headers["Retry-After"]) >= 1
    assert second.status_code == 418 and second.headers["Retry-After"] == "120"
    assert third.status_code == 400 and third.json()["code"] == -1121
    assert klines(sim).status_code == 200
    assert sim.stats.count_429 == 1 and sim.stats.count_418 == 1


def test_invalid_symbols_listed_but_rejected(sim: Simulator) -> None:
    sim.faults.invalid_symbols = {"BTCUSDT"}
    assert klines(sim).json() == {"code": -1121, "msg": "Invalid symbol."}
    info = requests.get(f"{sim.url}/fapi/v1/exchangeInfo", timeout=5).json()
    assert "BTCUSDT" in {s["symbol"] for s in info["symbols"]}


def test_error_rate_is_deterministic(market: Market) -> None:
    def statuses(seed: int) -> list[int]:
        with Simulator(market, frozen_ms=NOW, seed=seed) as sim:
            sim.faults.update(error_rate=0.5, kinds=("500", "503"))
            return [klines(sim).status_code for _ in range(12)]

    a, b = statuses(5), statuses(5)
    assert a == b
    assert 200 in a and set(a) - {200} <= {500, 503} and set(a) != {200}


def test_restricted_and_waf_modes(sim: Simulator) -> None:
    sim.faults.restricted = True
    resp = requests.get(f"{sim.url}/fapi/v1/ping", timeout=5)
    assert resp.status_code == 451
    assert resp.json()["code"] == 0
    assert resp.json()["msg"].startswith("Service unavailable from a restricted location")
    sim.faults.update(restricted=False, waf_block=True)
    resp = klines(sim)
    assert resp.status_code == 403 and "Request blocked." in resp.text
    assert requests.get(f"{sim.url}/_sim/stats", timeout=5).status_code == 200


def test_latency_is_added(sim: Simulator) -> None:
    sim.faults.latency_ms = 200
    t0 = time.perf_counter()
    requests.get(f"{sim.url}/fapi/v1/ping", timeout=5)
    assert time.perf_counter() - t0 >= 0.19


def test_control_endpoints(sim: Simulator) -> None:
    post = lambda path, body: requests.post(f"{sim.url}{path}", json=body, timeout=5)  # noqa: E731
    assert post("/_sim/clock", {"freeze_ms": 1_000_000_000_000}).json()["now_ms"] == 10**12
    assert post("/_sim/clock", {"advance_ms": 500}).json()["now_ms"] == 10**12 + 500
    assert requests.get(f"{sim.url}/fapi/v1/time", timeout=5).json()["serverTime"] == 10**12 + 500
    assert post("/_sim/faults", {"script": ["503"]}).json()["script"] == ["503"]
    assert klines(sim).status_code == 503
    stats = requests.get(f"{sim.url}/_sim/stats", timeout=5).json()
    assert stats["responses_by_status"]["503"] == 1 and stats["faults_injected"] == {"503": 1}
    assert post("/_sim/faults", {"nope": 1}).status_code == 400
    assert post("/_sim/reset", {}).status_code == 200
    assert sim.stats.requests == 0 and sim.faults.script == []
    running = post("/_sim/clock", {"unfreeze": True}).json()
    assert running["frozen"] is False and running["now_ms"] >= 10**12 + 500


def test_keep_alive_and_unknown_path(sim: Simulator) -> None:
    with requests.Session() as session:
        for _ in range(3):
            assert session.get(f"{sim.url}/fapi/v1/ping", timeout=5).status_code == 200
        assert session.get(f"{sim.url}/fapi/v9/nothing", timeout=5).status_code == 404


def test_websocket_upgrade_is_handed_off(sim: Simulator) -> None:
    async def handler(req, reader, writer) -> None:  # type: ignore[no-untyped-def]
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nX-Path: " + req.path.encode() + b"\r\n\r\n"
        )
        await writer.drain()

    sim.add_upgrade_handler("/market/", handler)
    raw = socket.create_connection((sim.host, sim.port), timeout=5)
    raw.sendall(
        b"GET /market/ws/btcusdt@kline_1m HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\n\r\n"
    )
    reply = raw.recv(4096)
    raw.close()
    assert reply.startswith(b"HTTP/1.1 101") and b"X-Path: /market/ws/btcusdt@kline_1m" in reply
