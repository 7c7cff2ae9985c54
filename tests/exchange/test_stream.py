"""The stream client and the liveness verdicts against the simulator: one test per diagnosis."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from exchange.config import RestConfig
from exchange.liveness import FAIL, NOT_OBSERVED, PASS, WARN, LivenessReport, check_liveness
from exchange.rest import RestClient
from exchange.stream import KlineStreamClient, StreamConfig
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
        base_url=base_url, open_timeout=2.0, ack_timeout=1.0, close_timeout=0.5, stall_after=0.3
    )
    values.update(overrides)
    return StreamConfig(**values)  # type: ignore[arg-type]


def check(
    sim: Simulator,
    streams: list[str],
    seconds: float = 0.6,
    ws_url: str | None = None,
    **cfg: object,
) -> LivenessReport:
    rest = RestClient(RestConfig(base_url=sim.url, backoff_base=0.001, max_retries=1))
    return check_liveness(
        config(ws_url or sim.ws_url, **cfg), rest, streams, seconds, run_id="test"
    )


def status(report: LivenessReport, check_name: str, stream: str = BTC) -> tuple[str, str]:
    s = next(s for s in report.streams if s.stream == stream)
    c = next(c for c in s.checks if c.name == check_name)
    return c.status, c.detail


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def close_soon(sim: Simulator, ms_before: int = 400) -> None:
    """Move the clock so the open candle closes ``ms_before`` into the sample."""
    sim.clock.advance(CANDLE_END - ms_before - sim.clock.now_ms())


def test_a_healthy_sample_passes_and_its_closed_candles_equal_rest(live: Simulator) -> None:
    close_soon(live)
    report = check(live, [BTC, ETH], seconds=1.0)
    assert report.verdict == PASS and report.healthy and report.diagnosis == []
    for stream in (BTC, ETH):
        assert status(report, "rest", stream) == (
            PASS,
            "1 closed candles identical to REST, field by field",
        )
        m = next(s for s in report.streams if s.stream == stream).metrics
        assert m["events"] > 10 and m["closed_seen"] == 1 and m["parse_failures"] == 0
        assert m["lag_p95_ms"] is not None and 0 <= m["lag_p50_ms"] < 500
        assert m["connect_ms"] > 0 and m["first_event_s"] < 0.5


def test_a_window_without_a_close_is_not_observed_not_failed(live: Simulator) -> None:
    report = check(live, [BTC], seconds=0.3)
    assert status(report, "rest")[0] == NOT_OBSERVED
    assert report.verdict == PASS and "not observed" in report.notes[0]


def test_tcp_refused_is_a_dns_tcp_failure(live: Simulator) -> None:
    report = check(live, [BTC], ws_url=f"ws://127.0.0.1:{free_port()}/market")
    assert report.verdict == FAIL and not report.healthy
    assert status(report, "connect")[1].startswith("DNS/TCP failure")
    assert status(report, "events")[0] == "SKIP"
    assert "firewall" in report.next_steps[0]


def test_an_unknown_host_is_a_dns_tcp_failure(live: Simulator) -> None:
    report = check(live, [BTC], ws_url="ws://no-such-host.invalid/market")
    assert status(report, "connect")[1].startswith("DNS/TCP failure")


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


def test_tls_against_a_plain_server_is_a_tls_failure(live: Simulator, plain_http_port: int) -> None:
    report = check(live, [BTC], ws_url=f"wss://127.0.0.1:{plain_http_port}/market")
    assert report.verdict == FAIL
    assert status(report, "connect")[1].startswith("TLS failure")


@pytest.mark.parametrize(("code", "hint"), [(451, "location"), (403, "WAF")])
def test_a_refused_upgrade_names_the_status(live: Simulator, code: int, hint: str) -> None:
    live.ws.settings.update(reject_upgrade=code)
    report = check(live, [BTC])
    assert status(report, "connect") == (FAIL, f"HTTP upgrade refused: HTTP {code}")
    assert hint in report.next_steps[0]


def test_a_rejected_subscription_quotes_the_server(live: Simulator) -> None:
    live.ws.settings.update(subscribe_error="Invalid request: too many parameters")
    report = check(live, [BTC, ETH])
    assert status(report, "subscribe") == (
        FAIL,
        "subscription rejected by the server: code 2: Invalid request: too many parameters",
    )
    assert report.diagnosis[0].startswith(f"{BTC}, {ETH}: subscription rejected")


def test_silence_on_the_legacy_route_blames_the_missing_market_route(live: Simulator) -> None:
    report = check(live, [BTC], ws_url=live.ws_url.removesuffix("/market"))
    assert status(report, "subscribe")[0] == PASS
    text = status(report, "events")
    assert text[0] == FAIL and "subscribed but silent" in text[1] and "/market route" in text[1]
    assert "KLINES_WS_URL=wss://fstream.binance.com/market" in report.next_steps[0]


def test_silence_on_the_market_route_is_still_a_fail(live: Simulator) -> None:
    live.ws.settings.update(stall_after_s=0.0)
    report = check(live, [BTC])
    assert status(report, "events") == (FAIL, "subscribed but silent: 0 events in 0.6 s")
    assert "/market" not in report.diagnosis[0]


def test_a_stream_that_stops_is_stalled(live: Simulator) -> None:
    live.ws.settings.update(stall_after_s=0.15)
    report = check(live, [BTC], seconds=0.8)
    state, detail = status(report, "stall")
    assert (
        state == FAIL
        and detail.startswith("stream stalled after")
        and "nothing for the last" in detail
    )
    assert status(report, "events")[0] == PASS


def test_a_server_disconnect_is_reconnected_once_and_reported(live: Simulator) -> None:
    live.ws.settings.update(max_age_s=0.4)
    report = check(live, [BTC], seconds=0.7)
    state, detail = status(report, "connection")
    assert state == WARN and report.verdict == WARN and report.healthy
    assert "disconnected by the server mid-sample" in detail and "reconnected once" in detail
    assert "close code 1000 (connection age limit reached)" in detail
    assert status(report, "stall")[0] == PASS  # events flowed again after the reconnect


def test_a_second_disconnect_fails(live: Simulator) -> None:
    live.ws.settings.update(max_age_s=0.2)
    report = check(live, [BTC], seconds=0.8, stall_after=5.0)
    state, detail = status(report, "connection")
    assert state == FAIL and "closed again after the one reconnect" in detail


def test_unparseable_frames_fail_with_an_example(live: Simulator) -> None:
    live.ws.settings.update(malformed_every=3)
    report = check(live, [BTC])
    state, detail = status(report, "parse")
    assert state == FAIL and "frames could not be parsed" in detail and "decimal string" in detail


def test_rest_ws_disagreement_lists_the_field(live: Simulator) -> None:
    live.ws.settings.update(wrong_data=True)
    close_soon(live)
    report = check(live, [BTC], seconds=0.8)
    state, detail = status(report, "rest")
    assert state == FAIL and detail.startswith("REST/WS disagreement on 1 of 1 closed candles")
    assert "2026-11-02 00:07: close ws " in detail and "≠ rest" in detail
    assert "reconciling them with REST" in report.next_steps[0]


def test_server_pings_are_answered(live: Simulator) -> None:
    live.ws.settings.update(ping_interval_s=0.15, pong_timeout_s=0.1)
    report = check(live, [BTC], seconds=0.8)
    assert status(report, "connection") == (PASS, "no disconnect")
    assert live.ws.counts["closed_no_pong"] == 0


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
    report = check(live, streams, streams_per_connection=2)
    assert report.verdict == PASS
    assert live.ws.counts["connections"] == 2 and live.ws.counts["subscribe_requests"] == 2


def test_more_than_200_streams_per_connection_is_refused() -> None:
    with pytest.raises(ValueError, match="1..200"):
        KlineStreamClient(StreamConfig(streams_per_connection=201), [BTC])
