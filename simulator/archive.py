"""The simulator's data.binance.vision: monthly and daily kline zips with ``.CHECKSUM`` files.

The real layout, for every market and kind (binance-api.md §6)::

    data/futures/um/{monthly,daily}/{klines,markPriceKlines,indexPriceKlines,premiumIndexKlines}/
    data/futures/cm/...  (the same kinds; index files are named by pair, e.g. BTCUSD)
    data/spot/{monthly,daily}/klines/
        <SYMBOL>/<interval>/<SYMBOL>-<interval>-<YYYY-MM[-DD]>.zip[.CHECKSUM]

Files are generated from the Market truth, so an archive backfill must equal REST row for
row. As on the real archive: futures files have a header row only from June 2022 on, spot
files never; spot files from 2025-01-01 on carry microsecond open and close times; monthly
files use ``1mo``; daily files exist only for ``1m`` … ``1d`` (and spot's ``1s``); a file
appears once its period has ended (no file for today), and days before listing or after
delivery have none. Switchable faults (by file name, e.g. ``BTCUSDT-1m-2026-10-05.zip``, or
by path, e.g. ``data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2026-10-05.zip``, to single
out one market or kind): a corrupt zip (its checksum matches the broken bytes), a wrong
checksum, a missing file (404). Archive requests never count REST weight.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import re
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from simulator import canned
from simulator.market import Market
from simulator.wire import Request, Response

HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
    "taker_buy_volume,taker_buy_quote_volume,ignore"
)
HEADER_FROM_MS = calendar.timegm((2022, 6, 1, 0, 0, 0)) * 1000  # "added after 2022-05"
SPOT_MICROS_FROM_MS = calendar.timegm((2025, 1, 1, 0, 0, 0)) * 1000  # spot: µs from 2025
DAILY_INTERVALS = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d")
MONTHLY_INTERVALS = (*DAILY_INTERVALS, "3d", "1w", "1mo")
MARKET_DIRS = {"futures/um": "usdm", "futures/cm": "coinm", "spot": "spot"}
KIND_DIRS = {
    "klines": "trade",
    "markPriceKlines": "mark",
    "indexPriceKlines": "index",
    "premiumIndexKlines": "premium",
}
_PATH = re.compile(
    r"^/(?P<path>data/(?P<market>futures/um|futures/cm|spot)/(?P<period>monthly|daily)/"
    r"(?P<kind>klines|markPriceKlines|indexPriceKlines|premiumIndexKlines)/"
    r"(?P<symbol>[A-Z0-9_]+)/(?P<interval>[0-9a-zA-Z]+)/(?P<name>(?P=symbol)-(?P=interval)-"
    r"(?P<date>\d{4}-\d{2}(?:-\d{2})?)\.zip))(?P<checksum>\.CHECKSUM)?$"
)
_DAY_MS = 86_400_000


@dataclass
class ArchiveFaults:
    """Faults by file name; a count is how many more answers it spoils (-1: always)."""

    corrupt_zip: dict[str, int] = field(default_factory=dict)
    bad_checksum: dict[str, int] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)
    # Files starting at or after this instant carry microsecond times (None: never).
    microseconds_from_ms: int | None = None

    def update(self, **changes: Any) -> None:
        """Set fields by name; a list of names means "always" for the two fault dicts."""
        for name, value in changes.items():
            if name in ("corrupt_zip", "bad_checksum"):
                value = dict.fromkeys(value, -1) if isinstance(value, list) else dict(value)
            elif name == "missing":
                value = set(value)
            elif name != "microseconds_from_ms":
                raise ValueError(f"unknown archive fault field {name!r}")
            setattr(self, name, value)

    def take(self, kind: str, name: str, path: str = "") -> bool:
        """Whether ``kind`` spoils this answer of the file ``path`` (its key if listed, else
        its ``name``); consumes one count."""
        table: dict[str, int] = getattr(self, kind)
        key = path if path in table else name
        left = table.get(key, 0)
        if left == 0:
            return False
        if left > 0:
            table[key] = left - 1
        return True

    def spoils(self, kind: str, name: str, path: str) -> bool:
        """Whether ``kind`` applies to the file (without consuming a count)."""
        table: dict[str, int] | set[str] = getattr(self, kind)
        if isinstance(table, set):
            return path in table or name in table
        return bool(table.get(path, 0) or table.get(name, 0))

    def to_json(self) -> dict[str, Any]:
        return {
            "corrupt_zip": self.corrupt_zip,
            "bad_checksum": self.bad_checksum,
            "missing": sorted(self.missing),
            "microseconds_from_ms": self.microseconds_from_ms,
        }


class Archive:
    """Serves ``/data/{futures/um,futures/cm,spot}/{monthly,daily}/<kind>/...`` from the
    Market truth."""

    def __init__(self, market: Market, cache_files: int = 64) -> None:
        self.market = market
        self.faults = ArchiveFaults()
        self.requests: list[str] = []
        self._cache: OrderedDict[tuple[str, bool], tuple[bytes, str]] = OrderedDict()
        self._cache_files = cache_files
        self._lock = threading.Lock()
        self._building: dict[tuple[str, bool], threading.Lock] = {}

    def reset(self) -> None:
        self.faults = ArchiveFaults()
        with self._lock:
            self.requests.clear()

    def handle(self, req: Request, now_ms: int) -> Response:
        """One archive GET (zip or checksum)."""
        with self._lock:
            self.requests.append(req.path)
        match = _PATH.match(req.path)
        if match is None or req.method != "GET":
            return canned.not_found()
        period, symbol, iv, name, path = (
            match["period"],
            match["symbol"],
            match["interval"],
            match["name"],
            match["path"],
        )
        market, kind = MARKET_DIRS[match["market"]], KIND_DIRS[match["kind"]]
        seconds = ("1s",) if market == "spot" else ()
        if (period == "daily" and iv not in (*seconds, *DAILY_INTERVALS)) or (
            period == "monthly" and iv not in (*seconds, *MONTHLY_INTERVALS)
        ):
            return _s3_not_found()
        start, end = _period(match["date"], period)
        if start is None or end > now_ms or not self._listed(market, kind, symbol):
            return _s3_not_found()
        if self.faults.spoils("missing", name, path):
            return _s3_not_found()
        interval = "1M" if iv == "1mo" else iv
        if market == "spot":
            micros = start >= SPOT_MICROS_FROM_MS
        else:
            since = self.faults.microseconds_from_ms
            micros = since is not None and start >= since
        built = self._file(
            (path, micros),
            lambda: self._build(symbol, interval, name, start, end, now_ms, micros, market, kind),
        )
        if built is None:
            return _s3_not_found()
        zip_bytes, digest = built
        if match["checksum"]:
            if self.faults.take("bad_checksum", name, path):
                digest = hashlib.sha256(b"not " + zip_bytes).hexdigest()
            elif self.faults.spoils("corrupt_zip", name, path):  # the published file is broken
                digest = hashlib.sha256(_corrupt(zip_bytes)).hexdigest()
            return Response(200, f"{digest}  {name}\n".encode(), "text/plain")
        if self.faults.take("corrupt_zip", name, path):
            return Response(200, _corrupt(zip_bytes), "application/zip")
        return Response(200, zip_bytes, "application/zip")

    def _listed(self, market: str, kind: str, name: str) -> bool:
        if market == "spot" and kind != "trade":
            return False
        return name in (self.market.pairs(market) if kind == "index" else self.market.specs(market))

    def _file(
        self, key: tuple[str, bool], build: Callable[[], tuple[bytes, str] | None]
    ) -> tuple[bytes, str] | None:
        """The cached (zip, digest) of ``key``, built once even when asked for at once."""
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            building = self._building.setdefault(key, threading.Lock())
        with building:  # a zip and its checksum asked at once: one build
            with self._lock:
                if key in self._cache:
                    return self._cache[key]
            built = build()
            with self._lock:
                self._building.pop(key, None)
                if built is not None:
                    self._cache[key] = built
                    while len(self._cache) > self._cache_files:
                        self._cache.popitem(last=False)
        return built

    def _build(
        self,
        symbol: str,
        interval: str,
        name: str,
        start: int,
        end: int,
        now_ms: int,
        micros: bool,
        market: str = "usdm",
        kind: str = "trade",
    ) -> tuple[bytes, str] | None:
        rows = self.market.klines(
            symbol, interval, start, end - 1, now_ms, 1 << 62, market=market, kind=kind
        )
        if not rows:
            return None
        lines = [HEADER] if market != "spot" and start >= HEADER_FROM_MS else []
        for r in rows:
            if micros:
                r = [r[0] * 1000, *r[1:6], r[6] * 1000 + 999, *r[7:]]
            lines.append(",".join(map(str, r)))
        # A published file never changes: stamp its member with the period's end, not now.
        stamp = datetime.fromtimestamp(end / 1000, UTC).timetuple()[:6]
        member = zipfile.ZipInfo(name.removesuffix(".zip") + ".csv", date_time=stamp)
        member.compress_type = zipfile.ZIP_DEFLATED
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr(member, "\n".join(lines) + "\n", compresslevel=1)
        return buf.getvalue(), hashlib.sha256(buf.getvalue()).hexdigest()


def _period(date: str, period: str) -> tuple[int | None, int]:
    try:
        if period == "monthly":
            day = datetime.strptime(date, "%Y-%m").replace(tzinfo=UTC)
            months = day.year * 12 + day.month
            nxt = datetime(months // 12, months % 12 + 1, 1, tzinfo=UTC)
            return int(day.timestamp() * 1000), int(nxt.timestamp() * 1000)
        day = datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None, 0
    start = int(day.timestamp() * 1000)
    return start, start + _DAY_MS


def _corrupt(zip_bytes: bytes) -> bytes:
    """The zip with its central directory cut off: it no longer opens."""
    return zip_bytes[: max(1, len(zip_bytes) // 2)]


def _s3_not_found() -> Response:
    body = "<?xml version='1.0' encoding='UTF-8'?><Error><Code>NoSuchKey</Code></Error>"
    return Response(404, body.encode(), "application/xml")
