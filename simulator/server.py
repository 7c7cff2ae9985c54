"""The simulator's HTTP server: asyncio streams in a daemon thread.

Request flow (``_dispatch``): control endpoints ``/_sim/*`` first (never limited, never
faulted), then latency, edge blocks (451 / WAF 403), routing, bans and weight, injected
faults, and finally the Binance handler. WebSocket upgrades are handed, before any of
that, to a handler registered with :meth:`Simulator.add_upgrade_handler`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from types import TracebackType

from simulator import canned
from simulator.archive import Archive
from simulator.clock import SimClock
from simulator.endpoints import BinanceApi, Endpoint
from simulator.faults import Faults
from simulator.market import Market
from simulator.ratelimit import WeightLimiter
from simulator.stats import Stats
from simulator.wire import BadRequest, Request, Response, read_request
from simulator.ws import ROUTE_PREFIXES, WsFeed

UpgradeHandler = Callable[[Request, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
"""Takes over a connection whose request asked for ``Upgrade: websocket``."""


class Simulator:
    """A local Binance USD-M futures REST server on a real TCP port."""

    def __init__(
        self,
        market: Market | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        weight_limit: int = 2400,
        weight_window_s: float = 60.0,
        ban_seconds: float = 120.0,
        frozen_ms: int | None = None,
        seed: int = 1,
        ban_after: int = 5,
    ) -> None:
        """Configure (not start) a simulator.

        ``weight_window_s`` must be a whole number of seconds. ``seed`` seeds the fault RNG.
        ``ban_after``: 429s tolerated in one window after the first before a 418 ban.
        """
        if weight_window_s < 1 or int(weight_window_s) != weight_window_s:
            raise ValueError("weight_window_s must be a whole number of seconds >= 1")
        self.market = market if market is not None else Market()
        self.host = host
        self.port = port
        self.clock = SimClock(frozen_ms)
        self.faults = Faults(seed=seed)
        self._default_seed = seed
        self.stats = Stats()
        self.limiter = WeightLimiter(weight_limit, weight_window_s, ban_seconds, ban_after)
        self.api = BinanceApi(self.market, self.faults, weight_limit, int(weight_window_s))
        self.routes: dict[str, Endpoint] = self.api.routes()
        self.archive = Archive(self.market)  # data.binance.vision; faults: ``sim.archive.faults``
        self.upgrade_handlers: dict[str, UpgradeHandler] = {}
        self.ws = WsFeed(self.market, self.clock)  # settings and faults: ``sim.ws.settings``
        for prefix in ROUTE_PREFIXES:
            self.add_upgrade_handler(prefix, self.ws.handle)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._conns: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321`` (the real port once started)."""
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """WebSocket base on the ``/market`` route, e.g. ``ws://127.0.0.1:54321/market``."""
        return f"ws://{self.host}:{self.port}/market"

    def start(self) -> Simulator:
        """Start serving in a daemon thread; returns once the socket is listening."""
        if self._thread is not None:
            return self
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, name="binance-simulator", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._start_error is not None:
            self._thread.join()
            self._thread = None
            raise RuntimeError("simulator failed to start") from self._start_error
        return self

    def stop(self) -> None:
        """Stop serving and close every connection. Idempotent."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        with contextlib.suppress(RuntimeError):  # loop already closed
            loop.call_soon_threadsafe(self._shutdown)
        thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def reset(self) -> None:
        """Clear faults (REST and WebSocket), stats, weight counters and bans (the clock is
        untouched)."""
        self.faults.reset()
        self.ws.reset()
        self.archive.reset()
        self.faults.update(seed=self._default_seed)
        self.stats.reset()
        self.limiter.reset()

    def add_upgrade_handler(self, path_prefix: str, handler: UpgradeHandler) -> None:
        """Route WebSocket upgrade requests whose path starts with ``path_prefix``."""
        self.upgrade_handlers[path_prefix] = handler

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            self._server = loop.run_until_complete(
                asyncio.start_server(self._on_connection, self.host, self.port)
            )
            self.port = self._server.sockets[0].getsockname()[1]
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._start_error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in tasks:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._conns):
            task.cancel()
        assert self._loop is not None
        self._loop.stop()

    # ------------------------------------------------------------------ connections

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        peer = writer.get_extra_info("peername")
        ip = str(peer[0]) if peer else "unknown"
        try:
            while True:
                try:
                    req = await read_request(reader)
                except BadRequest as exc:
                    await self._write(writer, Response.error(400, -1000, str(exc)), False)
                    return
                if req is None:
                    return
                if req.is_websocket_upgrade:
                    await self._upgrade(req, reader, writer)
                    return
                if not await self._dispatch(req, ip, writer):
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # shutdown: end quietly (3.11's stream callback logs cancelled handler tasks)
            writer.transport.abort()
        finally:
            self._conns.discard(task)
            writer.close()

    async def _upgrade(
        self, req: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Hand a WebSocket upgrade to the handler with the longest matching path prefix."""
        self.stats.record_request(req.path)
        matches = [p for p in self.upgrade_handlers if req.path.startswith(p)]
        if not matches:
            await self._write(writer, canned.not_found(), False)
            return
        await self.upgrade_handlers[max(matches, key=len)](req, reader, writer)

    async def _write(
        self,
        writer: asyncio.StreamWriter,
        resp: Response,
        keep_alive: bool,
        body_bytes: int | None = None,
    ) -> None:
        """Send ``resp``; ``body_bytes`` sends only that many body bytes (truncation)."""
        body = resp.body if body_bytes is None else resp.body[:body_bytes]
        self.stats.record_response(resp.status)  # before writing: a client may read stats next
        writer.write(resp.head_bytes(self.clock.now_ms(), keep_alive) + body)
        await writer.drain()

    # ------------------------------------------------------------------ dispatch

    async def _dispatch(self, req: Request, ip: str, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; returns whether to keep the connection open."""
        self.stats.record_request(req.path)
        keep = req.keep_alive
        if req.path.startswith("/_sim/"):
            await self._write(writer, self._control(req), keep)
            return keep
        delay = self.faults.latency_s()
        if delay:
            await asyncio.sleep(delay)
        now = self.clock.now_ms()
        if req.path.startswith("/data/"):  # the bulk archive: another host, no weight
            resp = await asyncio.to_thread(self.archive.handle, req, now)
            await self._write(writer, resp, keep)
            return keep
        endpoint = self.routes.get(req.path)
        if self.faults.restricted:
            self.stats.record_fault("restricted")
            resp = canned.restricted()
        elif self.faults.waf_block:
            self.stats.record_fault("waf_block")
            resp = canned.waf_blocked()
        elif endpoint is None:
            resp = canned.not_found()
        elif req.method != "GET":
            resp = Response.error(405, -1000, f"Request method '{req.method}' not supported")
        else:
            weight = endpoint.weight(req)
            verdict = self.limiter.charge(ip, weight, now)
            if verdict.status == 429:
                resp = canned.too_many_requests(self.limiter.limit, verdict.retry_after_s)
            elif verdict.status == 418:
                resp = canned.banned(verdict.ban_until_ms, verdict.retry_after_s)
            else:
                fault = self.faults.next_fault() if endpoint.faultable else None
                if fault is not None:
                    self.limiter.refund(ip, weight, now)
                    return await self._inject(fault, req, ip, endpoint, writer)
                self.stats.record_weight(weight, verdict.used)
                resp = await self._handle(endpoint, req, now)
        resp.headers.append((self.api.weight_header(), str(self.limiter.used(ip, now))))
        await self._write(writer, resp, keep)
        return keep

    async def _handle(self, endpoint: Endpoint, req: Request, now: int) -> Response:
        if endpoint.faultable or endpoint.offload:  # the expensive ones: keep the loop responsive
            return await asyncio.to_thread(endpoint.handle, req, now)
        return endpoint.handle(req, now)

    async def _inject(
        self, fault: str, req: Request, ip: str, endpoint: Endpoint, writer: asyncio.StreamWriter
    ) -> bool:
        """Misbehave with ``fault`` for this request; returns whether to keep the connection."""
        self.stats.record_fault(fault)
        now = self.clock.now_ms()
        keep = req.keep_alive
        weight_header = (self.api.weight_header(), str(self.limiter.used(ip, now)))
        if fault == "drop":
            writer.transport.abort()
            return False
        if fault == "slow":
            await asyncio.sleep(self.faults.slow_seconds)
            resp = await self._handle(endpoint, req, self.clock.now_ms())
        elif fault in ("500", "502", "503"):
            resp = canned.server_error(int(fault))
        elif fault == "html403":
            resp = canned.waf_blocked()
        elif fault == "429":
            resp = canned.too_many_requests(self.limiter.limit, self.limiter.retry_after_s(now))
        elif fault == "418":
            until = now + self.limiter.ban_ms
            resp = canned.banned(until, max(1, -(-self.limiter.ban_ms // 1000)))
        elif fault == "-1121":
            resp = Response.error(400, -1121, "Invalid symbol.")
        elif fault == "bad-row":
            resp = await self._handle(endpoint, req, now)
            resp = _with_bad_row(resp)
        elif fault == "truncate":
            resp = await self._handle(endpoint, req, now)
            resp.headers.append(weight_header)
            await self._write(writer, resp, False, body_bytes=len(resp.body) // 2)
            writer.close()
            return False
        else:  # a kind set directly on the script, bypassing validation
            resp = Response.error(500, -1000, f"simulator: unknown fault kind {fault!r}")
        resp.headers.append(weight_header)
        await self._write(writer, resp, keep)
        return keep

    # ------------------------------------------------------------------ control

    def _control(self, req: Request) -> Response:
        """``/_sim/clock``, ``/_sim/faults``, ``/_sim/archive``, ``/_sim/ws``, ``/_sim/reset``, ``/_sim/stats``."""
        try:
            body = req.json() if req.method == "POST" else {}
            if not isinstance(body, dict):
                raise ValueError("body must be a JSON object")
            if req.path == "/_sim/stats" and req.method == "GET":
                return Response.json(200, self.stats.snapshot())
            if req.path == "/_sim/faults" and req.method == "GET":
                return Response.json(200, self.faults.to_json())
            if req.path == "/_sim/faults" and req.method == "POST":
                self.faults.update(**body)
                return Response.json(200, self.faults.to_json())
            if req.path == "/_sim/archive" and req.method == "POST":
                self.archive.faults.update(**body)
            if req.path == "/_sim/archive":
                return Response.json(200, self.archive.faults.to_json())
            if req.path == "/_sim/ws" and req.method == "POST":
                self.ws.settings.update(**body)
            if req.path == "/_sim/ws":
                return Response.json(200, {**asdict(self.ws.settings), **self.ws.counts})
            if req.path == "/_sim/reset" and req.method == "POST":
                self.reset()
                return Response.json(200, {})
            if req.path == "/_sim/clock" and req.method in ("GET", "POST"):
                return Response.json(200, self._clock_command(body))
        except (BadRequest, ValueError, TypeError) as exc:
            return Response.json(400, {"error": str(exc)})
        return canned.not_found()

    def _clock_command(self, body: dict[str, object]) -> dict[str, object]:
        if "freeze_ms" in body:
            self.clock.freeze(int(str(body["freeze_ms"])))
        if "advance_ms" in body:
            self.clock.advance(int(str(body["advance_ms"])))
        if body.get("unfreeze"):
            self.clock.unfreeze()
        return {"now_ms": self.clock.now_ms(), "frozen": self.clock.frozen}


def _with_bad_row(resp: Response) -> Response:
    """The same klines page with its first row's high below its low (wrong data)."""
    rows = json.loads(resp.body)
    if rows:
        rows[0][2] = "0.00000001"
    return Response.json(resp.status, rows)
