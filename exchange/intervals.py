"""Binance kline intervals and the UTC grid their candles open on.

Fixed intervals are aligned to the Unix epoch, except ``1w`` (Monday 00:00 UTC)
and ``1M`` (calendar months). ``close_time`` is always the next open minus 1 ms
(fact sheet §2).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from .errors import InvalidInterval

MINUTE_MS = 60_000
DAY_MS = 86_400_000
_MONDAY_OFFSET_MS = 4 * DAY_MS  # 1970-01-01 was a Thursday; 1970-01-05 a Monday

_FIXED_MS: dict[str, int] = {
    "1s": 1000,  # spot only (exchange.markets says which market has which interval)
    "1m": MINUTE_MS,
    "3m": 3 * MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": 60 * MINUTE_MS,
    "2h": 120 * MINUTE_MS,
    "4h": 240 * MINUTE_MS,
    "6h": 360 * MINUTE_MS,
    "8h": 480 * MINUTE_MS,
    "12h": 720 * MINUTE_MS,
    "1d": DAY_MS,
    "3d": 3 * DAY_MS,
    "1w": 7 * DAY_MS,
}
INTERVAL_NAMES: tuple[str, ...] = (*_FIXED_MS, "1M")


@dataclass(frozen=True)
class Interval:
    """One Binance interval; ``ms`` is ``None`` for the calendar month ``1M``."""

    name: str
    ms: int | None
    offset_ms: int = 0

    @classmethod
    def parse(cls, name: str) -> Interval:
        """Return the interval called ``name``.

        Raises:
            InvalidInterval: ``name`` is not one of :data:`INTERVAL_NAMES`.
        """
        if name == "1M":
            return cls("1M", None)
        if name not in _FIXED_MS:
            hint = ""
            if name.lower() in _FIXED_MS or name == "1mo":
                hint = " (case-sensitive: 1m is a minute, 1M a month, 1h an hour)"
            raise InvalidInterval(
                f"invalid interval {name!r}{hint}: use one of {','.join(INTERVAL_NAMES)}"
            )
        return cls(name, _FIXED_MS[name], _MONDAY_OFFSET_MS if name == "1w" else 0)

    def floor(self, ts_ms: int) -> int:
        """Open time of the candle that contains ``ts_ms``."""
        if self.ms is None:
            d = _utc(ts_ms)
            return _ms(datetime(d.year, d.month, 1, tzinfo=UTC))
        return (ts_ms - self.offset_ms) // self.ms * self.ms + self.offset_ms

    def ceil(self, ts_ms: int) -> int:
        """First open time at or after ``ts_ms``."""
        floor = self.floor(ts_ms)
        return floor if floor == ts_ms else self.add(floor, 1)

    def add(self, open_ms: int, n: int) -> int:
        """Open time ``n`` candles after the grid point ``open_ms``."""
        if self.ms is not None:
            return open_ms + n * self.ms
        d = _utc(open_ms)
        months = d.year * 12 + d.month - 1 + n
        return _ms(datetime(months // 12, months % 12 + 1, 1, tzinfo=UTC))

    def close_time(self, open_ms: int) -> int:
        """Close time of the candle opening at ``open_ms``: the next open minus 1 ms."""
        return self.add(open_ms, 1) - 1

    def count(self, start_ms: int, end_ms: int) -> int:
        """Number of grid points in ``[start_ms, end_ms)``; both must be on the grid."""
        if end_ms <= start_ms:
            return 0
        if self.ms is not None:
            return (end_ms - start_ms) // self.ms
        a, b = _utc(start_ms), _utc(end_ms)
        return (b.year - a.year) * 12 + b.month - a.month

    def __str__(self) -> str:
        return self.name


def _utc(ts_ms: int) -> datetime:
    return datetime.fromtimestamp(ts_ms / 1000, UTC)


def _ms(d: datetime) -> int:
    return int(d.timestamp() * 1000)
