"""The simulator's HTTP server: asyncio streams in a daemon thread, one port for every market.

One port plays every Binance host; paths tell them apart: ``/fapi`` (USDⓈ-M), ``/dapi``
(COIN-M), ``/api`` (spot), ``/data`` (the bulk archive, data.binance.vision) and the
WebSocket prefixes of :mod:`simulator.ws`. Request weight is counted per pool:
``futures`` (``/fapi`` and ``/dapi`` share one budget, as on Binance since 2026-06-30) and
``spot`` (``/api``), each with its own 429 / 418 and used-weight header.

Request flow (``_dispatch``): control endpoints ``/_sim/*`` first (never limited, never
faulted), then latency, edge blocks (451 / WAF 403), routing, bans and weight, injected
faults, and finally the Binance handler. WebSocket upgrades are handed, before any of
that, to a handler registered with :meth:`Simulator.add_upgrade_handler`.

``network="testnet"`` plays a testnet: other (synthetic) prices from another seed, every
response marked ``x-sim-network: testnet``, and no bulk archive (Binance publishes none).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from decimal import Decimal
from types import TracebackType

from simulator import canned
from simulator.archive import Archive
from simulator.clock import SimClock
from simulator.endpoints import Endpoint, FuturesApi
from simulator.faults import Faults
from simulator.market import Market
from simulator.ratelimit import Pool, WeightLimiter, pool_of
from simulator.spot_api import SpotApi
from simulator.stats import Stats
from simulator.wire import BadRequest, Request, Response, read_request
from simulator.ws import PREFIXES, ROUTES, WsFeed

UpgradeHandler = Callable[[Request, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
"""Takes over a connection whose request asked for ``Upgrade: websocket``."""

NETWORKS = ("mainnet", "testnet")
SPOT_WEIGHT_PER_FUTURES = 6000 / 2400  # Binance: spot 6000/min, futures 2400/min


class WsUrl(str):
    """The USDⓈ-M WebSocket base (``ws://127.0.0.1:P/market``, a plain string as ever);
    call it with a market for that market's base: ``sim.ws_url("coinm")`` →
    ``ws://127.0.0.1:P/dstream``, ``sim.ws_url("spot")`` → ``ws://127.0.0.1:P/spot``."""

    root: str

    def __new__(cls, root: str) -> WsUrl:
        url = super().__new__(cls, root + PREFIXES["usdm"])
        url.root = root
        return url

    def __reduce__(self) -> tuple[type[WsUrl], tuple[str]]:
        return (WsUrl, (self.root,))

    def __call__(self, market: str = "usdm") -> str:
        """The WebSocket base of ``market`` (``usdm``, ``coinm`` or ``spot``)."""
        if market not in PREFIXES:
            raise ValueError(f"unknown market {market!r}; one of {tuple(PREFIXES)}")
        return self.root + PREFIXES[market]


class Simulator:
    """A local Binance exchange (USDⓈ-M, COIN-M, spot, the archive) on one real TCP port."""

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
        spot_weight_limit: int | None = None,
        spot_weight_window_s: float | None = None,
        network: str = "mainnet",
        archive: bool | None = None,
        archive_cache_files: int = 64,
    ) -> None:
        """Configure (not start) a simulator.

        ``weight_limit`` per ``weight_window_s`` is the futures pool (``/fapi`` and ``/dapi``
        together); the spot pool defaults to the same window and 2.5 times the limit (6000 for
        2400, as on Binance). Windows must be whole numbers of seconds. ``seed`` seeds the
        fault RNG. ``ban_after``: 429s tolerated in one window after the first before a 418
        ban. ``network="testnet"`` builds ``Market.testnet()`` when no ``market`` is given,
        marks every response and serves no archive (``archive`` overrides that).
        ``archive_cache_files``: generated archive files kept (zip and digest), newest used.
        """
        spot_window = weight_window_s if spot_weight_window_s is None else spot_weight_window_s
        for window in (weight_window_s, spot_window):
            if window < 1 or int(window) != window:
                raise ValueError("weight_window_s must be a whole number of seconds >= 1")
        if network not in NETWORKS:
            raise ValueError(f"network must be one of {NETWORKS}")
        self.network = network
        testnet = network == "testnet"
        self.market = market if market is not None else Market.testnet() if testnet else Market()
        self.host = host
        self.port = port
        self.clock = SimClock(frozen_ms)
        self.faults = Faults(seed=seed)
        self._default_seed = seed
        self.stats = Stats()
        if spot_weight_limit is None:
            spot_weight_limit = round(weight_limit * SPOT_WEIGHT_PER_FUTURES)
        self.pools = {
            "futures": Pool("futures", WeightLimiter(weight_limit, weight_window_s, ban_seconds,
                                                     ban_after), int(weight_window_s)),
            "spot": Pool("spot", WeightLimiter(spot_weight_limit, spot_window, ban_seconds,
                                               ban_after), int(spot_window)),
        }  # fmt: skip
        self.limiter = self.pools["futures"].limiter  # the futures pool, as before spot existed
        self.api = FuturesApi(self.market, self.faults, self.pools["futures"], "usdm")
        self.apis = {
            "usdm": self.api,
            "coinm": FuturesApi(self.market, self.faults, self.pools["futures"], "coinm"),
            "spot": SpotApi(self.market, self.faults, self.pools["spot"]),
        }
        self.routes: dict[str, Endpoint] = {}
        for api in self.apis.values():
            self.routes.update(api.routes())
        # data.binance.vision; faults: ``sim.archive.faults``
        self.archive = Archive(self.market, archive_cache_files)
        self.archive_enabled = not testnet if archive is None else archive
        self.marks: list[tuple[str, str]] = [("x-sim-network", "testnet")] if testnet else []
        self.upgrade_handlers: dict[str, UpgradeHandler] = {}
        self.ws_feeds = {m: WsFeed(self.market, self.clock, m, self.marks) for m in PREFIXES}
        self.ws = self.ws_feeds["usdm"]  # settings and faults: ``sim.ws.settings``
        for name, feed in self.ws_feeds.items():
            for prefix in ROUTES[name]:
                self.add_upgrade_handler(prefix, feed.handle)
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
    def rest_url(self) -> str:
        """The REST base of every market (``/fapi``, ``/dapi``, ``/api``): :attr:`url`."""
        return self.url

    @property
    def archive_url(self) -> str | None:
        """The bulk archive's base (``{archive_url}/data/...``), or None when not served."""
        return self.url if self.archive_enabled else None

    @property
    def ws_url(self) -> WsUrl:
        """The USDⓈ-M WebSocket base on the ``/market`` route, e.g.
        ``ws://127.0.0.1:54321/market``; ``sim.ws_url("coinm")``, ``sim.ws_url("spot")``
        give the other markets' bases."""
        return WsUrl(f"ws://{self.host}:{self.port}")

    def urls(self) -> dict[str, str | None]:
        """Every base URL by name: ``rest``, ``archive``, ``ws_usdm``, ``ws_coinm``, ``ws_spot``."""
        return {
            "rest": self.rest_url,
            "archive": self.archive_url,
            **{f"ws_{m}": self.ws_url(m) for m in PREFIXES},
        }

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
        for feed in self.ws_feeds.values():
            feed.reset()
        self.archive.reset()
        self.faults.update(seed=self._default_seed)
        self.stats.reset()
        for pool in self.pools.values():
            pool.limiter.reset()

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
            if self.archive_enabled:
                resp = await asyncio.to_thread(self.archive.handle, req, now)
            else:
                resp = canned.not_found()
            resp.headers.extend(self.marks)
            await self._write(writer, resp, keep)
            return keep
        endpoint = self.routes.get(req.path)
        pool = self.pools[endpoint.pool if endpoint is not None else pool_of(req.path)]
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
            verdict = pool.limiter.charge(ip, weight, now)
            if verdict.status == 429:
                resp = _too_many(pool, verdict.retry_after_s)
            elif verdict.status == 418:
                resp = _banned(pool, verdict.ban_until_ms, verdict.retry_after_s)
            else:
                fault = self.faults.next_fault() if endpoint.faultable else None
                if fault is not None:
                    pool.limiter.refund(ip, weight, now)
                    return await self._inject(fault, req, ip, endpoint, pool, writer)
                self.stats.record_weight(weight, verdict.used, pool.name)
                resp = await self._handle(endpoint, req, now)
        resp.headers.append((pool.header(), str(pool.limiter.used(ip, now))))
        resp.headers.extend(self.marks)
        await self._write(writer, resp, keep)
        return keep

    async def _handle(self, endpoint: Endpoint, req: Request, now: int) -> Response:
        if endpoint.faultable or endpoint.offload:  # the expensive ones: keep the loop responsive
            return await asyncio.to_thread(endpoint.handle, req, now)
        return endpoint.handle(req, now)

    async def _inject(
        self,
        fault: str,
        req: Request,
        ip: str,
        endpoint: Endpoint,
        pool: Pool,
        writer: asyncio.StreamWriter,
    ) -> bool:
        """Misbehave with ``fault`` for this request; returns whether to keep the connection."""
        self.stats.record_fault(fault)
        now = self.clock.now_ms()
        keep = req.keep_alive
        weight_header = (pool.header(), str(pool.limiter.used(ip, now)))
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
            resp = _too_many(pool, pool.limiter.retry_after_s(now))
        elif fault == "418":
            until = now + pool.limiter.ban_ms
            resp = _banned(pool, until, max(1, -(-pool.limiter.ban_ms // 1000)))
        elif fault == "-1121":
            resp = Response.error(400, -1121, "Invalid symbol.")
        elif fault == "bad-row":
            resp = await self._handle(endpoint, req, now)
            resp = _with_bad_row(resp)
        elif fault == "truncate":
            resp = await self._handle(endpoint, req, now)
            resp.headers.append(weight_header)
            resp.headers.extend(self.marks)
            await self._write(writer, resp, False, body_bytes=len(resp.body) // 2)
            writer.close()
            return False
        else:  # a kind set directly on the script, bypassing validation
            resp = Response.error(500, -1000, f"simulator: unknown fault kind {fault!r}")
        resp.headers.append(weight_header)
        resp.headers.extend(self.marks)
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
            if req.path == "/_sim/ws":  # ?market=coinm|spot for the other feeds
                feed = self.ws_feeds.get(req.query.get("market", "usdm"))
                if feed is None:
                    raise ValueError(f"market must be one of {tuple(self.ws_feeds)}")
                if req.method == "POST":
                    feed.settings.update(**body)
                return Response.json(200, {**asdict(feed.settings), **feed.counts})
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


def _too_many(pool: Pool, retry_after_s: int) -> Response:
    """The pool's 429: futures and spot word it differently."""
    if pool.name == "spot":
        interval, num = pool.interval()
        return canned.spot_too_much_weight(pool.limit, f"{num} {interval}", retry_after_s)
    return canned.too_many_requests(pool.limit, retry_after_s)


def _banned(pool: Pool, until_ms: int, retry_after_s: int) -> Response:
    """The pool's 418."""
    if pool.name == "spot":
        return canned.spot_banned(until_ms, retry_after_s)
    return canned.banned(until_ms, retry_after_s)


def _with_bad_row(resp: Response) -> Response:
    """The same klines page with its first row's high below its low (wrong data)."""
    rows = json.loads(resp.body)
    if rows and resp.status == 200:
        low = Decimal(rows[0][3])
        unit = Decimal("0.00000001")
        rows[0][2] = "0.00000001" if low > unit else str(low - unit)
    return Response.json(resp.status, rows)
