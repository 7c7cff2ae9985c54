"""The I/O of the liveness check: sampling the streams, the REST cross-check, the clock.

Thin on purpose: the WebSocket work is :func:`exchange.stream.sample_streams`' and the
REST work :class:`exchange.rest.RestClient`'s; what they measure is judged by the pure
:mod:`liveness.checks` and :mod:`liveness.diagnosis`. Inputs (URLs, stream names) are
taken as given: the flow checked them once.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from exchange.rest import RestClient
from exchange.stream import SampleResult, StreamConfig, sample_streams

from .checks import CandleCheck, compare_candle


@dataclass(frozen=True)
class SamplePlan:
    """What to sample on one stream host.

    Attributes:
        config: the WebSocket base URL, timeouts, buffer size.
        streams: kline and mark-price stream names (the caller's choice).
        offset_ms: exchange clock minus local clock, for the lag (:func:`clock_offset_ms`).
    """

    config: StreamConfig
    streams: Sequence[str]
    offset_ms: int = 0


def run_sample(
    config: StreamConfig, streams: Sequence[str], seconds: float, offset_ms: int = 0
) -> SampleResult:
    """Subscribe to ``streams`` and measure them for ``seconds`` (one host:
    :func:`run_samples` of one plan)."""
    return run_samples([SamplePlan(config, streams, offset_ms)], seconds)[0]


def run_samples(plans: Sequence[SamplePlan], seconds: float) -> list[SampleResult]:
    """Sample every plan's streams at the same time (one market's host each), each for
    ``seconds`` after its subscriptions are acknowledged; the results in plan order.

    Runs :func:`~exchange.stream.sample_streams` on its own event loop, in a worker thread
    when this thread already runs one.
    """

    async def every() -> list[SampleResult]:
        return list(
            await asyncio.gather(
                *(sample_streams(p.config, p.streams, seconds, p.offset_ms) for p in plans)
            )
        )

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(every())
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, every()).result()


def cross_check(client: RestClient, sample: SampleResult) -> dict[str, list[CandleCheck]]:
    """Fetch every closed candle seen on the streams over REST and compare field by field.

    One ``klines`` request per closed candle; streams that saw none (mark-price streams
    never do) map to an empty list.

    Raises:
        ExchangeError: REST failed (the caller reports it as a failed check).
    """
    out: dict[str, list[CandleCheck]] = {}
    for s in sample.streams:
        checks = []
        for event in s.closed:
            page = client.klines_page(
                event.symbol, event.interval, event.open_time_ms, event.open_time_ms, 1
            )
            checks.append(compare_candle(event, json.loads(page.body)))
        out[s.stream] = checks
    return out


def clock_offset_ms(client: RestClient) -> int:
    """Exchange clock minus local clock in ms, from the exchange's server time (taken at
    the midpoint of the call).

    Raises:
        ExchangeError: REST failed.
    """
    before = time.time()
    server_ms = client.server_time_ms()
    return int(server_ms - (before + time.time()) / 2 * 1000)
