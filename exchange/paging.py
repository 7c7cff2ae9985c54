"""Forward paging of ``/fapi/v1/klines`` (or another kind's endpoint) by ``startTime``,
concurrently.

A range is cut into windows of exactly ``limit`` grid points, each fetched with
``startTime``/``endTime``. Windows are fixed by time, not by the last candle
returned, so a maintenance gap (an empty window) can neither stall paging nor
loop forever, and windows can be fetched in parallel.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from .intervals import Interval
from .markets import KINDS, KindSpec
from .rest import Page, RestClient


@dataclass(frozen=True)
class Window:
    """Open times ``start_ms`` to ``end_ms`` (both inclusive) of one request."""

    start_ms: int
    end_ms: int


def plan_windows(interval: Interval, start_ms: int, end_ms: int, limit: int) -> list[Window]:
    """Windows covering the grid points in ``[start_ms, end_ms)``, ``limit`` per window."""
    windows = []
    cursor = interval.ceil(start_ms)
    while cursor < end_ms:
        nxt = min(interval.add(cursor, limit), end_ms)
        windows.append(Window(cursor, nxt - 1))
        cursor = nxt
    return windows


def fetch_pages(
    client: RestClient,
    symbol: str,
    interval: Interval,
    windows: Sequence[Window],
    workers: int = 4,
    kind: KindSpec = KINDS["trade"],
) -> Iterator[Page]:
    """Fetch ``windows`` of ``kind``'s candles with up to ``workers`` requests in flight;
    yield pages in order (``symbol`` is a pair for kinds keyed by pair).

    At most ``2 * workers`` pages are held at once. The first failure is raised
    (in window order) after the requests already in flight finish.
    """
    limit = client.config.page_limit
    if workers <= 1 or len(windows) <= 1:
        for w in windows:
            yield client.klines_page(symbol, interval.name, w.start_ms, w.end_ms, limit, kind)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="klines-page") as pool:
        pending: deque[Future[Page]] = deque()
        todo = iter(windows)
        try:
            for w in todo:
                pending.append(
                    pool.submit(
                        client.klines_page, symbol, interval.name, w.start_ms, w.end_ms, limit, kind
                    )
                )
                if len(pending) >= 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
