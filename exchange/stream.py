"""Async client of Binance's market streams (futures and spot), with per-stream health
metrics (no Prefect).

Built on websockets' asyncio API. One connection per 200 streams, each subscribed with a
single ``SUBSCRIBE`` carrying the list of streams (one incoming message, far below
Binance's 10 per second). Kline and mark-price streams (:func:`exchange.ws_events.stream_kind`)
may be mixed. Frames are parsed by :func:`exchange.ws_events.parse_frame` in
:meth:`KlineStreamClient.receive`, which has no I/O; every event is measured (lag, order,
duplicates) and put in a bounded per-stream buffer whose overflow is counted. A connection the server closes mid-run is reopened and
resubscribed ``StreamConfig.reconnects`` times (once by default) and the disconnect is
kept for the report. ``stop()`` is idempotent and bounded by ``close_timeout``.

Foreign exceptions (``websockets``, ``ssl``, ``socket``) are translated in
:meth:`KlineStreamClient._open`, and nowhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from .config import DEFAULT_WS_URL
from .errors import InvalidInput, MalformedEvent, StreamConnectFailed
from .ws_events import (
    KLINE,
    MAX_STREAMS_PER_CONNECTION,
    KlineEvent,
    Reply,
    StreamEvent,
    event_stream,
    parse_frame,
    raw_url,
    stream_kind,
    subscribe_request,
)

log = logging.getLogger("klines.stream")


@dataclass(frozen=True)
class StreamConfig:
    """How to talk to the WebSocket API. Times are seconds.

    Attributes:
        base_url: e.g. ``wss://fstream.binance.com/market`` (klines need ``/market``).
        open_timeout: TCP + TLS + HTTP upgrade.
        ack_timeout: wait for the SUBSCRIBE reply.
        close_timeout: bound of the closing handshake; ``stop()`` returns within about this.
        ping_interval, ping_timeout: client keep-alive pings (``None``: off); the server's
            pings are always answered.
        buffer_size: events kept per stream for a consumer; older ones are dropped and counted.
        streams_per_connection: at most 200 (binance-api.md §5.4).
        reconnects: reopenings of a connection the server closed.
        stall_after: no event for this long at the end of a sample means the stream stalled.
        lag_samples: lag values kept per stream for percentiles.
    """

    base_url: str = DEFAULT_WS_URL
    open_timeout: float = 10.0
    ack_timeout: float = 5.0
    close_timeout: float = 2.0
    ping_interval: float | None = 20.0
    ping_timeout: float | None = 20.0
    buffer_size: int = 1000
    streams_per_connection: int = MAX_STREAMS_PER_CONNECTION
    reconnects: int = 1
    stall_after: float = 5.0
    lag_samples: int = 10_000


@dataclass
class StreamStats:
    """What one stream did during a run."""

    stream: str
    connection: int
    kind: str = KLINE  # kline | markPrice (exchange.ws_events.stream_kind)
    ack: str = "not-sent"  # not-sent | pending | ok | rejected | no-reply
    ack_error: str = ""
    first_event_s: float | None = None  # from SUBSCRIBE to the first event
    events: int = 0
    parse_failures: int = 0
    parse_examples: list[str] = field(default_factory=list)
    out_of_order: int = 0
    duplicates: int = 0
    overflow: int = 0
    closed: list[KlineEvent] = field(default_factory=list)
    lag_ms: deque[float] = field(default_factory=deque)
    silence_at_end_s: float | None = None  # seconds since the last event when the run ended
    _subscribed_at: float | None = None
    _last_event_at: float | None = None
    _last_key: tuple[object, ...] | None = None
    _last_event_ms: int | None = None


@dataclass
class ConnectionStats:
    """One WebSocket connection: how it opened, and how the server ended it."""

    index: int
    url: str
    streams: list[str]
    connect_ms: float | None = None
    failure_stage: str = ""  # dns_tcp | tls | upgrade | timeout
    failure_detail: str = ""
    failure_status: int | None = None
    disconnects: list[str] = field(default_factory=list)
    reconnects: int = 0
    reconnect_failure: str = ""


@dataclass
class SampleResult:
    """Everything measured in one sampling run."""

    url: str
    seconds: float
    clock_offset_ms: int
    connections: list[ConnectionStats]
    streams: list[StreamStats]


class KlineStreamClient:
    """Subscribe to kline and mark-price streams and measure them; an async context manager.

    Args:
        config: URLs, timeouts, buffer size.
        streams: stream names, e.g. ``btcusdt@kline_1m``, ``btcusdt@markPrice@1s``.
        clock_offset_ms: exchange clock minus local clock, added to local receive times
            before computing lag against an event's ``E``.

    Raises:
        InvalidInput: no streams, a stream of another kind, both speeds of one symbol's
            mark price (their events cannot be told apart), or ``streams_per_connection``
            out of range.
    """

    def __init__(
        self, config: StreamConfig, streams: Sequence[str], clock_offset_ms: int = 0
    ) -> None:
        if not streams:
            raise InvalidInput("no streams to subscribe to")
        if not 1 <= config.streams_per_connection <= MAX_STREAMS_PER_CONNECTION:
            raise InvalidInput(f"streams_per_connection must be 1..{MAX_STREAMS_PER_CONNECTION}")
        kinds = {name: stream_kind(name) for name in streams}
        filed_under = {event_stream(name): name for name in kinds}
        if len(filed_under) < len(kinds):
            raise InvalidInput(
                "subscribe to one speed of a symbol's mark price (@markPrice or @markPrice@1s): "
                "their events do not say which they belong to"
            )
        # an event's stream (raw: as the parser names it; combined: as subscribed) -> ours
        self._routes = {**filed_under, **{name: name for name in kinds}}
        self.config = config
        self.clock_offset_ms = clock_offset_ms
        self.url = raw_url(config.base_url)
        size = config.streams_per_connection
        groups = [list(streams[i : i + size]) for i in range(0, len(streams), size)]
        self.connections = [ConnectionStats(i, self.url, g) for i, g in enumerate(groups)]
        self.stats: dict[str, StreamStats] = {}
        for conn in self.connections:
            for name in conn.streams:
                self.stats[name] = StreamStats(
                    name, conn.index, kinds[name], lag_ms=deque(maxlen=config.lag_samples)
                )
        self.buffers: dict[str, deque[StreamEvent]] = {
            name: deque(maxlen=config.buffer_size) for name in self.stats
        }
        self.data_ready = asyncio.Event()
        self._acked = [asyncio.Event() for _ in self.connections]
        self._sockets: dict[int, ClientConnection] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._request_id = 0
        self._pending: dict[int, list[str]] = {}
        self._stopping = False
        self._stopped = False
        self._started_at = 0.0

    async def __aenter__(self) -> KlineStreamClient:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Open every connection and send its SUBSCRIBE (failures are recorded, not raised)."""
        self._started_at = time.monotonic()
        self._tasks = [asyncio.create_task(self._run(c)) for c in self.connections]

    async def wait_subscribed(self) -> None:
        """Until every connection is acknowledged, rejected or failed (``ack_timeout``)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.config.open_timeout + self.config.ack_timeout):
                await asyncio.gather(*(e.wait() for e in self._acked))
        for s in self.stats.values():
            if s.ack == "pending":
                s.ack = "no-reply"

    async def stop(self) -> None:
        """Close every connection; idempotent, and bounded even if the server never
        answers the close frame (websockets' ``close_timeout``, then a hard abort)."""
        if self._stopped:
            return
        self._stopping = self._stopped = True
        end = time.monotonic()
        for s in self.stats.values():
            if s._last_event_at is not None:
                s.silence_at_end_s = end - s._last_event_at
        closes = [ws.close() for ws in self._sockets.values()]
        if closes:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.close_timeout + 0.5):
                    await asyncio.gather(*closes, return_exceptions=True)
        for ws in self._sockets.values():
            ws.transport.abort()  # no-op when already closed
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def drain(self, stream: str) -> list[StreamEvent]:
        """Take the buffered events of one stream (oldest first)."""
        buf = self.buffers[stream]
        out = list(buf)
        buf.clear()
        return out

    def result(self, seconds: float) -> SampleResult:
        """The measurements so far (call after :meth:`stop`)."""
        return SampleResult(
            self.url, seconds, self.clock_offset_ms, self.connections, list(self.stats.values())
        )

    # ------------------------------------------------------------------ one connection

    async def _run(self, conn: ConnectionStats) -> None:
        attempt = 0
        while not self._stopping:
            try:
                ws = await self._open(conn)
            except StreamConnectFailed as exc:
                if attempt == 0:
                    conn.failure_stage, conn.failure_detail = exc.stage, exc.detail
                    conn.failure_status = exc.status
                else:
                    conn.reconnect_failure = str(exc)
                self._acked[conn.index].set()
                return
            self._sockets[conn.index] = ws
            try:
                await self._subscribe(ws, conn)
                await self._read(ws)
            except ConnectionClosed as exc:
                if self._stopping:
                    return
                conn.disconnects.append(_describe_close(exc, time.monotonic() - self._started_at))
                if attempt >= self.config.reconnects:
                    return
                attempt += 1
                conn.reconnects += 1
                log.warning("connection %d closed by the server; reconnecting", conn.index)

    async def _open(self, conn: ConnectionStats) -> ClientConnection:
        """Connect; maps every foreign exception to :class:`StreamConnectFailed`."""
        c = self.config
        started = time.perf_counter()
        try:
            ws = await connect(
                conn.url,
                open_timeout=c.open_timeout,
                close_timeout=c.close_timeout,
                ping_interval=c.ping_interval,
                ping_timeout=c.ping_timeout,
                max_queue=1024,
                compression=None,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            raise StreamConnectFailed(conn.url, "upgrade", f"HTTP {status}", status) from exc
        except ssl.SSLError as exc:  # before OSError: SSLError is one
            raise StreamConnectFailed(conn.url, "tls", _reason(exc)) from exc
        except TimeoutError as exc:
            raise StreamConnectFailed(
                conn.url, "timeout", f"no handshake within {c.open_timeout:g} s"
            ) from exc
        except (socket.gaierror, OSError) as exc:
            raise StreamConnectFailed(conn.url, "dns_tcp", _reason(exc)) from exc
        except (InvalidHandshake, InvalidURI) as exc:
            raise StreamConnectFailed(conn.url, "upgrade", _reason(exc)) from exc
        conn.connect_ms = conn.connect_ms or (time.perf_counter() - started) * 1000
        return ws

    async def _subscribe(self, ws: ClientConnection, conn: ConnectionStats) -> None:
        self._request_id += 1
        rid = self._request_id
        self._pending[rid] = conn.streams
        now = time.monotonic()
        for name in conn.streams:
            s = self.stats[name]
            s._subscribed_at = s._subscribed_at or now
            if s.ack in ("not-sent", "no-reply"):
                s.ack = "pending"
        await ws.send(subscribe_request("SUBSCRIBE", conn.streams, rid))

    async def _read(self, ws: ClientConnection) -> None:
        """Parse and measure every frame until the connection closes."""
        offset = self.clock_offset_ms
        while True:
            text = await ws.recv()  # raises ConnectionClosed, also on a clean close
            self.receive(text, time.time() * 1000 + offset)

    def receive(self, text: str | bytes, recv_ms: float) -> None:
        """Parse one frame and measure it (no I/O): a reply settles its SUBSCRIBE, an event
        of a subscribed stream is counted, timed and buffered, a bad frame is counted.

        Args:
            text: the frame as received.
            recv_ms: its receipt time on the exchange's clock (local time + offset), in ms.
        """
        try:
            msg = parse_frame(text)
        except MalformedEvent as exc:
            self._parse_failure(exc)
            return
        if isinstance(msg, Reply):
            self._reply(msg)
            return
        name = self._routes.get(msg.stream)
        if name is not None:  # else a stream we did not ask for
            self._record(self.stats[name], msg, recv_ms)

    def _record(self, s: StreamStats, event: StreamEvent, recv_ms: float) -> None:
        now = time.monotonic()
        s.events += 1
        if s.first_event_s is None and s._subscribed_at is not None:
            s.first_event_s = now - s._subscribed_at
        s._last_event_at = now
        s.lag_ms.append(recv_ms - event.event_time_ms)
        key = event.key
        if key == s._last_key:
            s.duplicates += 1
        elif s._last_event_ms is not None and event.event_time_ms < s._last_event_ms:
            s.out_of_order += 1
        s._last_key = key
        s._last_event_ms = max(s._last_event_ms or 0, event.event_time_ms)
        if (
            isinstance(event, KlineEvent)
            and event.closed
            and (not s.closed or s.closed[-1].open_time_ms != event.open_time_ms)
        ):
            s.closed.append(event)
        buf = self.buffers[s.stream]
        if len(buf) == buf.maxlen:
            s.overflow += 1
        buf.append(event)
        self.data_ready.set()

    def _parse_failure(self, exc: MalformedEvent) -> None:
        # attribute it to its stream when the envelope or symbol says which
        name = next((n for n in self.stats if f'"{n}"' in exc.raw), None)
        if name is None:
            name = next((n for n in self.stats if n.split("@")[0].upper() in exc.raw), None)
        s = self.stats[name] if name else next(iter(self.stats.values()))
        s.parse_failures += 1
        if len(s.parse_examples) < 3:
            s.parse_examples.append(f"{exc}: {exc.raw[:160]}")

    def _reply(self, reply: Reply) -> None:
        names = self._pending.pop(reply.id, []) if reply.id is not None else []
        for name in names:
            s = self.stats[name]
            if reply.ok:
                s.ack = "ok"
            else:
                s.ack = "rejected"
                s.ack_error = f"code {reply.error_code}: {reply.error_msg}"
        if names:
            self._acked[self.stats[names[0]].connection].set()


async def sample_streams(
    config: StreamConfig, streams: Sequence[str], seconds: float, clock_offset_ms: int = 0
) -> SampleResult:
    """Subscribe, listen for ``seconds`` after the acknowledgements, stop; the measurements.

    A consumer drains the buffers as a real one would, so overflow means it fell behind.
    """
    client = KlineStreamClient(config, streams, clock_offset_ms)
    async with client:
        await client.wait_subscribed()

        async def consume() -> None:
            while True:
                await client.data_ready.wait()
                client.data_ready.clear()
                for name in client.buffers:
                    client.drain(name)

        consumer = asyncio.create_task(consume())
        try:
            if not all(c.failure_stage for c in client.connections):
                await asyncio.sleep(seconds)  # the sampling window itself
        finally:
            consumer.cancel()
    return client.result(seconds)


def _describe_close(exc: ConnectionClosed, at_s: float) -> str:
    frame = exc.rcvd
    if frame is None:
        return f"at +{at_s:.1f} s: the connection dropped without a close frame"
    reason = f" ({frame.reason})" if frame.reason else ""
    return f"at +{at_s:.1f} s: close code {frame.code}{reason}"


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text
