"""The stream client against the simulator: what it measures (the verdicts on those
measurements are tested without sockets in tests/liveness/).

Most tests run until what they wait for has happened, not through a fixed window; only
silence and a stall need one.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from exchange.errors import InvalidInput
from exchange.stream import KlineStreamClient, SampleResult, StreamConfig, sample_streams
from simulator import Market, Simulator
from tests.conftest import NOW_MS

BTC, ETH = "btcusdt@kline_1m", "ethusdt@kline_1m"
CANDLE_END = NOW_MS + 30_000  # the open 1m candle closes at 00:08:00


@pytest.fixture
def live(market: Market) -> Iterator[Simulator]:
    """A running simulator clock (lag is measured against it), fast events."""
    with Simulator(market, frozen_ms=NOW_MS) as sim:
        sim.ws.settings.update(event_period_s=0.02)
        sim.clock.unfreeze()
        yield sim


def config(base_url: str, **overrides: object) -> StreamConfig:
    values: dict[str, object] = dict(
        base_url=base_url, open_timeout=2.0, ack_timeout=1.0, close_timeout=0.5
    )
    values.update(overrides)
    return StreamConfig(**values)  # type: ignore[arg-type]


def run_until(
    url: str,
    streams: list[str],
    done: Callable[[KlineStreamClient], bool],
    timeout: float = 5.0,
    offset_ms: int = 0,
    **cfg: object,
) -> KlineStreamClient:
    """Subscribe, drain like a consumer until ``done(client)``, stop; the stopped client."""

    async def go() -> KlineStreamClient:
        client = KlineStreamClient(config(url, **cfg), streams, offset_ms)
        async with client:
            await client.wait_subscribed()
            async with asyncio.timeout(timeout):
                while not done(client):
                    client.data_ready.clear()
                    for name in streams:
                        client.drain(name)
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(0.02):
                            await client.data_ready.wait()
        return client

    return asyncio.run(go())


def sample(url: str, streams: list[str], seconds: float, **cfg: object) -> SampleResult:
    return asyncio.run(sample_streams(config(url, **cfg), streams, seconds))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_healthy_stream_is_measured_and_its_closed_candle_kept(live: Simulator) -> None:
    live.clock.advance(CANDLE_END - 300 - live.clock.now_ms())  # closes 0.3 s from now
    offset = live.clock.now_ms() - int(time.time() * 1000)  # the simulator's clock runs in 2026
    client = run_until(
        live.ws_url, [BTC, ETH], lambda c: all(s.closed for s in c.stats.values()), offset_ms=offset
    )
    conn = client.connections[0]
    assert conn.connect_ms is not None and conn.connect_ms > 0 and conn.disconnects == []
    for name in (BTC, ETH):
        s = client.stats[name]
        assert (s.ack, s.kind, s.parse_failures, s.overflow) == ("ok", "kline", 0, 0)
        assert s.events > 5 and len(s.lag_ms) == s.events and 0 <= min(s.lag_ms) < 500
        assert s.first_event_s is not None and s.first_event_s < 0.5
        assert [(e.open_time_ms, e.closed) for e in s.closed] == [(CANDLE_END - 60_000, True)]
        assert s.silence_at_end_s is not None and s.silence_at_end_s < 0.5


def test_tcp_refused_and_an_unknown_host_fail_at_dns_tcp() -> None:
    for url in (f"ws://127.0.0.1:{free_port()}/market", "ws://no-such-host.invalid/market"):
        conn = sample(url, [BTC], 5.0).connections[0]  # returns at once: nothing connected
        assert conn.failure_stage == "dns_tcp" and conn.failure_detail, url


@pytest.fixture
def plain_http_port() -> Iterator[int]:
    """A TCP server that answers anything, a TLS ClientHello included, with plain HTTP."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = server.accept()
                with conn:
                    conn.recv(4096)
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    server.close()


def test_tls_against_a_plain_server_fails_at_tls(plain_http_port: int) -> None:
    conn = sample(f"wss://127.0.0.1:{plain_http_port}/market", [BTC], 5.0).connections[0]
    assert conn.failure_stage == "tls"


@pytest.mark.parametrize("code", [451, 403])
def test_a_refused_upgrade_keeps_its_status(live: Simulator, code: int) -> None:
    live.ws.settings.update(reject_upgrade=code)
    conn = sample(live.ws_url, [BTC], 5.0).connections[0]
    assert (conn.failure_stage, conn.failure_status, conn.failure_detail) == (
        "upgrade",
        code,
        f"HTTP {code}",
    )


def test_a_rejected_subscription_keeps_the_servers_words(live: Simulator) -> None:
    live.ws.settings.update(subscribe_error="Invalid request: too many parameters")
    client = run_until(live.ws_url, [BTC, ETH], lambda c: True)
    for name in (BTC, ETH):
        assert (client.stats[name].ack, client.stats[name].ack_error) == (
            "rejected",
            "code 2: Invalid request: too many parameters",
        )


def test_the_legacy_route_acknowledges_then_stays_silent(live: Simulator) -> None:
    s = sample(live.ws_url.removesuffix("/market"), [BTC], 0.3).streams[0]
    assert (s.ack, s.events, s.first_event_s, s.silence_at_end_s) == ("ok", 0, None, None)


def test_a_stream_that_stops_is_measured_silent_at_the_end(live: Simulator) -> None:
    live.ws.settings.update(stall_after_s=0.15)
    s = sample(live.ws_url, [BTC], 0.5).streams[0]
    assert s.events > 0 and s.silence_at_end_s is not None and s.silence_at_end_s > 0.25


def test_a_server_disconnect_is_reconnected_once_and_recorded(live: Simulator) -> None:
    live.ws.settings.update(max_age_s=0.3)
    after: dict[str, int] = {}

    def events_again(c: KlineStreamClient) -> bool:
        if not c.connections[0].reconnects:
            return False
        after.setdefault("events", c.stats[BTC].events)
        return c.stats[BTC].events > after["events"] + 2

    client = run_until(live.ws_url, [BTC], events_again)
    conn = client.connections[0]
    assert (conn.reconnects, conn.reconnect_failure, len(conn.disconnects)) == (1, "", 1)
    assert "close code 1000 (connection age limit reached)" in conn.disconnects[0]
    assert conn.disconnects[0].startswith("at +0.")
    assert client.stats[BTC].ack == "ok"  # resubscribed


def test_a_second_disconnect_is_not_reconnected(live: Simulator) -> None:
    live.ws.settings.update(max_age_s=0.2)
    client = run_until(live.ws_url, [BTC], lambda c: len(c.connections[0].disconnects) == 2)
    conn = client.connections[0]
    assert conn.reconnects == 1 and len(conn.disconnects) == 2
    assert live.ws.counts["connections"] == 2


def test_unparseable_frames_are_counted_with_an_example(live: Simulator) -> None:
    live.ws.settings.update(malformed_every=3)
    client = run_until(live.ws_url, [BTC], lambda c: c.stats[BTC].parse_failures >= 2)
    s = client.stats[BTC]
    assert s.events > 0 and "decimal string" in s.parse_examples[0]


def test_server_pings_are_answered(live: Simulator) -> None:
    live.ws.settings.update(ping_interval_s=0.1, pong_timeout_s=0.1)
    result = sample(live.ws_url, [BTC], 0.5)
    assert result.connections[0].disconnects == [] and live.ws.counts["closed_no_pong"] == 0


def test_stop_is_idempotent_and_bounded_when_the_close_is_never_answered(live: Simulator) -> None:
    live.ws.settings.update(ignore_close=True)

    async def go() -> float:
        client = KlineStreamClient(config(live.ws_url, close_timeout=0.2), [BTC])
        async with client:
            await client.wait_subscribed()
            while not client.stats[BTC].events:
                await client.data_ready.wait()
            started = time.monotonic()
            await client.stop()
            took = time.monotonic() - started
        await client.stop()  # again: nothing to do
        return took

    assert asyncio.run(go()) < 1.0


def test_a_full_buffer_counts_what_it_drops(live: Simulator) -> None:
    async def go() -> tuple[int, int, int]:
        async with KlineStreamClient(config(live.ws_url, buffer_size=3), [BTC]) as client:
            while client.stats[BTC].events < 10:  # nobody drains
                client.data_ready.clear()
                await client.data_ready.wait()
            s = client.stats[BTC]
            return s.events, s.overflow, len(client.drain(BTC))

    events, overflow, kept = asyncio.run(go())
    assert kept == 3 and overflow == events - 3


def test_streams_are_spread_over_connections_with_one_subscribe_each(live: Simulator) -> None:
    streams = [BTC, ETH, "solusdt@kline_1m"]
    client = run_until(
        live.ws_url,
        streams,
        lambda c: all(s.events for s in c.stats.values()),
        streams_per_connection=2,
    )
    assert [c.streams for c in client.connections] == [[BTC, ETH], ["solusdt@kline_1m"]]
    assert live.ws.counts["connections"] == 2 and live.ws.counts["subscribe_requests"] == 2


def test_what_cannot_be_subscribed_is_refused_before_connecting() -> None:
    with pytest.raises(ValueError, match="1..200"):
        KlineStreamClient(StreamConfig(streams_per_connection=201), [BTC])
    with pytest.raises(InvalidInput, match="no streams"):
        KlineStreamClient(StreamConfig(), [])
    with pytest.raises(InvalidInput, match="unsupported stream 'btcusdt@depth'"):
        KlineStreamClient(StreamConfig(), [BTC, "btcusdt@depth"])
    with pytest.raises(InvalidInput, match="one speed of a symbol's mark price"):
        KlineStreamClient(StreamConfig(), ["btcusdt@markPrice", "btcusdt@markPrice@1s"])
