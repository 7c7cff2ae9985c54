"""What differs between Binance's kline markets, as data: one description per market and kind.

The rest of the code asks these descriptions and never branches on a market's name: adding a
market or a kind is a new entry here (and its simulator), not a change threaded through the
modules. Sources: ``binance-api.md`` of the project's shared notes (§1 REST, §5 streams,
§6 archive) and Binance's pages named there.

Markets::

    usdm   USDⓈ-M futures  /fapi/v1  fapi.binance.com   fstream.binance.com/market  futures/um
    coinm  COIN-M futures  /dapi/v1  dapi.binance.com   dstream.binance.com         futures/cm
    spot   spot            /api/v3   api.binance.com    stream.binance.com:9443     spot

Kinds (futures only, besides ``trade``): ``mark`` (markPriceKlines by symbol), ``index``
(indexPriceKlines by pair), ``premium`` (premiumIndexKlines by symbol, a small signed
number). Their candles carry prices only and live in their own table, ``price_klines``.

Streams: kline streams on every market (an event every 250 ms on futures, every 2 s on
spot), mark-price streams on futures only. Route rule (binance-api.md §5.1): USDⓈ-M mainnet
serves klines only under ``/market`` since 2026-04-23; its testnet is assumed to follow
(it answers there; that it requires it is unconfirmed); no rule is known for COIN-M's
dstream or spot (unconfirmed: none is documented).

Weight pools: USDⓈ-M and COIN-M share one request-weight budget per IP since 2026-06-30
(counted on the same ``X-MBX-USED-WEIGHT-1M`` header); spot has its own (6,000 a minute).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidInput

NETWORKS = ("mainnet", "testnet")
DEFAULT_NETWORK = "mainnet"
DEFAULT_MARKET = "usdm"
DEFAULT_KIND = "trade"
ARCHIVE_URL = "https://data.binance.vision"
FAR_FUTURE_MS = 4_133_404_800_000  # exchangeInfo's deliveryDate of a perpetual: 2100-12-25

_FUTURES_INTERVALS = (
    "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M",
)  # fmt: skip


@dataclass(frozen=True)
class WeightTable:
    """Request weight of one klines call as a function of ``limit``: ``steps`` are
    ``(largest limit, weight)`` pairs in increasing order."""

    steps: tuple[tuple[int, int], ...]

    def weight(self, limit: int) -> int:
        for top, weight in self.steps:
            if limit <= top:
                return weight
        return self.steps[-1][1]

    def cheapest_limit(self, candles: int, page_limit: int) -> int:
        """The ``limit`` that fetches ``candles`` (at most ``page_limit``) in one call at the
        lowest weight: the top of the cheapest weight class that holds them (99, weight 1,
        for a scheduled run's few new futures candles)."""
        for top, _ in self.steps:
            if candles <= top <= page_limit:
                return top
        return page_limit


@dataclass(frozen=True)
class KindSpec:
    """One kind of candle: what is priced, where it is fetched, where it is stored."""

    name: str
    endpoint: str  # the REST path's last part, and the archive's folder name
    key: str  # the request parameter naming the series: "symbol" or "pair"
    table: str  # "klines" (trades, with volumes) or "price_klines" (prices only)
    signed: bool = False  # values may be zero or negative (the premium index)
    max_abs: int | None = None  # values lie strictly within ±max_abs (a premium is a rate)

    @property
    def has_volume(self) -> bool:
        return self.table == "klines"


@dataclass(frozen=True, eq=False)
class MarketSpec:
    """One market: URLs per network, paths, weights, limits, symbols, archive layout.

    Equal by name; pickled as its name (a Dask worker gets the same description).
    """

    name: str
    title: str
    api: str  # REST path prefix: "/fapi/v1"
    rest: Mapping[str, str]  # network -> REST base URL
    ws: Mapping[str, str]  # network -> stream base ("/ws/<stream>" follows)
    archive: Mapping[str, str | None]  # network -> archive base (None: the network has none)
    archive_prefix: str  # "futures/um": data/<prefix>/{daily,monthly}/<kind folder>/...
    klines_weight: WeightTable
    max_limit: int
    page_limit: int  # candles per page a backfill asks for (the cheapest per weight)
    ticker_all_weight: int  # /ticker/24hr without a symbol
    weight_pool: str  # markets with the same pool share one weight budget per IP
    intervals: tuple[str, ...]
    kinds: tuple[str, ...]
    symbol_pattern: re.Pattern[str]
    symbol_example: str
    ws_route: Mapping[str, str | None] = field(default_factory=dict)  # network -> required path
    ws_route_since: Mapping[str, str] = field(default_factory=dict)  # network -> date it began
    ws_streams: tuple[str, ...] = ("kline",)  # stream kinds served: kline, markPrice
    kline_update_s: float = 0.25  # seconds between a kline stream's events
    has_listing_dates: bool = True  # exchangeInfo gives onboardDate (spot's does not)
    volume_note: str = "volume in the base asset, quote volume in the quote asset"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MarketSpec) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (market, (self.name,))

    def path(self, endpoint: str) -> str:
        """``klines`` -> ``/fapi/v1/klines``."""
        return f"{self.api}/{endpoint}"

    def rest_url(self, network: str) -> str:
        return self.rest[network]

    def ws_url(self, network: str) -> str:
        return self.ws[network]

    def archive_url(self, network: str) -> str | None:
        return self.archive.get(network)

    def route(self, network: str) -> str | None:
        """The path klines streams need on this market's stream host (``/market`` on
        USDⓈ-M mainnet since 2026-04-23), or None where no such rule is known."""
        return self.ws_route.get(network)

    def route_since(self, network: str) -> str | None:
        """The date (``YYYY-MM-DD``) :meth:`route` became required on ``network``, or None
        where it is not documented (the USDⓈ-M testnet: assumed to follow mainnet)."""
        return self.ws_route_since.get(network)

    def has_stream(self, kind: str) -> bool:
        """Whether this market serves streams of ``kind`` (``kline``, ``markPrice``)."""
        return kind in self.ws_streams

    def kind(self, name: str) -> KindSpec:
        """The kind ``name`` of this market.

        Raises:
            InvalidInput: the kind does not exist, or not on this market.
        """
        if name not in KINDS:
            raise InvalidInput(f"--kind {name!r}: use one of {', '.join(KINDS)}")
        if name not in self.kinds:
            raise InvalidInput(
                f"--kind {name}: {self.title} has only {', '.join(self.kinds)} candles"
            )
        return KINDS[name]

    def check_interval(self, interval: str) -> None:
        """Raises InvalidInput when this market has no such interval (e.g. 1s off spot)."""
        if interval not in self.intervals:
            raise InvalidInput(
                f"invalid interval {interval!r} for {self.title}: use one of "
                f"{', '.join(self.intervals)}"
            )


KINDS: dict[str, KindSpec] = {
    "trade": KindSpec("trade", "klines", "symbol", "klines"),
    "mark": KindSpec("mark", "markPriceKlines", "symbol", "price_klines"),
    "index": KindSpec("index", "indexPriceKlines", "pair", "price_klines"),
    "premium": KindSpec(
        "premium", "premiumIndexKlines", "symbol", "price_klines", signed=True, max_abs=1
    ),
}

_FUTURES_WEIGHT = WeightTable(((99, 1), (499, 2), (1000, 5), (1500, 10)))
_FUTURES_TESTNET = "https://testnet.binancefuture.com"
_FUTURES: dict[str, Any] = {  # what USDⓈ-M and COIN-M have in common
    "archive": {"mainnet": ARCHIVE_URL, "testnet": None},
    "klines_weight": _FUTURES_WEIGHT,
    "max_limit": 1500,
    "page_limit": 499,
    "ticker_all_weight": 40,
    "weight_pool": "futures",
    "intervals": _FUTURES_INTERVALS,
    "kinds": ("trade", "mark", "index", "premium"),
    "ws_streams": ("kline", "markPrice"),
}

MARKETS: dict[str, MarketSpec] = {
    "usdm": MarketSpec(
        name="usdm",
        title="USDⓈ-M futures",
        api="/fapi/v1",
        rest={"mainnet": "https://fapi.binance.com", "testnet": _FUTURES_TESTNET},
        ws={
            "mainnet": "wss://fstream.binance.com/market",
            "testnet": "wss://fstream.binancefuture.com/market",
        },
        archive_prefix="futures/um",
        **_FUTURES,
        symbol_pattern=re.compile(r"[A-Z0-9]{2,20}(_[0-9]{6})?"),
        symbol_example="BTCUSDT",
        ws_route={"mainnet": "/market", "testnet": "/market"},
        ws_route_since={"mainnet": "2026-04-23"},
    ),
    "coinm": MarketSpec(
        name="coinm",
        title="COIN-M futures",
        api="/dapi/v1",
        rest={"mainnet": "https://dapi.binance.com", "testnet": _FUTURES_TESTNET},
        ws={
            "mainnet": "wss://dstream.binance.com",
            "testnet": "wss://dstream.binancefuture.com",
        },
        archive_prefix="futures/cm",
        **_FUTURES,
        symbol_pattern=re.compile(r"[A-Z0-9]{2,20}_(PERP|[0-9]{6})"),
        symbol_example="BTCUSD_PERP",
        volume_note=(
            "volume in contracts; the quote_volume column holds the base-asset volume, "
            "taker_buy_base_volume contracts and taker_buy_quote_volume the base asset"
        ),
    ),
    "spot": MarketSpec(
        name="spot",
        title="spot",
        api="/api/v3",
        rest={"mainnet": "https://api.binance.com", "testnet": "https://testnet.binance.vision"},
        ws={
            "mainnet": "wss://stream.binance.com:9443",
            "testnet": "wss://stream.testnet.binance.vision",
        },
        archive={"mainnet": ARCHIVE_URL, "testnet": None},
        archive_prefix="spot",
        klines_weight=WeightTable(((1000, 2),)),
        max_limit=1000,
        page_limit=1000,
        ticker_all_weight=80,
        weight_pool="spot",
        intervals=("1s", *_FUTURES_INTERVALS),
        kinds=("trade",),
        symbol_pattern=re.compile(r"[A-Z0-9]{2,20}"),
        symbol_example="BTCUSDT",
        ws_streams=("kline",),
        kline_update_s=2.0,
        has_listing_dates=False,
    ),
}


def market(name: str) -> MarketSpec:
    """The market called ``name``.

    Raises:
        InvalidInput: no such market.
    """
    spec = MARKETS.get(str(name).strip().lower())
    if spec is None:
        raise InvalidInput(f"--market {name!r}: use one of {', '.join(MARKETS)}")
    return spec


def check_network(name: str) -> str:
    """``mainnet`` or ``testnet``.

    Raises:
        InvalidInput: anything else.
    """
    value = str(name).strip().lower()
    if value not in NETWORKS:
        raise InvalidInput(f"--network {name!r}: use one of {', '.join(NETWORKS)}")
    return value
