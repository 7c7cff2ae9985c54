"""Market-stream messages of Binance's WebSocket APIs (futures and spot), as pure functions
(no I/O).

The protocol core beside the client in :mod:`exchange.stream`: stream names and URLs,
control requests and replies, and the events of the two stream kinds we read:

- ``kline``: ``<symbol>@kline_<interval>`` -> :class:`KlineEvent`;
- ``markPrice``: ``<symbol>@markPrice`` (every 3 s) or ``<symbol>@markPrice@1s`` ->
  :class:`MarkPriceEvent`.

Which streams a market has, how often they send, and the route its streams need come from
the market's description (:mod:`exchange.markets`): :func:`market_streams`,
:func:`update_period_s`, :func:`required_route`. Binance's one-letter fields are renamed
once, here. Prices and volumes become
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
from .intervals import Interval
from .markets import DEFAULT_MARKET, DEFAULT_NETWORK, MARKETS, MarketSpec

MARKET_ROUTE = "/market"
# Binance documents up to 1024 streams per connection today and 200 in older pages;
# we stay at 200 (binance-api.md §5.4).
MAX_STREAMS_PER_CONNECTION = 200
# The stream kinds, as :func:`stream_kind` names them.
KLINE, MARK_PRICE = "kline", "markPrice"
STREAM_KINDS = (KLINE, MARK_PRICE)
# Seconds between mark-price events: ``@markPrice`` every 3 s, ``@markPrice@1s`` every second
# (Binance's futures docs, both markets).
MARK_PRICE_PERIOD_S, MARK_PRICE_FAST_PERIOD_S = 3.0, 1.0


@dataclass(frozen=True)
class RequiredRoute:
    """A URL path an exchange serves its market streams under, and nowhere else.

    On a URL without it the server still acknowledges SUBSCRIBE, then sends nothing
    (binance-api.md §5.1): the liveness diagnosis names the missing route as the likely
    cause of silence. Exchanges without such a rule have none (``None``).

    Attributes:
        path: the route, e.g. ``/market``.
        url: the documented base URL on it, suggested in the advice.
        since: the date (``YYYY-MM-DD``) the exchange began to require it; None where that
            is not documented (the rule is then assumed, not confirmed).
    """

    path: str
    url: str
    since: str | None = None

    def served_by(self, base_url: str) -> bool:
        """Whether a WebSocket base URL is on this route (a trailing ``/`` is allowed)."""
        return urlsplit(base_url).path.rstrip("/").endswith(self.path)


def required_route(market: MarketSpec, network: str) -> RequiredRoute | None:
    """The route rule of ``market``'s streams on ``network``, from its description
    (:meth:`~exchange.markets.MarketSpec.route`), with the documented URL on it; None where
    no rule is known (COIN-M, spot)."""
    path = market.route(network)
    if path is None:
        return None
    return RequiredRoute(path, market.ws_url(network), market.route_since(network))


# USDⓈ-M futures: klines, mark price and the other regular market streams live only
# under /market since the 2026-04-23 retirement of the legacy URLs (binance-api.md §5.1).
# The rule of the default market on mainnet, as its description gives it (equal to
# ``required_route(MARKETS["usdm"], "mainnet")``).
USDM_MARKET_ROUTE = RequiredRoute(
    MARKET_ROUTE,
    MARKETS[DEFAULT_MARKET].ws_url(DEFAULT_NETWORK),
    MARKETS[DEFAULT_MARKET].route_since(DEFAULT_NETWORK),
)


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

    @property
    def key(self) -> tuple[object, ...]:
        """What makes two events the same update: a repeat of the key is a duplicate."""
        return (self.event_time_ms, self.open_time_ms, self.close, self.volume, self.closed)


@dataclass(frozen=True)
class MarkPriceEvent:
    """One ``markPriceUpdate`` event: mark and index price, funding, at ``event_time_ms``.

    ``funding_rate`` and ``next_funding_time_ms`` are None for a delivery contract
    (COIN-M sends ``"r": ""`` and ``"T": 0`` for them).
    """

    stream: str
    event_time_ms: int
    symbol: str
    mark_price: Decimal
    index_price: Decimal
    estimated_settle_price: Decimal
    funding_rate: Decimal | None
    next_funding_time_ms: int | None

    @property
    def key(self) -> tuple[object, ...]:
        """What makes two events the same update: a repeat of the key is a duplicate."""
        return (self.event_time_ms, self.mark_price, self.index_price, self.funding_rate)


StreamEvent = KlineEvent | MarkPriceEvent


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


def mark_price_stream(symbol: str, every_second: bool = False) -> str:
    """``BTCUSDT`` -> ``btcusdt@markPrice`` (every 3 s), or ``btcusdt@markPrice@1s``."""
    return f"{symbol.lower()}@markPrice" + ("@1s" if every_second else "")


def stream_kind(name: str) -> str:
    """The kind of a stream name: ``kline`` or ``markPrice``.

    Raises:
        InvalidInput: a stream of another kind (depth, aggTrade, ...), or no symbol.
    """
    symbol, _, rest = name.partition("@")
    if symbol and rest.startswith("kline_") and len(rest) > len("kline_"):
        return KLINE
    if symbol and rest in ("markPrice", "markPrice@1s"):
        return MARK_PRICE
    raise InvalidInput(
        f"unsupported stream {name!r}: use <symbol>@kline_<interval>, <symbol>@markPrice "
        "or <symbol>@markPrice@1s"
    )


def market_streams(
    market: MarketSpec, symbols: Sequence[str], intervals: Sequence[str], mark_price: bool = False
) -> list[str]:
    """The streams a liveness run samples on ``market``: every symbol x interval's kline
    stream, then, with ``mark_price``, every symbol's ``@markPrice@1s``.

    Raises:
        InvalidInput: ``mark_price`` on a market without mark-price streams (spot).
    """
    if mark_price and not market.has_stream(MARK_PRICE):
        having = [m.name for m in MARKETS.values() if m.has_stream(MARK_PRICE)]
        raise InvalidInput(
            f"--mark-price: {market.title} has no mark-price stream (only {', '.join(having)} "
            "have one): drop --mark-price or that market"
        )
    streams = [stream_name(s, i) for s in symbols for i in intervals]
    if mark_price:
        streams += [mark_price_stream(s, every_second=True) for s in symbols]
    return streams


def update_period_s(market: MarketSpec, name: str) -> float:
    """Seconds between two events of stream ``name`` on ``market``: its kline cadence (or
    the interval, when shorter: spot's ``1s``), or the mark price's 3 s / 1 s."""
    if stream_kind(name) == MARK_PRICE:
        return MARK_PRICE_FAST_PERIOD_S if name.endswith("@1s") else MARK_PRICE_PERIOD_S
    interval = Interval.parse(name.partition("@kline_")[2])
    if interval.ms is None:
        return market.kline_update_s
    return min(market.kline_update_s, interval.ms / 1000)


def event_stream(name: str) -> str:
    """The stream name an event of stream ``name`` is filed under.

    An event on the raw endpoint does not name its stream, so the parser names it from
    the payload: a kline's name is exact, but a mark-price event does not say its speed,
    so ``btcusdt@markPrice@1s`` and ``btcusdt@markPrice`` are both filed under the latter.
    """
    return name.removesuffix("@1s") if name.endswith("@markPrice@1s") else name


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


def parse_frame(text: str | bytes) -> StreamEvent | Reply:
    """One text frame -> an event (raw or combined envelope) or a control reply.

    Raises:
        MalformedEvent: not JSON, not an object, an event of another kind than kline or
            markPriceUpdate, or a field is missing or of the wrong type.
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
    kind = msg.get("e")
    if kind == "kline":
        return parse_kline_event(msg, stream, text)
    if kind == "markPriceUpdate":
        return parse_mark_price_event(msg, stream, text)
    raise MalformedEvent(f"event type {kind!r}, expected 'kline' or 'markPriceUpdate'", text)


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


def parse_mark_price_event(
    msg: dict[str, Any], stream: str | None = None, raw: str | bytes = ""
) -> MarkPriceEvent:
    """A decoded ``markPriceUpdate`` event (the raw payload, not the combined envelope).

    Raises:
        MalformedEvent: a missing field, a wrong type, or another event type.
    """
    if msg.get("e") != "markPriceUpdate":
        raise MalformedEvent(f"event type {msg.get('e')!r}, expected 'markPriceUpdate'", raw)
    try:
        symbol = _str(msg["s"])
        next_funding = _int(msg["T"])
        return MarkPriceEvent(
            stream=stream or mark_price_stream(symbol),
            event_time_ms=_int(msg["E"]),
            symbol=symbol,
            mark_price=_dec(msg["p"]),
            index_price=_dec(msg["i"]),
            estimated_settle_price=_dec(msg["P"]),
            funding_rate=None if msg["r"] == "" else _dec(msg["r"]),
            next_funding_time_ms=next_funding or None,
        )
    except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
        raise MalformedEvent(f"bad markPrice event: {type(exc).__name__} {exc}", raw) from exc


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
            f"invalid WebSocket URL {base_url!r}: use e.g. "
            f"{MARKETS[DEFAULT_MARKET].ws_url(DEFAULT_NETWORK)} (KLINES_WS_URL or --ws-url)"
        )
    return base_url
