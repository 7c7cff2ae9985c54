"""Explicit configuration for the REST client (the environment is read elsewhere)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_REST_URL = "https://fapi.binance.com"
DEFAULT_WS_URL = "wss://fstream.binance.com/market"
# limit=499 is the cheapest page per unit of weight: weight 2 for 499 candles
# (fact sheet §1.1: [100, 500) -> 2, [500, 1000] -> 5, > 1000 -> 10).
DEFAULT_PAGE_LIMIT = 499


@dataclass(frozen=True)
class RestConfig:
    """How to talk to the REST API.

    Attributes:
        base_url: e.g. ``https://fapi.binance.com`` (no trailing slash needed).
        connect_timeout: seconds to establish a TCP/TLS connection.
        read_timeout: seconds to wait for response bytes.
        max_retries: retries of one request after transient failures (5xx, timeouts,
            dropped connections, truncated or non-JSON bodies, 403 WAF pages).
        max_connect_retries: retries when no connection can be made at all.
        backoff_base: first backoff in seconds; doubles per retry, with full jitter.
        backoff_max: cap of one backoff, in seconds.
        weight_share: share of the IP's weight limit this process may use; with a
            ``weight_ledger``, that every process sharing the ledger may use together.
        weight_ledger: directory of the host-wide weight ledgers (one file per REST host,
            see :mod:`exchange.hostbudget`); None keeps one budget per process.
        page_limit: candles per klines request.
        workers: concurrent requests per series.
        api_key: optional key; public market data needs none. Never logged.
    """

    base_url: str = DEFAULT_REST_URL
    connect_timeout: float = 3.05
    read_timeout: float = 10.0
    max_retries: int = 6
    max_connect_retries: int = 2
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    weight_share: float = 0.8
    weight_ledger: str | None = None
    page_limit: int = DEFAULT_PAGE_LIMIT
    workers: int = 4
    api_key: str | None = None

    def __repr__(self) -> str:
        key = mask_secret(self.api_key) if self.api_key else None
        return f"RestConfig(base_url={self.base_url!r}, api_key={key!r})"


def mask_secret(secret: str) -> str:
    """Show only the first 8 and last 4 characters: ``6qv2KVTj...1NiD``."""
    if len(secret) <= 12:
        return "***"
    return f"{secret[:8]}...{secret[-4:]}"


def klines_weight(limit: int) -> int:
    """Request weight of ``GET /fapi/v1/klines`` for a given ``limit``."""
    if limit < 100:
        return 1
    if limit < 500:
        return 2
    if limit <= 1000:
        return 5
    return 10


def cheapest_limit(candles: int, page_limit: int) -> int:
    """The ``limit`` that fetches ``candles`` (at most ``page_limit``) in one request at the
    lowest weight: the top of the cheapest weight class that holds them, e.g. 99 (weight
    1, not 2) for a scheduled run's few new candles."""
    for top in (99, 499, 1000):
        if candles <= top <= page_limit:
            return top
    return page_limit


def ticker_24hr_weight(symbol: str | None) -> int:
    """Request weight of ``GET /fapi/v1/ticker/24hr``: 1 for one symbol, 40 for all of them
    (developers.binance.com, USDⓈ-M futures, "24hr Ticker Price Change Statistics")."""
    return 1 if symbol else 40
