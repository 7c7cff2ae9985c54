"""The liveness I/O against the simulator: a sample, the REST cross-check, the clock."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import pytest

from exchange.config import RestConfig
from exchange.errors import ExchangeError
from exchange.rest import RestClient
from exchange.stream import StreamConfig
from liveness.checks import CandleCheck
from liveness.probe import SamplePlan, clock_offset_ms, cross_check, run_sample, run_samples
from simulator import Market, Simulator
from tests.conftest import NOW_MS
from tests.liveness.literals import BTC, ETH, OPEN_MS, closed_candle, sample, stats


@pytest.fixture
def live(market: Market) -> Iterator[Simulator]:
    with Simulator(market, frozen_ms=NOW_MS) as sim:
        sim.ws.settings.update(event_period_s=0.02)
        sim.clock.unfreeze()
        yield sim


def rest(url: str) -> RestClient:
    return RestClient(RestConfig(base_url=url, backoff_base=0.001, max_retries=1))


def stream_config(url: str) -> StreamConfig:
    return StreamConfig(base_url=url, open_timeout=2.0, ack_timeout=1.0, close_timeout=0.5)


def test_a_sampled_close_is_identical_to_rest_and_the_clock_offset_is_the_exchanges(
    live: Simulator,
) -> None:
    live.clock.advance(NOW_MS + 30_000 - 300 - live.clock.now_ms())  # closes 0.3 s from now
    client = rest(live.url)
    offset = clock_offset_ms(client)
    assert abs(offset - (live.clock.now_ms() - time.time() * 1000)) < 1000
    result = run_sample(stream_config(live.ws_url), [BTC, ETH], 0.8, offset)
    assert [len(s.closed) for s in result.streams] == [1, 1]
    assert 0 <= min(result.streams[0].lag_ms) < 500  # the offset is applied
    checked = cross_check(client, result)
    assert checked == {BTC: [CandleCheck(NOW_MS + 30_000 - 60_000, [])], ETH: checked[ETH]}
    assert checked[ETH] and not checked[ETH][0].mismatches


def test_rest_lists_every_field_it_disagrees_on_and_candles_it_lacks(live: Simulator) -> None:
    literal = sample(stats(closed=[closed_candle(), closed_candle(NOW_MS + 3_600_000)]))
    first, later = cross_check(rest(live.url), literal)[BTC]
    assert first.open_time_ms == OPEN_MS and not first.missing
    assert {m.field for m in first.mismatches} >= {"open", "close", "volume"}
    assert later == CandleCheck(NOW_MS + 3_600_000, missing=True)  # not yet on the exchange


def test_every_markets_host_is_sampled_at_once_with_its_own_streams(live: Simulator) -> None:
    live.ws_feeds["coinm"].settings.update(event_period_s=0.02, mark_fast_period_s=0.05)
    coinm = ["btcusd_perp@kline_1m", "btcusd_perp@markPrice@1s"]
    plans = [
        SamplePlan(stream_config(live.ws_url("usdm")), [BTC]),
        SamplePlan(stream_config(live.ws_url("coinm")), coinm, offset_ms=5),
    ]
    usdm_sample, coinm_sample = run_samples(plans, 0.5)
    assert [s.stream for s in usdm_sample.streams] == [BTC]
    assert [s.stream for s in coinm_sample.streams] == coinm
    assert usdm_sample.url == live.ws_url("usdm") + "/ws"
    assert coinm_sample.url == live.ws_url("coinm") + "/ws" and coinm_sample.clock_offset_ms == 5
    assert all(s.events for s in [*usdm_sample.streams, *coinm_sample.streams])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_rest_that_cannot_be_reached_raises_for_the_caller_to_report() -> None:
    with pytest.raises(ExchangeError):
        cross_check(rest(f"http://127.0.0.1:{free_port()}"), sample(stats(closed=[closed_candle()])))  # fmt: skip


def test_a_sample_started_inside_a_running_loop_runs_in_a_worker_thread() -> None:
    async def inside() -> str:
        url = f"ws://127.0.0.1:{free_port()}/market"
        return run_sample(stream_config(url), [BTC], 5.0).connections[0].failure_stage

    assert asyncio.run(inside()) == "dns_tcp"
