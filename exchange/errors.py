"""Errors raised by the Binance client, and what every error of the project shares.

The tree, and what a caller should do about each branch (``[R]`` retryable: trying again
may succeed; ``[T]`` terminal: it cannot, report it or fall back)::

    ExchangeError                     anything the exchange or the network did
    ├── InvalidInput (ValueError) [T] the user asked for something that cannot exist: fix the input
    │   ├── InvalidInterval       [T] not one of Binance's interval strings
    │   └── UnknownSymbol         [T] not listed in /fapi/v1/exchangeInfo
    ├── TransientError            [R] worth retrying with backoff (the client already did)
    │   ├── NetworkError          [R] timeout, refused or dropped connection, truncated body
    │   ├── ServerError           [R] HTTP 5xx / 408, or a 200 whose body is not the JSON we expect
    │   ├── RateLimited           [R] HTTP 429; carries ``retry_after`` seconds
    │   └── WafBlocked            [R] HTTP 403 HTML page from the CDN's firewall
    ├── ExchangeUnreachable       [T] no connection could be made at all: wrong URL or no network
    ├── IpBanned                  [T] HTTP 418; every REST call stops until ``until_ms``
    ├── RestrictedLocation        [T] HTTP 451; Binance refuses this location, retrying cannot help
    ├── SeriesRejected            [T] the exchange refused one series (-1121 invalid symbol, -1120 invalid interval)
    ├── ApiError                  [T] any other error the exchange answered with a code
    ├── ArchiveError                  data.binance.vision (exchange/archive.py); the range falls back to REST
    │   ├── ArchiveMissing        [T] HTTP 404: the archive lacks this file (not yet published, or never)
    │   ├── ArchiveRefused        [T] another 4xx (not 403/408/429): asking again cannot help
    │   └── ArchiveCorrupt        [R] checksum mismatch or a zip that does not open (retried once)
    └── StreamError                   the WebSocket side (exchange/stream.py)
        ├── StreamConnectFailed   [T] no session: ``stage`` is dns_tcp | tls | upgrade | timeout;
        │                             ``status`` is the HTTP status of a refused upgrade
        ├── SubscriptionRejected  [T] the server answered SUBSCRIBE with an error (``code``, ``msg``)
        └── MalformedEvent        [T] a frame that is not the JSON event (kline, markPrice) it should be

``InvalidInput`` subclasses ``ValueError`` so the command line can map every
bad-input error (from this package or the warehouse) to exit code 2.

Shared by every error of the project (here because this is the bottom layer: the warehouse
and the flows import it, it imports neither):

- :class:`KlinesError`, the base of ``ExchangeError``, ``warehouse.errors.WarehouseError`` and
  ``flows.errors.RunFinding``: it pickles with its message and attributes whatever its
  constructor takes (the Dask task runner sends errors between processes).
- The markers :class:`Retryable` and :class:`Terminal` (dlt's transient and terminal
  exceptions), mixed into concrete classes, and :func:`is_retryable`, the one test that every
  retry loop asks. A retryable error's ``cause`` (``5xx``, ``timeout``, ``429``...) only labels
  it in the run's retry counters (``retries: 5xx 2, dropped 1``); it decides nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeGuard


class KlinesError(Exception):
    """Base of the project's error trees: picklable with its message and attributes.

    Unpickling rebuilds the instance from ``args`` (the message) and its ``__dict__`` (the
    attributes) without calling ``__init__``, as dlt's ``DltException`` does, so subclasses
    may take any constructor arguments.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self).__new__, (type(self), *self.args), self.__dict__)


class Retryable(Exception):
    """Marker: the same operation may succeed if tried again (after a backoff).

    ``cause`` names the failure in the retry counters of a run's summary.
    """

    cause = "transient"


class Terminal(Exception):
    """Marker: trying the same operation again cannot help; report it or fall back."""


def is_retryable(exc: BaseException) -> TypeGuard[Retryable]:
    """Whether trying again may help: the one retry decision of the project."""
    return isinstance(exc, Retryable)


class ExchangeError(KlinesError):
    """Base class of every error raised by :mod:`exchange`."""


class InvalidInput(ExchangeError, ValueError, Terminal):
    """The request can never succeed as asked; the user must change it."""


class InvalidInterval(InvalidInput):
    """An interval string that Binance does not know (they are case-sensitive)."""


class UnknownSymbol(InvalidInput):
    """A symbol that the exchange does not list."""


class TransientError(ExchangeError, Retryable):
    """A failure that may go away on its own; retried with backoff by the client."""


class NetworkError(TransientError):
    """Timeout, refused or dropped connection, or a body cut short."""

    def __init__(self, message: str, cause: str = "network") -> None:
        super().__init__(message)
        self.cause = cause


class ServerError(TransientError):
    """HTTP 5xx/408, or a successful status whose body is not the expected JSON."""

    def __init__(self, message: str, cause: str = "5xx") -> None:
        super().__init__(message)
        self.cause = cause


class RateLimited(TransientError):
    """HTTP 429: too much weight used; wait ``retry_after`` seconds."""

    cause = "429"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class WafBlocked(TransientError):
    """HTTP 403 from the CDN firewall (an HTML page, not JSON)."""

    cause = "403"


class ExchangeUnreachable(ExchangeError, Terminal):
    """No connection could be made to the REST base URL."""

    def __init__(self, url: str, detail: str) -> None:
        super().__init__(f"cannot reach {url}: {detail}")
        self.url = url
        self.detail = detail


class IpBanned(ExchangeError, Terminal):
    """HTTP 418: the IP is banned until ``until_ms`` (epoch milliseconds)."""

    def __init__(self, until_ms: int, detail: str = "") -> None:
        until = datetime.fromtimestamp(until_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        message = (
            f"Binance has banned this IP until {until} (HTTP 418, too many requests); "
            "no REST call will be sent before then: wait, then rerun"
        )
        super().__init__(message + (f" ({detail})" if detail else ""))
        self.until_ms = until_ms


class RestrictedLocation(ExchangeError, Terminal):
    """HTTP 451: the exchange refuses requests from this location."""


class SeriesRejected(ExchangeError, Terminal):
    """The exchange refused one (symbol, interval) series, e.g. -1121 invalid symbol."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class ApiError(ExchangeError, Terminal):
    """Any other error answer from the exchange, with its code and message."""

    def __init__(self, status: int, code: int | None, msg: str) -> None:
        super().__init__(f"HTTP {status}, code {code}: {msg}")
        self.status = status
        self.code = code
        self.msg = msg


class StreamError(ExchangeError):
    """Base class of the WebSocket client's errors."""


class StreamConnectFailed(StreamError, Terminal):
    """No WebSocket session could be opened.

    Attributes:
        stage: ``dns_tcp`` (name or TCP), ``tls``, ``upgrade`` (HTTP status other than
            101) or ``timeout`` (the opening handshake did not finish in time).
        status: the HTTP status of a refused upgrade, else ``None``.
    """

    def __init__(self, url: str, stage: str, detail: str, status: int | None = None) -> None:
        super().__init__(f"cannot open {url}: {stage}: {detail}")
        self.url = url
        self.stage = stage
        self.detail = detail
        self.status = status


class SubscriptionRejected(StreamError, Terminal):
    """The server answered SUBSCRIBE with an error object."""

    def __init__(self, code: int | None, msg: str) -> None:
        super().__init__(f"SUBSCRIBE rejected: code {code}: {msg}")
        self.code = code
        self.msg = msg


class MalformedEvent(StreamError, Terminal):
    """A frame that cannot be parsed as the event it claims to be (``raw`` kept)."""

    def __init__(self, message: str, raw: str | bytes = "") -> None:
        super().__init__(message)
        self.raw = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")


class ArchiveError(ExchangeError):
    """A bulk-archive file could not be used; the caller loads its range over REST."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path


class ArchiveMissing(ArchiveError, Terminal):
    """HTTP 404: the archive has no such file (yet)."""


class ArchiveRefused(ArchiveError, Terminal):
    """An HTTP status other than 404 that asking again cannot change (a 400, a 401...)."""


class ArchiveCorrupt(ArchiveError, Retryable):
    """The file's SHA-256 differs from its ``.CHECKSUM``, or the zip does not open."""

    cause = "corrupt"
