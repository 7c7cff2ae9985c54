"""Kline stream messages of the USD-M WebSocket API, as pure functions (no I/O).

Binance's one-letter fields are renamed once, here. Prices and volumes become
``Decimal`` built from the exchange's strings, so ``str(value)`` gives back the exact
text (``"7.6080"`` stays ``"7.6080"``). Facts: binance-api.md §5.1-§5.3.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from .errors import InvalidInput, MalformedEvent

MARKET_ROUTE = "/market"
# Binance documents up to 1024 streams per connection today and 200 in older pages;
# we stay at 200 (binance-api.md §5.4).
MAX_STREAMS_PER_CONNECTION = 200


@dataclass(frozen=True)
class KlineEvent:
    """One ``kline`` event: the current state of one candle at ``event_time_ms``."""

    stream: str
    event_time_ms: int
    symbol: str
    interval: str
    open_time_ms: int
    close_time_ms: int
    first_trade_id: int
    last_trade_id: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    trade_count: int
    closed: bool
    quote_volume: Decimal
    taker_buy_base_volume: Decimal
    taker_buy_quote_volume: Decimal


@dataclass(frozen=True)
class Reply:
    """The answer to a control request: ``{"result": ..., "id": N}`` or an error."""

    id: int | None
    result: Any = None
    error_code: int | None = None
    error_msg: str | None = None

    @property
    def ok(self) -> bool:
        return self.error_code is None


@dataclass(frozen=True)
class FieldMismatch:
    """One field where the WebSocket's closed candle differs from REST's."""

    field: str
    ws: str
    rest: str


def stream_name(symbol: str, interval: str) -> str:
    """``BTCUSDT``, ``1m`` -> ``btcusdt@kline_1m`` (stream names are lowercase)."""
    return f"{symbol.lower()}@kline_{interval}"


def has_market_route(base_url: str) -> bool:
    """Whether a WS base URL is on the ``/market`` route klines live under since 2026-04-23."""
    return urlsplit(base_url).path.rstrip("/").endswith(MARKET_ROUTE)


def raw_url(base_url: str) -> str:
    """The raw-stream endpoint for live SUBSCRIBE: ``<base>/ws``."""
    return base_url.rstrip("/") + "/ws"


def combined_url(base_url: str, streams: Sequence[str]) -> str:
    """The combined endpoint with its streams: ``<base>/stream?streams=a/b``."""
    return base_url.rstrip("/") + "/stream?streams=" + "/".join(streams)


def subscribe_request(method: str, params: Sequence[str], request_id: int) -> str:
    """A control request; ``request_id`` must be an unsigned int (futures docs)."""
    if request_id < 0:
        raise ValueError("request id must be an unsigned integer")
    body: dict[str, Any] = {"method": method, "id": request_id}
    if method != "LIST_SUBSCRIPTIONS":
        body["params"] = list(params)
    return json.dumps(body, separators=(",", ":"))


def parse_frame(text: str | bytes) -> KlineEvent | Reply:
    """One text frame -> a kline event (raw or combined envelope) or a control reply.

    Raises:
        MalformedEvent: not JSON, not an object, not a kline event, or a field is
            missing or of the wrong type.
    """
    try:
        msg = json.loads(text)
    except ValueError as exc:
        raise MalformedEvent(f"not JSON: {exc}", text) from exc
    if not isinstance(msg, dict):
        raise MalformedEvent("not a JSON object", text)
    if "id" in msg and ("result" in msg or "code" in msg or "error" in msg):
        return _reply(msg)
    stream = None
    if "stream" in msg and "data" in msg:
        stream, msg = msg["stream"], msg["data"]
        if not isinstance(msg, dict):
            raise MalformedEvent("combined envelope without an object in 'data'", text)
    return parse_kline_event(msg, stream, text)


def parse_kline_event(
    msg: dict[str, Any], stream: str | None = None, raw: str | bytes = ""
) -> KlineEvent:
    """A decoded kline event (the raw payload, not the combined envelope).

    Raises:
        MalformedEvent: a missing field, a wrong type, or an event other than ``kline``.
    """
    if msg.get("e") != "kline":
        raise MalformedEvent(f"event type {msg.get('e')!r}, expected 'kline'", raw)
    try:
        k = msg["k"]
        symbol = _str(k["s"])
        interval = _str(k["i"])
        closed = k["x"]
        if not isinstance(closed, bool):
            raise TypeError("x is not a boolean")
        return KlineEvent(
            stream=stream or stream_name(symbol, interval),
            event_time_ms=_int(msg["E"]),
            symbol=symbol,
            interval=interval,
            open_time_ms=_int(k["t"]),
            close_time_ms=_int(k["T"]),
            first_trade_id=_int(k["f"]),
            last_trade_id=_int(k["L"]),
            open=_dec(k["o"]),
            high=_dec(k["h"]),
            low=_dec(k["l"]),
            close=_dec(k["c"]),
            volume=_dec(k["v"]),
            trade_count=_int(k["n"]),
            closed=closed,
            quote_volume=_dec(k["q"]),
            taker_buy_base_volume=_dec(k["V"]),
            taker_buy_quote_volume=_dec(k["Q"]),
        )
    except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
        raise MalformedEvent(f"bad kline event: {type(exc).__name__} {exc}", raw) from exc


# REST row index -> KlineEvent attribute (binance-api.md §1: the 12-field array)
_REST_FIELDS = (
    (0, "open_time_ms"),
    (1, "open"),
    (2, "high"),
    (3, "low"),
    (4, "close"),
    (5, "volume"),
    (6, "close_time_ms"),
    (7, "quote_volume"),
    (8, "trade_count"),
    (9, "taker_buy_base_volume"),
    (10, "taker_buy_quote_volume"),
)


def compare_with_rest(event: KlineEvent, row: Sequence[Any]) -> list[FieldMismatch]:
    """Field-by-field differences between a closed WS candle and the REST row of it.

    Values are compared exactly (as ``Decimal`` / ``int``), never as floats.
    """
    out = []
    for index, name in _REST_FIELDS:
        ws_value = getattr(event, name)
        rest_value = row[index]
        same = (
            Decimal(str(rest_value)) == ws_value
            if isinstance(ws_value, Decimal)
            else int(rest_value) == ws_value
        )
        if not same:
            out.append(FieldMismatch(name, str(ws_value), str(rest_value)))
    return out


def _reply(msg: dict[str, Any]) -> Reply:
    rid = msg.get("id")
    rid = rid if isinstance(rid, int) else None
    err = msg.get("error") if isinstance(msg.get("error"), dict) else msg
    if "code" in err:  # {"code": 2, "msg": "...", "id": 1} or {"error": {...}, "id": 1}
        return Reply(rid, None, int(err["code"]), str(err.get("msg", "")))
    return Reply(rid, msg.get("result"))


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {type(value).__name__}")
    return value


def _dec(value: Any) -> Decimal:
    if not isinstance(value, str):  # Binance sends prices and volumes as strings
        raise TypeError(f"expected a decimal string, got {type(value).__name__}")
    d = Decimal(value)
    if not d.is_finite():
        raise ValueError(f"not a finite decimal: {value!r}")
    return d


def check_ws_url(base_url: str) -> str:
    """A WebSocket base URL: ``ws://`` or ``wss://`` with a host.

    Raises:
        InvalidInput: any other scheme, or no host.
    """
    parts = urlsplit(base_url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise InvalidInput(
            f"invalid WebSocket URL {base_url!r}: use wss://fstream.binance.com/market "
            "(KLINES_WS_URL or --ws-url)"
        )
    return base_url
