"""Bulk kline archives of data.binance.vision: plan, download, verify, unzip.

Layout (fact sheet §6)::

    data/futures/um/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01.zip       (+ .CHECKSUM)
    data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-02-03.zip      (+ .CHECKSUM)
    data/<market prefix>/<period>/<kind folder>/...: futures/cm, spot; markPriceKlines ...

A ``.CHECKSUM`` file holds ``<sha256 hex>  <file name>``. Monthly files use ``1mo`` for the
``1M`` interval; daily files exist only for ``1m`` … ``1d``. A 404 means "the archive lacks
it" (recent files appear a day or more late, and whole days have gone missing); the caller
loads that range over REST instead. No Prefect, no DuckDB here.
"""

from __future__ import annotations

import hashlib
import io
import logging
import random
import struct
import threading
import time
import zipfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

import requests
import urllib3
from isal import isal_zlib

from .errors import (
    ArchiveCorrupt,
    ArchiveMissing,
    ArchiveRefused,
    ExchangeError,
    ExchangeUnreachable,
    NetworkError,
    ServerError,
    is_retryable,
)
from .http import new_session, read_body
from .intervals import DAY_MS, Interval

log = logging.getLogger("klines.archive")

DEFAULT_ARCHIVE_URL = "https://data.binance.vision"
# Intervals whose candles nest in UTC days, so a day's or month's file holds exactly the
# candles opening in it (binance-public-data python/enums.py DAILY_INTERVALS, minus 1s).
ARCHIVE_INTERVALS = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d")
# Threads fetching .CHECKSUM files beside their zips (shared by all of a client's downloads).
CHECKSUM_THREADS = 8


@dataclass(frozen=True)
class ArchiveConfig:
    """Where the archive is and how patiently to download from it."""

    base_url: str = DEFAULT_ARCHIVE_URL
    connect_timeout: float = 3.05
    read_timeout: float = 30.0
    max_retries: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    corrupt_retries: int = 1
    workers: int = 4


@dataclass(frozen=True)
class ArchiveFile:
    """One archive file: the candles of ``symbol``/``interval`` opening in [start_ms, end_ms).

    ``prefix`` is the market's part of the path (``futures/um``, ``futures/cm``, ``spot``),
    ``folder`` the kind's (``klines``, ``markPriceKlines`` ...): :mod:`exchange.markets`.
    """

    symbol: str
    interval: str
    period: str  # "monthly" | "daily"
    start_ms: int
    end_ms: int
    prefix: str = "futures/um"
    folder: str = "klines"

    @property
    def name(self) -> str:
        day = datetime.fromtimestamp(self.start_ms / 1000, UTC)
        when = f"{day:%Y-%m}" if self.period == "monthly" else f"{day:%Y-%m-%d}"
        return f"{self.symbol}-{archive_interval(self.interval)}-{when}.zip"

    @property
    def path(self) -> str:
        iv = archive_interval(self.interval)
        return f"data/{self.prefix}/{self.period}/{self.folder}/{self.symbol}/{iv}/{self.name}"


def archive_interval(interval: str) -> str:
    """The interval as spelled in archive paths: ``1mo`` for the month, else unchanged."""
    return "1mo" if interval == "1M" else interval


def plan_archive(
    symbol: str,
    interval: str,
    start_ms: int,
    end_ms: int,
    today_ms: int,
    prefix: str = "futures/um",
    folder: str = "klines",
) -> list[ArchiveFile]:
    """Archive files covering the whole UTC days of ``[start_ms, end_ms)`` before ``today_ms``.

    Whole calendar months become one monthly file, the remaining whole days daily files;
    everything else (a partial first or last day, today) is left to REST. Returns the
    files in time order; empty for intervals the daily archive does not serve. ``prefix``
    and ``folder`` place the files (see :class:`ArchiveFile`).
    """
    if interval not in ARCHIVE_INTERVALS:
        return []
    day = Interval("1d", DAY_MS)
    first = day.ceil(start_ms)
    last = min(day.floor(end_ms), day.floor(today_ms))
    files: list[ArchiveFile] = []
    month = Interval.parse("1M")
    cursor = first
    while cursor < last:
        m_start = month.floor(cursor)
        m_end = month.add(m_start, 1)
        if m_start == cursor and m_end <= last:
            files.append(ArchiveFile(symbol, interval, "monthly", cursor, m_end, prefix, folder))
            cursor = m_end
        else:
            files.append(
                ArchiveFile(symbol, interval, "daily", cursor, cursor + DAY_MS, prefix, folder)
            )
            cursor += DAY_MS
    return files


def split_month(f: ArchiveFile) -> list[ArchiveFile]:
    """The daily files of a monthly file (used when the monthly one is not published yet)."""
    return [
        ArchiveFile(f.symbol, f.interval, "daily", t, t + DAY_MS, f.prefix, f.folder)
        for t in range(f.start_ms, f.end_ms, DAY_MS)
    ]


def parse_checksum(text: str, name: str) -> str:
    """The SHA-256 hex digest of ``name`` from ``.CHECKSUM`` text (``<hex>  <name>``).

    Raises:
        ArchiveCorrupt: the text is not a checksum line for ``name``.
    """
    parts = text.strip().split()
    if len(parts) != 2 or parts[1].lstrip("*") != name or len(parts[0]) != 64:
        raise ArchiveCorrupt(f"{name}.CHECKSUM is not '<sha256>  {name}': {text[:100]!r}", name)
    try:
        int(parts[0], 16)
    except ValueError:
        raise ArchiveCorrupt(f"{name}.CHECKSUM holds no hex digest: {text[:100]!r}", name) from None
    return parts[0].lower()


def verify_and_unzip(zip_bytes: bytes, expected_sha256: str, name: str) -> bytes:
    """The CSV inside ``zip_bytes`` after checking its SHA-256.

    Raises:
        ArchiveCorrupt: digest mismatch, not a zip, or not exactly one CSV inside.
    """
    digest = hashlib.sha256(zip_bytes).hexdigest()
    if digest != expected_sha256:
        raise ArchiveCorrupt(
            f"{name}: SHA-256 {digest[:12]}… differs from .CHECKSUM {expected_sha256[:12]}…",
            name,
        )
    try:
        with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
            members = [m for m in zf.infolist() if m.filename.endswith(".csv")]
            if len(members) != 1:
                found = [m.filename for m in members]
                raise ArchiveCorrupt(f"{name}: expected one CSV inside, found {found}", name)
            return _inflate(zip_bytes, members[0])
    except (zipfile.BadZipFile, zipfile.LargeZipFile, isal_zlib.error, EOFError, OSError) as exc:
        raise ArchiveCorrupt(f"{name}: the zip does not open ({exc})", name) from exc


def _inflate(zip_bytes: bytes, member: zipfile.ZipInfo) -> bytes:
    """One member's bytes, inflated in one call and checked against its CRC-32 and size.

    ``ZipFile.read`` inflates in 4 KB steps of Python; one call over the member takes a
    fraction of the CPU (and lets other threads run meanwhile). ISA-L's inflate and CRC-32
    (``isal``) take 40 % of zlib's time, and inflating is most of a download's CPU.
    """
    if member.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise zipfile.BadZipFile(f"compression method {member.compress_type} is not deflate")
    header = zip_bytes[member.header_offset : member.header_offset + 30]
    if len(header) != 30 or header[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile("bad local file header")
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    start = member.header_offset + 30 + name_len + extra_len
    data = zip_bytes[start : start + member.compress_size]
    if member.compress_type == zipfile.ZIP_DEFLATED:
        data = isal_zlib.decompress(data, -isal_zlib.MAX_WBITS)
    if len(data) != member.file_size or isal_zlib.crc32(data) != member.CRC:
        raise zipfile.BadZipFile(f"bad CRC-32 or size for {member.filename}")
    return data


@dataclass
class ArchiveStats:
    """Counters of one client (thread-safe)."""

    requests: int = 0
    bytes: int = 0
    files: int = 0
    missing: int = 0
    corrupt: int = 0
    retries: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)

    def retry(self, cause: str) -> None:
        with self._lock:
            self.retries[cause] += 1


class ArchiveClient:
    """Downloads archive files; one pooled ``requests`` session per thread."""

    def __init__(self, config: ArchiveConfig) -> None:
        self.config = config
        self.base_url = config.base_url.rstrip("/")
        self.stats = ArchiveStats()
        self._local = threading.local()
        self._random = random.Random()
        # Checksums are fetched beside their zips (one round trip per file, not two) by a
        # few long-lived threads, so their connections are reused.
        self._checksums = ThreadPoolExecutor(
            max_workers=CHECKSUM_THREADS, thread_name_prefix="klines-archive-checksum"
        )

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (ArchiveClient, (self.config,))

    def fetch_csv(self, f: ArchiveFile) -> bytes:
        """Download ``f`` and its ``.CHECKSUM``, verify, unzip; return the CSV bytes.

        A corrupt download is fetched again ``corrupt_retries`` times (default once).

        Raises:
            ArchiveMissing: the archive has no such file (HTTP 404).
            ArchiveCorrupt: still corrupt after the retry.
            ArchiveRefused: another 4xx status that asking again cannot change.
            NetworkError, ServerError, ExchangeUnreachable: the archive did not answer.
        """
        attempt = 0
        while True:
            checksum_file = self._checksums.submit(self._get, f.path + ".CHECKSUM")
            try:
                zipped = self._get(f.path)
                checksum = parse_checksum(checksum_file.result().decode(), f.name)
                csv = verify_and_unzip(zipped, checksum, f.name)
            except ArchiveMissing:
                self.stats.add(missing=1)
                raise
            except ArchiveCorrupt as exc:
                attempt += 1
                if attempt > self.config.corrupt_retries:
                    self.stats.add(corrupt=1)
                    raise
                self.stats.retry(exc.cause)
                log.warning("%s; downloading it again", exc)
                continue
            self.stats.add(files=1)
            return csv

    def close(self) -> None:
        self._checksums.shutdown(wait=True, cancel_futures=True)
        session = getattr(self._local, "session", None)
        if session is not None:
            session.close()

    def _get(self, path: str) -> bytes:
        """The body of ``path``, retrying what :func:`~exchange.errors.is_retryable` allows."""
        attempt = 0
        while True:
            try:
                return self._get_once(path, retried=attempt > 0)
            except ExchangeError as exc:
                if not is_retryable(exc):
                    raise
                error = exc
            attempt += 1
            self.stats.retry(error.cause)
            if attempt > self.config.max_retries:
                raise error
            cap = min(self.config.backoff_max, self.config.backoff_base * 2 ** (attempt - 1))
            time.sleep(self._random.uniform(cap / 2, cap))

    def _get_once(self, path: str, retried: bool) -> bytes:
        """One GET; ``requests``' exceptions and error statuses become the client's errors."""
        self.stats.add(requests=1)
        timeout = (self.config.connect_timeout, self.config.read_timeout)
        try:
            response = self._session().get(f"{self.base_url}/{path}", timeout=timeout, stream=True)
            body = read_body(response)
        except urllib3.exceptions.HTTPError as exc:  # while reading the body
            raise NetworkError(f"archive download cut short: {exc}", "truncated") from exc
        except requests.exceptions.ConnectionError as exc:
            if "refused" in str(exc).lower() and retried:
                raise ExchangeUnreachable(self.base_url, "connection refused") from exc
            raise NetworkError(f"archive connection failed: {exc}", "dropped") from exc
        except requests.exceptions.RequestException as exc:
            raise NetworkError(f"archive request failed: {exc}") from exc
        status = response.status_code
        if status == 200:
            self.stats.add(bytes=len(body))
            return body
        if status == 404:
            raise ArchiveMissing(f"{path}: not in the archive (HTTP 404)", path)
        if status >= 500 or status in (403, 408, 429):
            raise ServerError(f"HTTP {status} from the archive for {path}")
        raise ArchiveRefused(f"HTTP {status} from the archive for {path}", path)

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = new_session(self.base_url, max(4, self.config.workers))
            self._local.session = session
        return session
