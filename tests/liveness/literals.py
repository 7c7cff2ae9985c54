"""Literal measurements for the pure liveness tests: healthy unless told otherwise."""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import Any

from exchange.stream import ConnectionStats, SampleResult, StreamStats
from exchange.ws_events import KlineEvent, stream_kind

BTC, ETH, BTC_MARK = "btcusdt@kline_1m", "ethusdt@kline_1m", "btcusdt@markPrice@1s"
OPEN_MS = 1793577960000  # 2026-11-02 00:06 UTC
WINDOW_S = 30.0


def stats(name: str = BTC, **fields: Any) -> StreamStats:
    """A stream that was acknowledged and delivered 120 events with a 40-85 ms lag."""
    values: dict[str, Any] = dict(
        connection=0,
        kind=stream_kind(name),
        ack="ok",
        events=120,
        first_event_s=0.25,
        lag_ms=deque([40.0, 50.0, 60.0, 85.0]),
        silence_at_end_s=0.2,
    )
    values.update(fields)
    return StreamStats(name, **values)


def connection(*streams: str, **fields: Any) -> ConnectionStats:
    """A connection opened in 12 ms that the server never closed."""
    values: dict[str, Any] = dict(connect_ms=12.0)
    values.update(fields)
    return ConnectionStats(0, "wss://exchange.test/market/ws", list(streams or (BTC,)), **values)


def sample(*streams: StreamStats, conn: ConnectionStats | None = None) -> SampleResult:
    """Every stream on one connection, over a 30 s window."""
    streams = streams or (stats(),)
    conn = conn or connection(*(s.stream for s in streams))
    return SampleResult(conn.url, WINDOW_S, 0, [conn], list(streams))


def closed_candle(open_ms: int = OPEN_MS, close: str = "65000.10") -> KlineEvent:
    """The final (``x: true``) event of the BTCUSDT 1m candle opening at ``open_ms``."""
    d = Decimal
    return KlineEvent(
        BTC, open_ms + 60_000, "BTCUSDT", "1m", open_ms, open_ms + 59_999, 1, 9,
        d("65000.00"), d("65010.00"), d("64990.00"), d(close), d("1.5"), 9, True,
        d("97500.15"), d("0.7"), d("45500.07"),
    )  # fmt: skip


def rest_row(event: KlineEvent, **changes: Any) -> list[Any]:
    """The REST row (binance-api.md §1's 12 fields) of a candle, with fields changed."""
    row: list[Any] = [
        event.open_time_ms, str(event.open), str(event.high), str(event.low), str(event.close),
        str(event.volume), event.close_time_ms, str(event.quote_volume), event.trade_count,
        str(event.taker_buy_base_volume), str(event.taker_buy_quote_volume), "0",
    ]  # fmt: skip
    index = {"close": 4, "trade_count": 8}
    for name, value in changes.items():
        row[index[name]] = value
    return row
