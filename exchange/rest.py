"""REST client for Binance market data, any market (no Prefect, no DuckDB).

One :class:`RestClient` per market and process: a pooled ``requests`` session per thread,
the weight budget of its market's pool (shared in the process by every client of that
pool, :func:`shared_budget`), and the only retry loop of the project. Paths, weights and
parameter names come from the market's description (:mod:`exchange.markets`). Foreign
exceptions (``requests``) are translated here and nowhere else.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from .config import RestConfig
from .errors import (
    ApiError,
    ExchangeError,
    ExchangeUnreachable,
    IpBanned,
    NetworkError,
    RateLimited,
    RestrictedLocation,
    Retryable,
    SeriesRejected,
    ServerError,
    WafBlocked,
    is_retryable,
)
from .hostbudget import HostLedger
from .http import new_session
from .info import UNIT_MS, ExchangeInfo, SymbolInfo
from .markets import KINDS, KindSpec
from .ratelimit import WeightBudget

log = logging.getLogger("klines.rest")

_BAN_UNTIL = re.compile(r"banned until (\d{12,})")
_WEIGHT_HEADER = re.compile(r"x-mbx-used-weight-(\d+)([smhd])$", re.IGNORECASE)


@dataclass
class RequestStats:
    """What one client did: requests sent, weight used, retries by cause."""

    requests: int = 0
    weight: int = 0
    retries: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, weight: int = 0, retry_cause: str | None = None) -> None:
        with self.lock:
            if retry_cause:
                self.retries[retry_cause] += 1
            else:
                self.requests += 1
                self.weight += weight


@dataclass(frozen=True)
class Page:
    """One klines response: the raw JSON body and the server time it was sent at."""

    body: str
    server_ms: int | None
    rows: int


class RestClient:
    """Binance REST market-data client for one market (``config.market``).

    Args:
        config: the market, URLs, timeouts, retry policy and weight share.
        budget: the weight budget; one is made if not given, sharing the host's ledger
            for ``config.weight_key`` when ``config.weight_ledger`` is set. Clients of
            markets that share a weight pool share one budget: :func:`rest_clients`.
    """

    def __init__(self, config: RestConfig, budget: WeightBudget | None = None) -> None:
        self.config = config
        self.market = config.market
        self.base_url = config.base_url
        if budget is None:
            ledger = None
            if config.weight_ledger:
                ledger = HostLedger.for_key(config.weight_ledger, config.weight_key)
            budget = WeightBudget(share=config.weight_share, ledger=ledger)
        self.budget = budget
        self.stats = RequestStats()
        self._local = threading.local()
        self._random = random.Random()

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        # Sent to another process (a Dask worker): rebuilt there as that process's own
        # client, so each worker process keeps one weight budget (one IP's share), joined
        # to the host's ledger when the config names one.
        return (worker_client, (self.config, self.budget.limit, self.budget.window_ms))

    # -- public calls -------------------------------------------------------------

    def server_time_ms(self) -> int:
        """The exchange's clock (``<api>/time``); also aligns the weight windows."""
        before = time.time()
        data, _ = self.get_json(self.market.path("time"), {}, weight=1)
        server_ms = int(data["serverTime"])
        local_ms = int((before + time.time()) / 2 * 1000)
        self.budget.sync_clock(server_ms, local_ms)
        return server_ms

    def exchange_info(self) -> ExchangeInfo:
        """Symbols and weight limits; adopts the published limit into the budget."""
        data, _ = self.get_json(self.market.path("exchangeInfo"), {}, weight=1)
        info = ExchangeInfo.from_json(data, self.market.api)
        self.budget.configure(info.weight_limit, info.weight_window_ms)
        return info

    def quote_volumes(self) -> dict[str, Decimal]:
        """Every symbol's quote volume of the last 24 hours, from one ``<api>/ticker/24hr``
        without a symbol (weight 40 on futures, 80 on spot)."""
        data, response = self.get_json(
            self.market.path("ticker/24hr"), {}, weight=self.market.ticker_all_weight
        )
        try:
            return {str(row["symbol"]): Decimal(str(row["quoteVolume"])) for row in data}
        except (KeyError, TypeError, InvalidOperation):
            raise ServerError(
                f"ticker/24hr answer is not a JSON array of tickers: {response.text[:80]!r}",
                "malformed",
            ) from None

    def klines_page(
        self,
        symbol: str,
        interval: str,
        start_ms: int,
        end_ms: int,
        limit: int,
        kind: KindSpec = KINDS["trade"],
    ) -> Page:
        """One page of ``kind``'s candles (``<api>/klines``, ``<api>/markPriceKlines`` ...)
        with open times in ``[start_ms, end_ms]``; ``symbol`` is a pair for kinds keyed by
        pair (``indexPriceKlines``).

        Raises:
            SeriesRejected: the exchange refused the symbol or interval (-1121/-1120).
            IpBanned, RestrictedLocation, ExchangeUnreachable, TransientError: see
                :mod:`exchange.errors`.
        """
        params = {
            kind.key: symbol,
            "interval": interval,
            "startTime": start_ms,
            "endTime": end_ms,
            "limit": limit,
        }
        data, response = self.get_json(
            self.market.path(kind.endpoint), params, weight=self.page_weight(limit)
        )
        if not isinstance(data, list):
            raise ServerError(f"klines answer is not a JSON array: {response.text[:80]!r}")
        return Page(response.text, _date_header_ms(response), len(data))

    def page_weight(self, limit: int) -> int:
        """The weight of one klines call of ``limit`` candles on this market."""
        return self.market.klines_weight.weight(limit)

    def cheapest_limit(self, candles: int) -> int:
        """The cheapest ``limit`` that fetches ``candles`` in one call (at most a page)."""
        return self.market.klines_weight.cheapest_limit(candles, self.config.page_limit)

    def close(self) -> None:
        session = getattr(self._local, "session", None)
        if session is not None:
            session.close()

    # -- the retry loop -----------------------------------------------------------

    def get_json(
        self, path: str, params: dict[str, Any], weight: int
    ) -> tuple[Any, requests.Response]:
        """GET ``path`` and decode its JSON, retrying transient failures.

        Raises:
            ExchangeError: a subclass naming what went wrong; transient errors only
                after ``max_retries`` retries.
        """
        url = self.base_url + path
        attempt = connect_failures = 0
        while True:
            try:
                return self._attempt(url, params, weight)
            except _ConnectFailed as exc:  # retryable, with a budget of its own
                connect_failures += 1
                self.stats.add(retry_cause=exc.cause)
                if connect_failures > self.config.max_connect_retries:
                    raise ExchangeUnreachable(self.base_url, exc.detail) from None
                delay = self._backoff(connect_failures)
            except RateLimited as exc:  # retryable after the pause the exchange asks for
                self.stats.add(retry_cause=exc.cause)
                log.warning(
                    "HTTP 429 on %s: pausing %.1f s and slowing down", path, exc.retry_after
                )
                self.budget.pause(exc.retry_after)
                attempt += 1
                if attempt > self.config.max_retries:
                    raise
                continue
            except ExchangeError as exc:
                if not is_retryable(exc):
                    raise
                attempt += 1
                self.stats.add(retry_cause=exc.cause)
                if attempt > self.config.max_retries:
                    # what is left here is a TransientError: its one argument is the message
                    raise type(exc)(
                        f"GET {path} failed after {attempt} attempts; last error: {exc}"
                    ) from exc
                delay = self._backoff(attempt) * (4 if isinstance(exc, WafBlocked) else 1)
                log.info("retrying %s in %.2f s after %s (%s)", path, delay, exc.cause, exc)
            time.sleep(delay)

    def _attempt(
        self, url: str, params: dict[str, Any], weight: int
    ) -> tuple[Any, requests.Response]:
        self.budget.acquire(weight)
        self.stats.add(weight=weight)
        timeout = (self.config.connect_timeout, self.config.read_timeout)
        try:
            response = self._session().get(url, params=params, timeout=timeout)
        except requests.exceptions.ConnectTimeout as exc:
            raise NetworkError(f"connect timeout: {exc}", "timeout") from exc
        except requests.exceptions.ReadTimeout as exc:
            raise NetworkError(
                f"read timeout after {self.config.read_timeout} s", "timeout"
            ) from exc
        except requests.exceptions.ChunkedEncodingError as exc:
            raise NetworkError("response body cut short", "truncated") from exc
        except requests.exceptions.ConnectionError as exc:
            if _is_refused(exc):
                raise _ConnectFailed(_reason(exc)) from exc
            raise NetworkError(f"connection dropped: {_reason(exc)}", "dropped") from exc
        except requests.exceptions.RequestException as exc:
            raise NetworkError(f"request failed: {exc}") from exc
        self._observe_weight(response)
        return self._decode(response), response

    def _decode(self, response: requests.Response) -> Any:
        status = response.status_code
        if status == 200:
            try:
                return response.json()
            except ValueError as exc:
                raise ServerError(
                    f"HTTP 200 with a body that is not JSON ({len(response.content)} bytes)",
                    "malformed",
                ) from exc
        body = _json_or_none(response)
        code = body.get("code") if isinstance(body, dict) else None
        msg = body.get("msg", "") if isinstance(body, dict) else response.text[:200]
        if status == 429:
            raise RateLimited(f"HTTP 429: {msg}", self._retry_after(response))
        if status == 418:
            until = self._ban_until_ms(response, msg)
            # The ban end is on the exchange's clock; hold it on ours.
            sent_ms = _date_header_ms(response) or self.budget.now_ms()
            self.budget.ban(self.budget.now_ms() + max(0, until - sent_ms))
            raise IpBanned(until, msg)
        if status == 451:
            raise RestrictedLocation(
                f"Binance refuses requests from this location (HTTP 451): {msg[:120]}; "
                "use a permitted location or another KLINES_REST_URL"
            )
        if status == 403:
            raise WafBlocked(
                "HTTP 403 from Binance's web application firewall (HTML page): "
                "too many requests from this IP recently, or the request was blocked"
            )
        if status >= 500 or status == 408:
            raise ServerError(f"HTTP {status}: {msg[:120]}")
        if code in (-1121, -1120):
            raise SeriesRejected(f"the exchange rejected the request: {msg} (code {code})", code)
        raise ApiError(status, code, msg)

    # -- helpers ------------------------------------------------------------------

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            key = {"X-MBX-APIKEY": self.config.api_key} if self.config.api_key else {}
            session = new_session(self.base_url, max(4, self.config.workers), key)
            self._local.session = session
        return session

    def _backoff(self, attempt: int) -> float:
        cap = min(self.config.backoff_max, self.config.backoff_base * 2 ** (attempt - 1))
        return self._random.uniform(cap / 2, cap)

    def _observe_weight(self, response: requests.Response) -> None:
        for name, value in response.headers.items():
            match = _WEIGHT_HEADER.match(name)
            if match and int(match[1]) * UNIT_MS[match[2].lower()] == self.budget.window_ms:
                try:
                    self.budget.observe(int(value))
                except ValueError:
                    pass

    def _retry_after(self, response: requests.Response) -> float:
        value = response.headers.get("Retry-After")
        if value is not None:
            try:
                return max(float(value), 0.0)
            except ValueError:
                pass
        now = self.budget.now_ms()
        return (self.budget.window_ms - now % self.budget.window_ms) / 1000

    def _ban_until_ms(self, response: requests.Response, msg: str) -> int:
        match = _BAN_UNTIL.search(msg)
        if match:
            return int(match[1])
        sent_ms = _date_header_ms(response) or self.budget.now_ms()
        return sent_ms + int(self._retry_after(response) * 1000)


class _ConnectFailed(ExchangeError, Retryable):
    """No connection could be made; retried ``max_connect_retries`` times, then
    :class:`ExchangeUnreachable`."""

    cause = "connect"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _is_refused(exc: requests.exceptions.ConnectionError) -> bool:
    text = repr(exc)
    return any(
        marker in text
        for marker in ("NewConnectionError", "NameResolutionError", "Connection refused")
    )


def _reason(exc: Exception) -> str:
    text = str(exc)
    for marker in (
        "Connection refused",
        "Name or service not known",
        "Connection reset",
        "Remote end closed connection",
        "Connection aborted",
        "No route to host",
    ):
        if marker in text:
            return marker.lower()
    return text[:160]


def _json_or_none(response: requests.Response) -> Any:
    try:
        return json.loads(response.text)
    except ValueError:
        return None


def _date_header_ms(response: requests.Response) -> int | None:
    value = response.headers.get("Date")
    if not value:
        return None
    try:
        return int(parsedate_to_datetime(value).timestamp() * 1000)
    except (TypeError, ValueError):
        return None


__all__ = [
    "ExchangeInfo",
    "Page",
    "RequestStats",
    "RestClient",
    "SymbolInfo",
    "IpBanned",
]


def rest_clients(configs: list[RestConfig]) -> list[RestClient]:
    """One client per config; configs with the same ``weight_key`` (markets of one weight
    pool on one exchange: USDⓈ-M and COIN-M) share one weight budget."""
    budgets: dict[str, WeightBudget] = {}
    clients = []
    for config in configs:
        client = RestClient(config, budgets.get(config.weight_key))
        budgets.setdefault(config.weight_key, client.budget)
        clients.append(client)
    return clients


_WORKER_CLIENTS: dict[RestConfig, RestClient] = {}
_WORKER_CLIENTS_GUARD = threading.Lock()


def worker_client(config: RestConfig, limit: int, window_ms: int) -> RestClient:
    """The one client (and weight budget) of this process for ``config``; used when a
    client is unpickled in another process."""
    with _WORKER_CLIENTS_GUARD:
        client = _WORKER_CLIENTS.get(config)
        if client is None:
            client = RestClient(config)
            client.budget.configure(limit, window_ms)
            _WORKER_CLIENTS[config] = client
        return client
