"""The spot market-data endpoints: ``/api/v3/{ping,time,exchangeInfo,klines,ticker/24hr}``.

As Binance documents them (binance-spot-api-docs ``rest-api.md``): klines weigh 2 whatever
the ``limit`` (default 500, max 1000), know ``1s``, and page forward from ``startTime`` like
USDⓈ-M; ``exchangeInfo`` weighs 20, ``ticker/24hr`` 2 for one symbol and 80 for all (by the
size of ``symbols``: 2 up to 20, 40 up to 100, else 80). The header
``X-MBX-TIME-UNIT: MICROSECOND`` switches klines and ``time`` to microseconds; time
parameters may be sent in either unit. Every spot endpoint counts against the ``spot``
rate-limit pool.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from simulator import exchange_info
from simulator.endpoints import (
    Endpoint,
    invalid_symbol,
    mandatory,
    start_after_end,
    window_params,
)
from simulator.faults import Faults
from simulator.market import Market
from simulator.ratelimit import Pool
from simulator.wire import Request, Response

SPOT_MAX_LIMIT = 1000
_MICROS_ABOVE = 10**14  # a time parameter this large is in microseconds


def ticker_weight(req: Request) -> int:
    """2 for one symbol; by the number of ``symbols``: 2 (1-20), 40 (21-100), 80; 80 for all."""
    if req.query.get("symbol"):
        return 2
    names = _symbols_param(req)
    if names is None or not isinstance(names, list):
        return 80
    return 2 if len(names) <= 20 else 40 if len(names) <= 100 else 80


def _symbols_param(req: Request) -> list[str] | None | Response:
    raw = req.query.get("symbols")
    if raw is None:
        return None
    try:
        names = json.loads(raw)
    except ValueError:
        names = None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names) or not names:
        return Response.error(400, -1100, "Illegal characters found in parameter 'symbols'.")
    return names


def _micros(req: Request) -> bool:
    return req.headers.get("x-mbx-time-unit", "").upper() == "MICROSECOND"


class SpotApi:
    """Handlers of the spot market."""

    def __init__(self, market: Market, faults: Faults, pool: Pool) -> None:
        """``pool`` is the spot rate-limit pool (its budget shows in ``exchangeInfo``)."""
        self.market = market
        self.faults = faults
        self.pool = pool

    def routes(self) -> dict[str, Endpoint]:
        """GET path → endpoint."""
        one: Callable[[Request], int] = lambda _req: 1  # noqa: E731
        return {
            "/api/v3/ping": Endpoint(one, self.ping, pool="spot"),
            "/api/v3/time": Endpoint(one, self.time, pool="spot"),
            "/api/v3/exchangeInfo": Endpoint(lambda _r: 20, self.exchange_info, pool="spot"),
            "/api/v3/klines": Endpoint(lambda _r: 2, self.klines, faultable=True, pool="spot"),
            "/api/v3/ticker/24hr": Endpoint(
                ticker_weight, self.ticker_24hr, offload=True, pool="spot"
            ),  # fmt: skip
        }

    def ping(self, req: Request, now_ms: int) -> Response:
        """``{}``."""
        return Response.json(200, {})

    def time(self, req: Request, now_ms: int) -> Response:
        """``{"serverTime": now}`` (in µs with ``X-MBX-TIME-UNIT: MICROSECOND``)."""
        return Response.json(200, {"serverTime": now_ms * 1000 if _micros(req) else now_ms})

    def exchange_info(self, req: Request, now_ms: int) -> Response:
        """Every spot symbol, or those of ``symbol`` / ``symbols`` (-1121 for an unknown one)."""
        specs = self.market.specs("spot")
        names = _symbols_param(req)
        if isinstance(names, Response):
            return names
        if req.query.get("symbol"):
            names = [req.query["symbol"]]
        if names is not None and any(n not in specs for n in names):
            return invalid_symbol()
        chosen = [specs[n] for n in names] if names is not None else list(specs.values())
        return Response.json(200, exchange_info.spot_info(chosen, self.pool, now_ms))

    def ticker_24hr(self, req: Request, now_ms: int) -> Response:
        """One object with ``symbol``; an array with ``symbols`` or without either."""
        specs = self.market.specs("spot")
        symbol = req.query.get("symbol")
        if symbol:
            stats = (
                self.market.ticker_24h(symbol, now_ms, market="spot") if symbol in specs else None
            )
            return invalid_symbol() if stats is None else Response.json(200, stats)
        names = _symbols_param(req)
        if isinstance(names, Response):
            return names
        if names is not None and any(n not in specs for n in names):
            return invalid_symbol()
        every = (self.market.ticker_24h(s, now_ms, market="spot") for s in (names or specs))
        return Response.json(200, [stats for stats in every if stats is not None])

    def klines(self, req: Request, now_ms: int) -> Response:
        """``GET /api/v3/klines``: forward from ``startTime``, else the latest ``limit``."""
        symbol = req.query.get("symbol", "")
        interval = req.query.get("interval", "")
        if not symbol:
            return mandatory("symbol")
        if not interval:
            return mandatory("interval")
        window = window_params(req, SPOT_MAX_LIMIT)
        if isinstance(window, Response):
            return window
        start, end, limit = window
        if interval not in self.market.intervals("spot"):
            return Response.error(400, -1120, "Invalid interval.")
        if symbol not in self.market.specs("spot") or symbol in self.faults.invalid_symbols:
            return invalid_symbol()
        if start is not None and start > _MICROS_ABOVE:
            start = -(-start // 1000)
        if end is not None and end > _MICROS_ABOVE:
            end //= 1000
        if (error := start_after_end(start, end)) is not None:
            return error
        end_ms = now_ms if end is None else end
        if start is None:
            rows = self.market.latest_klines(symbol, interval, end_ms, now_ms, limit, market="spot")
        else:
            rows = self.market.klines(symbol, interval, start, end_ms, now_ms, limit, market="spot")
        if _micros(req):
            rows = [[r[0] * 1000, *r[1:6], r[6] * 1000 + 999, *r[7:]] for r in rows]
        return Response.json(200, rows)
