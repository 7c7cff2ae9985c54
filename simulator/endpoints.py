"""The futures market-data endpoints: USDⓈ-M ``/fapi/v1`` and COIN-M ``/dapi/v1``.

Both serve ``ping``, ``time``, ``exchangeInfo``, ``ticker/24hr`` and five kline kinds with
one weight table (1, 2, 5, 10 by ``limit``; default 500, max 1500): ``klines``,
``continuousKlines`` (``pair`` + ``contractType``), ``markPriceKlines``,
``indexPriceKlines`` (``pair``) and ``premiumIndexKlines``. Paging differs:

* USDⓈ-M pages forward from ``startTime`` (the first ``limit`` candles), or returns the last
  ``limit`` up to ``endTime`` / now without it;
* COIN-M allows at most 200 days between ``startTime`` and ``endTime`` (-1127) and returns
  the most recent ``limit`` candles counting back from ``endTime``; with only ``startTime``,
  ``endTime`` = ``startTime`` + 200 days (at most now); with only ``endTime``,
  ``startTime`` = ``endTime`` − 200 days.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from simulator import exchange_info
from simulator.faults import Faults
from simulator.grid import DAY_MS
from simulator.market import Market
from simulator.ratelimit import Pool
from simulator.wire import Request, Response

MAX_LIMIT = 1500
DEFAULT_LIMIT = 500
COINM_WINDOW_MS = 200 * DAY_MS
CONTRACT_TYPES = {
    "usdm": ("PERPETUAL", "CURRENT_QUARTER", "NEXT_QUARTER", "TRADIFI_PERPETUAL"),
    "coinm": ("PERPETUAL", "CURRENT_QUARTER", "NEXT_QUARTER"),
}
KLINE_PATHS = {  # path suffix → (kind, name parameter)
    "klines": ("trade", "symbol"),
    "continuousKlines": ("continuous", "pair"),
    "markPriceKlines": ("mark", "symbol"),
    "indexPriceKlines": ("index", "pair"),
    "premiumIndexKlines": ("premium", "symbol"),
}


@dataclass(frozen=True)
class Endpoint:
    """A routed endpoint: its weight for a request, its handler, whether faults apply, whether
    its handler is slow enough to run off the event loop (faultable ones always do), and the
    rate-limit pool it counts against."""

    weight: Callable[[Request], int]
    handle: Callable[[Request, int], Response]
    faultable: bool = False
    offload: bool = False
    pool: str = "futures"


def klines_weight(limit: int) -> int:
    """Request weight of a futures kline endpoint for ``limit`` (1, 2, 5 or 10)."""
    if limit < 100:
        return 1
    if limit < 500:
        return 2
    if limit <= 1000:
        return 5
    return 10


def ticker_24hr_weight(req: Request) -> int:
    """Request weight of a futures ``ticker/24hr``: 1 for one symbol, 40 without ``symbol``."""
    return 1 if req.query.get("symbol") else 40


def requested_limit(req: Request, default: int = DEFAULT_LIMIT) -> int:
    """The ``limit`` asked for (the default when absent or not a number)."""
    try:
        return int(req.query.get("limit", default))
    except ValueError:
        return default


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
    """-1121: unknown symbol (or pair)."""
    return Response.error(400, -1121, "Invalid symbol.")


def invalid_parameter(name: str) -> Response:
    """-1130: a parameter's value is not valid."""
    return Response.error(400, -1130, f"Data sent for parameter '{name}' is not valid.")


def int_param(req: Request, name: str) -> int | None | Response:
    """An optional unsigned integer parameter, or the -1100 error."""
    raw = req.query.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 20:
        return illegal(name)
    return int(raw)


def window_params(req: Request, max_limit: int) -> tuple[int | None, int | None, int] | Response:
    """``startTime``, ``endTime`` and ``limit`` validated (-1100, -1130)."""
    parsed: dict[str, int | None] = {}
    for name in ("startTime", "endTime", "limit"):
        value = int_param(req, name)
        if isinstance(value, Response):
            return value
        parsed[name] = value
    limit = DEFAULT_LIMIT if parsed["limit"] is None else parsed["limit"]
    if not 1 <= limit <= max_limit:
        return invalid_parameter("limit")
    return parsed["startTime"], parsed["endTime"], limit


def start_after_end(start: int | None, end: int | None) -> Response | None:
    """-1023 when both are given and ``start > end``."""
    if start is not None and end is not None and start > end:
        return Response.error(400, -1023, "Start time is greater than end time.")
    return None


class FuturesApi:
    """Handlers of one futures market: ``usdm`` (``/fapi/v1``) or ``coinm`` (``/dapi/v1``)."""

    def __init__(self, market: Market, faults: Faults, pool: Pool, name: str = "usdm") -> None:
        """``pool`` is the rate-limit pool whose budget ``exchangeInfo`` shows."""
        self.market = market
        self.faults = faults
        self.pool = pool
        self.name = name
        self.prefix = "/fapi/v1" if name == "usdm" else "/dapi/v1"

    def routes(self) -> dict[str, Endpoint]:
        """GET path → endpoint."""
        one: Callable[[Request], int] = lambda _req: 1  # noqa: E731
        by_limit: Callable[[Request], int] = lambda req: klines_weight(requested_limit(req))  # noqa: E731
        routes = {
            f"{self.prefix}/ping": Endpoint(one, self.ping),
            f"{self.prefix}/time": Endpoint(one, self.time),
            f"{self.prefix}/exchangeInfo": Endpoint(one, self.exchange_info),
            f"{self.prefix}/ticker/24hr": Endpoint(ticker_24hr_weight, self.ticker_24hr, offload=True),
        }  # fmt: skip
        for suffix, (kind, param) in KLINE_PATHS.items():
            routes[f"{self.prefix}/{suffix}"] = Endpoint(
                by_limit, self._klines_handler(kind, param), faultable=True
            )
        return routes

    def ping(self, req: Request, now_ms: int) -> Response:
        """``{}``."""
        return Response.json(200, {})

    def time(self, req: Request, now_ms: int) -> Response:
        """``{"serverTime": now}``."""
        return Response.json(200, {"serverTime": now_ms})

    def exchange_info(self, req: Request, now_ms: int) -> Response:
        """Exchange information with rate limits and every symbol (delisted ones included)."""
        specs = list(self.market.specs(self.name).values())
        build = exchange_info.usdm_info if self.name == "usdm" else exchange_info.coinm_info
        return Response.json(200, build(specs, self.pool, now_ms))

    def ticker_24hr(self, req: Request, now_ms: int) -> Response:
        """Rolling 24-hour statistics: USDⓈ-M answers one object with ``?symbol=``, else an
        array; COIN-M always answers an array, of one symbol, of one ``pair``'s, or all."""
        specs = self.market.specs(self.name)
        symbol, pair = req.query.get("symbol"), req.query.get("pair")
        if self.name == "coinm" and symbol and pair:
            return Response.error(400, -1128, "Combination of optional parameters invalid.")
        if symbol:
            stats = (
                self.market.ticker_24h(symbol, now_ms, market=self.name)
                if symbol in specs
                else None
            )
            if stats is None:
                return invalid_symbol()
            return Response.json(200, [stats] if self.name == "coinm" else stats)
        pair = pair if self.name == "coinm" else None
        names = [s for s, spec in specs.items() if not pair or spec.pair == pair]
        if pair and not names:
            return invalid_symbol()
        every = (self.market.ticker_24h(s, now_ms, market=self.name) for s in names)
        return Response.json(200, [stats for stats in every if stats is not None])

    def _klines_handler(self, kind: str, param: str) -> Callable[[Request, int], Response]:
        def handle(req: Request, now_ms: int) -> Response:
            return self.klines(req, now_ms, kind, param)

        return handle

    def klines(
        self, req: Request, now_ms: int, kind: str = "trade", param: str = "symbol"
    ) -> Response:
        """One kline endpoint with Binance's validation and this market's paging."""
        name = req.query.get(param, "")
        interval = req.query.get("interval", "")
        contract_type = req.query.get("contractType", "") if kind == "continuous" else None
        if not name:
            return mandatory(param)
        if contract_type == "":
            return mandatory("contractType")
        if not interval:
            return mandatory("interval")
        window = window_params(req, MAX_LIMIT)
        if isinstance(window, Response):
            return window
        start, end, limit = window
        if interval not in self.market.intervals(self.name):
            return Response.error(400, -1120, "Invalid interval.")
        if contract_type is not None and contract_type not in CONTRACT_TYPES[self.name]:
            return invalid_parameter("contractType")
        known = self.market.pairs(self.name) if param == "pair" else self.market.specs(self.name)
        if name not in known or name in self.faults.invalid_symbols:
            return invalid_symbol()
        if (error := start_after_end(start, end)) is not None:
            return error
        where = {"market": self.name, "kind": kind, "contract_type": contract_type}
        if self.name == "coinm":
            if start is not None and end is not None and end - start > COINM_WINDOW_MS:
                hours = COINM_WINDOW_MS // 3_600_000
                return Response.error(
                    400, -1127, f"More than {hours} hours between startTime and endTime."
                )
            if start is not None and end is None:
                end = min(start + COINM_WINDOW_MS, now_ms)
            elif end is not None and start is None:
                start = end - COINM_WINDOW_MS
            end_ms = now_ms if end is None else end
            rows = self.market.latest_klines(
                name, interval, end_ms, now_ms, limit, start_ms=start or 0, **where
            )
            return Response.json(200, rows)
        end_ms = now_ms if end is None else end
        if start is None:
            rows = self.market.latest_klines(name, interval, end_ms, now_ms, limit, **where)
        else:
            rows = self.market.klines(name, interval, start, end_ms, now_ms, limit, **where)
        return Response.json(200, rows)


BinanceApi = FuturesApi
"""The USDⓈ-M API under its former name."""
