"""The Binance USD-M market-data endpoints served by the simulator."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from simulator.faults import Faults
from simulator.market import INTERVALS, Market, SymbolSpec
from simulator.wire import Request, Response

MAX_LIMIT = 1500
DEFAULT_LIMIT = 500


@dataclass(frozen=True)
class Endpoint:
    """A routed endpoint: its weight for a request, its handler, whether faults apply, and
    whether its handler is slow enough to run off the event loop (faultable ones always do)."""

    weight: Callable[[Request], int]
    handle: Callable[[Request, int], Response]
    faultable: bool = False
    offload: bool = False


def klines_weight(limit: int) -> int:
    """Request weight of ``/fapi/v1/klines`` for ``limit`` (1, 2, 5 or 10)."""
    if limit < 100:
        return 1
    if limit < 500:
        return 2
    if limit <= 1000:
        return 5
    return 10


def ticker_24hr_weight(req: Request) -> int:
    """Request weight of ``/fapi/v1/ticker/24hr``: 1 for one symbol, 40 for all of them."""
    return 1 if req.query.get("symbol") else 40


def _requested_limit(req: Request) -> int:
    try:
        return int(req.query.get("limit", DEFAULT_LIMIT))
    except ValueError:
        return DEFAULT_LIMIT


def mandatory(name: str) -> Response:
    """-1102: a mandatory parameter is missing."""
    return Response.error(
        400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def illegal(name: str) -> Response:
    """-1100: a parameter has illegal characters."""
    return Response.error(
        400,
        -1100,
        f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.",
    )


def invalid_symbol() -> Response:
    """-1121: unknown symbol."""
    return Response.error(400, -1121, "Invalid symbol.")


def _int_param(req: Request, name: str) -> int | None | Response:
    raw = req.query.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 20:
        return illegal(name)
    return int(raw)


def _symbol_json(spec: SymbolSpec) -> dict[str, object]:
    return {
        "symbol": spec.symbol,
        "pair": spec.pair,
        "contractType": spec.contract_type,
        "deliveryDate": spec.delivery_ms,
        "onboardDate": spec.onboard_ms,
        "status": spec.status,
        "baseAsset": spec.base_asset,
        "quoteAsset": spec.quote_asset,
        "marginAsset": spec.quote_asset,
        "pricePrecision": spec.price_precision,
        "quantityPrecision": spec.qty_precision,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": spec.price_tick,
                "maxPrice": "10000000",
                "tickSize": spec.price_tick,
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": spec.qty_step,
                "maxQty": "10000000",
                "stepSize": spec.qty_step,
            },
        ],
        "orderTypes": ["LIMIT", "MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
    }


class BinanceApi:
    """Handlers for ``/fapi/v1/{ping,time,exchangeInfo,klines,ticker/24hr}``."""

    def __init__(self, market: Market, faults: Faults, weight_limit: int, window_s: int) -> None:
        """``window_s`` is the weight window length in whole seconds."""
        self.market = market
        self.faults = faults
        self.weight_limit = weight_limit
        self.window_s = window_s

    def routes(self) -> dict[str, Endpoint]:
        """GET path → endpoint."""
        one: Callable[[Request], int] = lambda _req: 1  # noqa: E731
        return {
            "/fapi/v1/ping": Endpoint(one, self.ping),
            "/fapi/v1/time": Endpoint(one, self.time),
            "/fapi/v1/exchangeInfo": Endpoint(one, self.exchange_info),
            "/fapi/v1/klines": Endpoint(
                lambda req: klines_weight(_requested_limit(req)), self.klines, faultable=True
            ),
            "/fapi/v1/ticker/24hr": Endpoint(ticker_24hr_weight, self.ticker_24hr, offload=True),
        }

    def rate_limit_interval(self) -> tuple[str, int]:
        """(interval, intervalNum) of the weight window: MINUTE×1 for 60 s, else SECOND×n."""
        return ("MINUTE", 1) if self.window_s == 60 else ("SECOND", self.window_s)

    def weight_header(self) -> str:
        """The lower-case used-weight header name, e.g. ``x-mbx-used-weight-1m``."""
        interval, num = self.rate_limit_interval()
        return f"x-mbx-used-weight-{num}{interval[0].lower()}"

    def ping(self, req: Request, now_ms: int) -> Response:
        """``{}``."""
        return Response.json(200, {})

    def time(self, req: Request, now_ms: int) -> Response:
        """``{"serverTime": now}``."""
        return Response.json(200, {"serverTime": now_ms})

    def exchange_info(self, req: Request, now_ms: int) -> Response:
        """Exchange information with rate limits and every symbol (delisted ones included)."""
        interval, num = self.rate_limit_interval()
        return Response.json(
            200,
            {
                "timezone": "UTC",
                "serverTime": now_ms,
                "futuresType": "U_MARGINED",
                "rateLimits": [
                    {
                        "rateLimitType": "REQUEST_WEIGHT",
                        "interval": interval,
                        "intervalNum": num,
                        "limit": self.weight_limit,
                    },
                    {
                        "rateLimitType": "ORDERS",
                        "interval": "MINUTE",
                        "intervalNum": 1,
                        "limit": 1200,
                    },
                ],
                "exchangeFilters": [],
                "assets": [
                    {"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}
                ],
                "symbols": [_symbol_json(s) for s in self.market.symbols.values()],
            },
        )

    def ticker_24hr(self, req: Request, now_ms: int) -> Response:
        """``GET /fapi/v1/ticker/24hr``: one symbol's rolling 24-hour statistics as an object
        with ``?symbol=``, else every listed symbol's in an array."""
        symbol = req.query.get("symbol")
        if symbol:
            stats = (
                self.market.ticker_24h(symbol, now_ms) if symbol in self.market.symbols else None
            )
            return invalid_symbol() if stats is None else Response.json(200, stats)
        every = (self.market.ticker_24h(s, now_ms) for s in self.market.symbols)
        return Response.json(200, [stats for stats in every if stats is not None])

    def klines(self, req: Request, now_ms: int) -> Response:
        """``GET /fapi/v1/klines`` with Binance's validation and paging semantics."""
        symbol = req.query.get("symbol", "")
        interval = req.query.get("interval", "")
        if not symbol:
            return mandatory("symbol")
        if not interval:
            return mandatory("interval")
        parsed: dict[str, int | None] = {}
        for name in ("startTime", "endTime", "limit"):
            value = _int_param(req, name)
            if isinstance(value, Response):
                return value
            parsed[name] = value
        limit = DEFAULT_LIMIT if parsed["limit"] is None else parsed["limit"]
        if not 1 <= limit <= MAX_LIMIT:
            return Response.error(400, -1130, "Data sent for parameter 'limit' is not valid.")
        if interval not in INTERVALS:
            return Response.error(400, -1120, "Invalid interval.")
        if symbol not in self.market.symbols or symbol in self.faults.invalid_symbols:
            return invalid_symbol()
        start, end = parsed["startTime"], parsed["endTime"]
        if start is not None and end is not None and start > end:
            return Response.error(400, -1023, "Start time is greater than end time.")
        end_ms = now_ms if end is None else end
        if start is None:
            rows = self.market.latest_klines(symbol, interval, end_ms, now_ms, limit)
        else:
            rows = self.market.klines(symbol, interval, start, end_ms, now_ms, limit)
        return Response.json(200, rows)
