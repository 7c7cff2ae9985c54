"""The simulator's WebSocket market streams, on the same loopback server as its REST side.

One port plays several hosts, so each market has its own path prefix and its own feed
(:class:`WsFeed`), with its own settings, faults and counters:

* USDⓈ-M (fstream): raw ``/market/ws[/<stream>]`` and combined ``/market/stream?streams=a/b``
  (binance-api.md §5.1); the legacy ``/ws`` and ``/stream`` (no ``/market``) accept and
  acknowledge but, like Binance since 2026-04-23, send no market event
  (``WsSettings.legacy_silent``);
* COIN-M (dstream): ``/dstream/ws[/<stream>]`` and ``/dstream/stream?streams=...``;
* spot: ``/spot/ws[/<stream>]`` and ``/spot/stream?streams=...`` (spot's cadence and limits:
  klines every 2 s, 1 s for ``1s``; pings every 20 s, pong within a minute, 5 messages a
  second; request ids may also be strings or null; ``?timeUnit=MICROSECOND`` switches event
  times to microseconds).

Live ``SUBSCRIBE`` / ``UNSUBSCRIBE`` / ``LIST_SUBSCRIPTIONS`` / ``SET_PROPERTY`` /
``GET_PROPERTY`` answer like Binance (§5.3). What each stream sends, and how often, is in
:mod:`simulator.ws_streams`: kline events for the current candle, computed from
:class:`~simulator.market.Market` at the simulator clock, the final ``x: true`` event first
with exactly the values REST returns; mark price updates. Keep-alive and limits (§5.4):
server pings with a pong deadline, a forced disconnect at ``max_age_s`` and at most
``inbound_limit`` incoming messages per second.

The handshake and framing are websockets' sans-I/O :class:`~websockets.server.ServerProtocol`
over the raw streams the HTTP server hands over.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections import Counter, deque
from dataclasses import dataclass, field, fields
from typing import Any

from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol

from simulator.clock import SimClock
from simulator.market import Market
from simulator.wire import Request, Response
from simulator.ws_streams import Stream, in_microseconds, kline_event, parse

__all__ = ["PREFIXES", "ROUTES", "ROUTE_PREFIXES", "WsFeed", "WsSettings", "kline_event"]

PREFIXES = {"usdm": "/market", "coinm": "/dstream", "spot": "/spot"}
"""Each market's WebSocket base path on the simulator's one port."""
ROUTES = {"usdm": ("/market/", "/ws", "/stream"), "coinm": ("/dstream/",), "spot": ("/spot/",)}
"""The upgrade path prefixes each market's feed takes."""
ROUTE_PREFIXES = ROUTES["usdm"]
_STREAM = re.compile(r"[a-z0-9_]+@[A-Za-z0-9_@]+")
_METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")


@dataclass
class WsSettings:
    """WebSocket behaviour and faults, switchable per test; ``reset()`` restores Binance's.

    Attributes:
        event_period_s: seconds between events of one kline stream (Binance: 0.25; spot 2).
        second_event_period_s: the same for spot's ``1s`` klines (Binance: 1).
        mark_period_s: seconds between ``@markPrice`` events (Binance: 3).
        mark_fast_period_s: seconds between ``@markPrice@1s`` events (Binance: 1).
        ping_interval_s: seconds between server pings (Binance: 180).
        pong_timeout_s: the connection is dropped when a ping is not answered in time (600).
        max_age_s: forced disconnect after this connection age (Binance: 24 h).
        inbound_limit: incoming messages (text, ping, pong) per second; more disconnects.
        max_streams: streams per connection (Binance documents 1024).
        legacy_silent: routes without ``/market`` acknowledge but send no kline event.
        reject_upgrade: answer the upgrade with this HTTP status (e.g. 403, 451), no 101.
        subscribe_error: answer every SUBSCRIBE with ``{"code": 2, "msg": <this>}``.
        stall_after_s: stop sending events this long after the connection opened.
        wrong_data: the final ``x: true`` event carries a close that REST disagrees with.
        malformed_every: every Nth event frame has a number where a string belongs (0: off).
        ignore_close: never answer a client's close frame (the socket stays open).
    """

    event_period_s: float = 0.25
    second_event_period_s: float = 1.0
    mark_period_s: float = 3.0
    mark_fast_period_s: float = 1.0
    ping_interval_s: float = 180.0
    pong_timeout_s: float = 600.0
    max_age_s: float = 86_400.0
    inbound_limit: int = 10
    max_streams: int = 1024
    legacy_silent: bool = True
    reject_upgrade: int | None = None
    subscribe_error: str | None = None
    stall_after_s: float | None = None
    wrong_data: bool = False
    malformed_every: int = 0
    ignore_close: bool = False

    @classmethod
    def for_market(cls, market: str) -> WsSettings:
        """Binance's documented behaviour on ``market`` (``usdm``, ``coinm``, ``spot``)."""
        settings = cls(**_MARKET_DEFAULTS.get(market, {}))  # type: ignore[arg-type]
        settings._market = market
        return settings

    def reset(self) -> None:
        """Back to the defaults (Binance's documented behaviour on this market)."""
        own = _MARKET_DEFAULTS.get(getattr(self, "_market", "usdm"), {})
        for f in fields(self):
            setattr(self, f.name, own.get(f.name, f.default))

    def update(self, **changes: Any) -> None:
        """Set fields by name."""
        names = {f.name for f in fields(self)}
        unknown = set(changes) - names
        if unknown:
            raise ValueError(f"unknown WebSocket settings: {sorted(unknown)}")
        for name, value in changes.items():
            setattr(self, name, value)


_EARLY_S = 0.002  # a stream due this soon is sent now
_MARKET_DEFAULTS: dict[str, dict[str, object]] = {
    "spot": {
        "event_period_s": 2.0,
        "ping_interval_s": 20.0,
        "pong_timeout_s": 60.0,
        "inbound_limit": 5,
    },  # fmt: skip
}


@dataclass
class _Conn:
    protocol: ServerProtocol
    writer: asyncio.StreamWriter
    routed: bool
    combined: bool
    opened: float = field(default_factory=time.monotonic)
    subs: dict[str, Stream | None] = field(default_factory=dict)
    inbound: deque[float] = field(default_factory=deque)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    closing: bool = False
    micros: bool = False
    events_sent: int = 0
    last_pong: float = field(default_factory=time.monotonic)


class WsFeed:
    """Serves one market's streams; a :class:`~simulator.server.Simulator` has one per market."""

    def __init__(
        self,
        market: Market,
        clock: SimClock,
        name: str = "usdm",
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        """``name`` is the market; ``headers`` are added to every handshake response."""
        self.market = market
        self.clock = clock
        self.name = name
        self.prefix = PREFIXES[name]
        self.routes = ROUTES[name]
        self.headers = list(headers or [])
        self.settings = WsSettings.for_market(name)
        self.counts: Counter[str] = Counter()  # connections, events, closes by reason
        self.open_connections = 0

    def reset(self) -> None:
        """Default settings and zero counters."""
        self.settings.reset()
        self.counts.clear()

    # ------------------------------------------------------------------ connection

    async def handle(
        self, req: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Take over one upgrade request until the connection ends."""
        s = self.settings
        routed = req.path.startswith(self.prefix + "/")
        route = req.path.removeprefix(self.prefix) if routed else req.path
        if s.reject_upgrade is not None:
            self.counts["rejected_upgrades"] += 1
            resp = Response.error(
                s.reject_upgrade, 0, f"WebSocket upgrade refused ({s.reject_upgrade})"
            )
            writer.write(resp.head_bytes(self.clock.now_ms(), False) + resp.body)
            await writer.drain()
            return
        if route.startswith("/ws/"):
            initial, combined = [route[4:]], False
        elif route == "/ws":
            initial, combined = [], False
        elif route == "/stream":
            names = req.query.get("streams", "")
            initial, combined = [n for n in names.split("/") if n], True
        else:
            resp = Response.error(404, 0, "not found")
            writer.write(resp.head_bytes(self.clock.now_ms(), False) + resp.body)
            await writer.drain()
            return
        protocol = ServerProtocol(max_size=2**20)
        protocol.receive_data(_request_bytes(req))
        handshake = protocol.events_received()[0]
        response = protocol.accept(handshake)  # type: ignore[arg-type]
        for key, value in self.headers:
            response.headers[key] = value
        protocol.send_response(response)
        conn = _Conn(protocol, writer, routed, combined)
        conn.micros = self.name == "spot" and req.query.get("timeUnit", "").upper() == "MICROSECOND"
        await self._flush(conn)
        if response.status_code != 101:
            return
        for name in initial:
            if _STREAM.fullmatch(name):
                conn.subs[name] = self._state(name)
        self.counts["connections"] += 1
        self.open_connections += 1
        tasks = [
            asyncio.create_task(self._tick(conn)),
            asyncio.create_task(self._keepalive(conn)),
        ]
        try:
            await self._read(conn, reader)
        finally:
            self.open_connections -= 1
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _read(self, conn: _Conn, reader: asyncio.StreamReader) -> None:
        """Feed received bytes to the protocol and answer what comes out."""
        p = conn.protocol
        pending: list[bytes] = []
        while True:
            data = await reader.read(65536)
            if not data:
                p.receive_eof()
                return
            p.receive_data(data)
            for frame in p.events_received():
                assert isinstance(frame, Frame)
                if frame.opcode in (Opcode.TEXT, Opcode.PING, Opcode.PONG):
                    if self._over_limit(conn):
                        self.counts["closed_inbound_limit"] += 1
                        await self._close(conn, 1008, "Too many requests")
                        return
                if frame.opcode is Opcode.PONG:
                    conn.last_pong = time.monotonic()
                elif frame.opcode is Opcode.CLOSE:
                    if self.settings.ignore_close:
                        p.data_to_send()  # drop the automatic close reply: never answer
                        conn.closing = True
                        await _drain_until_eof(reader)
                        return
                elif frame.opcode in (Opcode.TEXT, Opcode.CONT):
                    pending.append(frame.data)
                    if frame.fin:
                        text = b"".join(pending).decode("utf-8", "replace")
                        pending.clear()
                        reply = self._control(conn, text)
                        p.send_text(json.dumps(reply, separators=(",", ":")).encode())
            await self._flush(conn)
            if p.state is State.CLOSED or p.close_expected():
                return

    def _over_limit(self, conn: _Conn) -> bool:
        now = time.monotonic()
        conn.inbound.append(now)
        while conn.inbound and conn.inbound[0] <= now - 1.0:
            conn.inbound.popleft()
        return len(conn.inbound) > self.settings.inbound_limit

    async def _flush(self, conn: _Conn) -> None:
        chunks = conn.protocol.data_to_send()
        if not chunks or conn.writer.is_closing():
            return
        async with conn.lock:
            for chunk in chunks:
                if chunk:
                    conn.writer.write(chunk)
                else:  # end of stream requested by the protocol
                    with contextlib.suppress(OSError, RuntimeError):
                        conn.writer.write_eof()
            with contextlib.suppress(ConnectionError):
                await conn.writer.drain()

    async def _close(self, conn: _Conn, code: int, reason: str) -> None:
        """Send a close frame, then drop the TCP connection."""
        if conn.closing:
            return
        conn.closing = True
        with contextlib.suppress(Exception):
            conn.protocol.send_close(code, reason)
            await self._flush(conn)
        conn.writer.close()

    # ------------------------------------------------------------------ control requests

    def _control(self, conn: _Conn, text: str) -> dict[str, Any]:
        """Answer one JSON request like Binance (binance-api.md §5.3)."""
        try:
            msg = json.loads(text)
        except ValueError as exc:
            line, col = getattr(exc, "lineno", 1), getattr(exc, "colno", 1)
            return _err(3, f"Invalid JSON: expected value at line {line} column {col}", None)
        if not isinstance(msg, dict) or "method" not in msg:
            return _err(2, "Invalid request: missing field `method`", None)
        rid = msg.get("id")
        if not self._valid_id(rid):
            return _err(2, "Invalid request: request ID must be an unsigned integer", None)
        method, params = msg["method"], msg.get("params", [])
        if method not in _METHODS:
            variants = ", ".join(f"`{m}`" for m in _METHODS)
            return _err(
                2, f"Invalid request: unknown variant `{method}`, expected one of {variants}", rid
            )
        if not isinstance(params, list):
            return _err(2, "Invalid request: invalid type: expected a sequence", rid)
        if method == "LIST_SUBSCRIPTIONS":
            return {"result": list(conn.subs), "id": rid}
        if method in ("SET_PROPERTY", "GET_PROPERTY"):
            return self._property(conn, method, params, rid)
        if not all(isinstance(p, str) and _STREAM.fullmatch(p) for p in params):
            bad = next(p for p in params if not (isinstance(p, str) and _STREAM.fullmatch(p)))
            return _err(2, f"Invalid request: invalid stream name {bad!r}", rid)
        if method == "SUBSCRIBE":
            self.counts["subscribe_requests"] += 1
            if self.settings.subscribe_error:
                return _err(2, self.settings.subscribe_error, rid)
            if len(set(conn.subs) | set(params)) > self.settings.max_streams:
                return _err(2, "Invalid request: too many parameters", rid)
            for name in params:
                conn.subs.setdefault(name, self._state(name))
        else:
            for name in params:
                conn.subs.pop(name, None)
        return {"result": None, "id": rid}

    def _valid_id(self, rid: object) -> bool:
        """Futures: an unsigned integer; spot also takes int64, strings up to 36 characters
        and null (binance-api.md §5.3)."""
        if isinstance(rid, bool):
            return False
        if self.name == "spot":
            return (
                rid is None
                or (isinstance(rid, str) and len(rid) <= 36)
                or (isinstance(rid, int) and -(2**63) <= rid < 2**63)
            )
        return isinstance(rid, int) and rid >= 0

    @staticmethod
    def _property(conn: _Conn, method: str, params: list[Any], rid: Any) -> dict[str, Any]:
        if not params or not isinstance(params[0], str):
            return _err(2, "Invalid request: property name must be a string", rid)
        if params[0] != "combined":
            return _err(0, "Unknown property", rid)
        if method == "GET_PROPERTY":
            return {"result": conn.combined, "id": rid}
        if len(params) < 2 or not isinstance(params[1], bool):
            return _err(1, "Invalid value type: expected Boolean", rid)
        conn.combined = params[1]
        return {"result": None, "id": rid}

    def _state(self, name: str) -> Stream | None:
        """The stream behind a name, or ``None`` for a stream that never sends."""
        return parse(name, self.name, self.market)

    # ------------------------------------------------------------------ sending

    async def _tick(self, conn: _Conn) -> None:
        """Send each subscribed stream's events whenever its period (its ``cadence``
        setting) has passed; wake up at the shortest period."""
        s = self.settings
        while not conn.closing:
            periods = [getattr(s, st.cadence) for st in conn.subs.values() if st is not None]
            await asyncio.sleep(min([*periods, s.event_period_s]))
            if conn.protocol.state is not State.OPEN:
                return
            if not conn.routed and s.legacy_silent:
                continue
            if s.stall_after_s is not None and time.monotonic() - conn.opened > s.stall_after_s:
                continue
            now = self.clock.now_ms()
            awake = time.monotonic()
            for name, state in list(conn.subs.items()):
                if state is None or state.due > awake + _EARLY_S:
                    continue
                state.due = awake + getattr(s, state.cadence)
                for event in state.events(self.market, now, s.wrong_data):
                    conn.events_sent += 1
                    self.counts["events"] += 1
                    if s.malformed_every and conn.events_sent % s.malformed_every == 0:
                        fields_of = event["k"] if "k" in event else event
                        key = "o" if "k" in event else "p"
                        fields_of[key] = float(fields_of[key])
                    if conn.micros:
                        event = in_microseconds(event)
                    payload = {"stream": name, "data": event} if conn.combined else event
                    conn.protocol.send_text(json.dumps(payload, separators=(",", ":")).encode())
            await self._flush(conn)

    async def _keepalive(self, conn: _Conn) -> None:
        """Server pings with a pong deadline, and the connection age limit."""
        s = self.settings
        next_ping = conn.opened + s.ping_interval_s
        pinged_at: float | None = None
        while not conn.closing:
            now = time.monotonic()
            if now - conn.opened >= s.max_age_s:
                self.counts["closed_max_age"] += 1
                await self._close(conn, 1000, "connection age limit reached")
                return
            unanswered = pinged_at is not None and conn.last_pong < pinged_at
            if unanswered and pinged_at is not None and now - pinged_at >= s.pong_timeout_s:
                self.counts["closed_no_pong"] += 1
                await self._close(conn, 1008, "pong timeout")
                return
            if now >= next_ping:
                if not unanswered:  # the deadline runs from the oldest unanswered ping
                    pinged_at = now
                next_ping = now + s.ping_interval_s
                conn.protocol.send_ping(str(self.clock.now_ms()).encode())
                await self._flush(conn)
            await asyncio.sleep(min(0.05, s.ping_interval_s, s.max_age_s, s.pong_timeout_s))


def _err(code: int, msg: str, rid: int | None) -> dict[str, Any]:
    return {"code": code, "msg": msg, "id": rid}


def _request_bytes(req: Request) -> bytes:
    """The handshake request again, for the sans-I/O protocol (the server parsed it)."""
    lines = [f"GET {req.target} HTTP/1.1", *(f"{k}: {v}" for k, v in req.headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _drain_until_eof(reader: asyncio.StreamReader) -> None:
    with contextlib.suppress(ConnectionError):
        while await reader.read(65536):
            pass
