"""Explicit configuration for the REST client (the environment is read elsewhere)."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .markets import DEFAULT_MARKET, DEFAULT_NETWORK, MARKETS, MarketSpec

DEFAULT_REST_URL = MARKETS[DEFAULT_MARKET].rest_url(DEFAULT_NETWORK)
DEFAULT_WS_URL = MARKETS[DEFAULT_MARKET].ws_url(DEFAULT_NETWORK)


@dataclass(frozen=True)
class RestConfig:
    """How to talk to the REST API.

    Attributes:
        market: which market's paths, weights and limits (:mod:`exchange.markets`).
        base_url: e.g. ``https://fapi.binance.com`` (no trailing slash needed); default:
            the market's mainnet URL.
        connect_timeout: seconds to establish a TCP/TLS connection.
        read_timeout: seconds to wait for response bytes.
        max_retries: retries of one request after transient failures (5xx, timeouts,
            dropped connections, truncated or non-JSON bodies, 403 WAF pages).
        max_connect_retries: retries when no connection can be made at all.
        backoff_base: first backoff in seconds; doubles per retry, with full jitter.
        backoff_max: cap of one backoff, in seconds.
        weight_share: share of the IP's weight limit this process may use; with a
            ``weight_ledger``, that every process sharing the ledger may use together.
        weight_ledger: directory of the host-wide weight ledgers (one file per weight pool
            and REST host, see :mod:`exchange.hostbudget`); None keeps one budget per process.
        weight_key: names the budget this client shares (in the process, and in the
            ledger): markets of one weight pool on one exchange share one; default: the
            market's pool and the REST host.
        page_limit: candles per klines request; default: the market's cheapest per weight
            (499 on futures: weight 2; 1,000 on spot, whose weight is flat).
        workers: concurrent requests per series.
        api_key: optional key; public market data needs none. Never logged.
    """

    market: MarketSpec = field(default=MARKETS[DEFAULT_MARKET], repr=False)
    base_url: str = ""
    connect_timeout: float = 3.05
    read_timeout: float = 10.0
    max_retries: int = 6
    max_connect_retries: int = 2
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    weight_share: float = 0.8
    weight_ledger: str | None = None
    weight_key: str = ""
    page_limit: int = 0
    workers: int = 4
    api_key: str | None = None

    def __post_init__(self) -> None:
        base = (self.base_url or self.market.rest_url(DEFAULT_NETWORK)).rstrip("/")
        object.__setattr__(self, "base_url", base)
        if not self.page_limit:
            object.__setattr__(self, "page_limit", self.market.page_limit)
        if not self.weight_key:
            object.__setattr__(self, "weight_key", f"{self.market.weight_pool}@{_host(base)}")

    def __repr__(self) -> str:
        key = mask_secret(self.api_key) if self.api_key else None
        return (
            f"RestConfig(market={self.market.name!r}, base_url={self.base_url!r}, api_key={key!r})"
        )


def mask_secret(secret: str) -> str:
    """Show only the first 8 and last 4 characters: ``6qv2KVTj...1NiD``."""
    if len(secret) <= 12:
        return "***"
    return f"{secret[:8]}...{secret[-4:]}"


def _host(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"
