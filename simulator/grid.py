"""Kline interval grid for the simulator (private helpers; the client has its own).

Buckets are aligned as on Binance: fixed intervals to the Unix epoch, ``3d`` to epoch-day
multiples of three, ``1w`` to Monday 00:00 UTC and ``1M`` to calendar months (UTC).
``INTERVALS`` are the futures intervals; spot adds ``1s`` (``SPOT_INTERVALS``).
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime

import numpy as np

MINUTE_MS = 60_000
DAY_MS = 86_400_000
INTERVALS = (
    "1m",
    "3m",
    "5m",
    "15m",
    "30m",
    "1h",
    "2h",
    "4h",
    "6h",
    "8h",
    "12h",
    "1d",
    "3d",
    "1w",
    "1M",
)
SPOT_INTERVALS = ("1s", *INTERVALS)

_FIXED_MIN = {
    "1m": 1,
    "3m": 3,
    "5m": 5,
    "15m": 15,
    "30m": 30,
    "1h": 60,
    "2h": 120,
    "4h": 240,
    "6h": 360,
    "8h": 480,
    "12h": 720,
    "1d": 1440,
    "3d": 4320,
    "1w": 10080,
}
_WEEK_OFFSET_MS = 4 * DAY_MS  # 1970-01-01 was a Thursday; the first Monday is 1970-01-05


def max_minutes(interval: str) -> int:
    """Upper bound on the number of minutes in one bucket of ``interval``."""
    if interval == "1s":
        return 1
    return 31 * 1440 if interval == "1M" else _FIXED_MIN[interval]


def _step_offset(interval: str) -> tuple[int, int]:
    if interval == "1s":
        return 1000, 0
    return _FIXED_MIN[interval] * MINUTE_MS, (_WEEK_OFFSET_MS if interval == "1w" else 0)


def _month_index(t_ms: int) -> int:
    d = datetime.fromtimestamp(t_ms / 1000, tz=UTC)
    return d.year * 12 + d.month - 1


def _month_open(index: int) -> int:
    year, month0 = divmod(index, 12)
    return calendar.timegm((year, month0 + 1, 1, 0, 0, 0)) * 1000


def floor_open(interval: str, t_ms: int) -> int:
    """Open time of the bucket containing ``t_ms``."""
    if interval == "1M":
        return _month_open(_month_index(t_ms))
    step, off = _step_offset(interval)
    return (t_ms - off) // step * step + off


def next_open(interval: str, open_ms: int) -> int:
    """Open time of the bucket following the bucket that opens at ``open_ms``."""
    if interval == "1M":
        return _month_open(_month_index(open_ms) + 1)
    return open_ms + _step_offset(interval)[0]


def opens_forward(interval: str, lo_ms: int, hi_ms: int, count: int) -> np.ndarray:
    """At most ``count`` bucket opens with ``lo_ms <= open <= hi_ms``, ascending (int64)."""
    if hi_ms < lo_ms or count <= 0:
        return np.empty(0, dtype=np.int64)
    first = floor_open(interval, lo_ms)
    if first < lo_ms:
        first = next_open(interval, first)
    if interval == "1M":
        start = _month_index(first)
        out: list[int] = []
        while len(out) < count:
            t = _month_open(start + len(out))
            if t > hi_ms:
                break
            out.append(t)
        return np.asarray(out, dtype=np.int64)
    step, _ = _step_offset(interval)
    n = min(count, (hi_ms - first) // step + 1) if first <= hi_ms else 0
    return first + step * np.arange(max(n, 0), dtype=np.int64)


def opens_backward(interval: str, lo_ms: int, hi_ms: int, count: int) -> np.ndarray:
    """The last ``count`` bucket opens with ``lo_ms <= open <= hi_ms``, ascending (int64)."""
    if hi_ms < lo_ms or count <= 0:
        return np.empty(0, dtype=np.int64)
    last = floor_open(interval, hi_ms)
    if interval == "1M":
        end = _month_index(last)
        out = [_month_open(end - i) for i in range(count)]
        return np.asarray(sorted(t for t in out if t >= lo_ms), dtype=np.int64)
    step, _ = _step_offset(interval)
    opens = last - step * np.arange(count, dtype=np.int64)[::-1]
    return opens[opens >= lo_ms]


def edges_of(interval: str, opens: np.ndarray) -> np.ndarray:
    """Bucket edges for contiguous ``opens``: the opens followed by the next open after the last."""
    return np.append(opens, np.int64(next_open(interval, int(opens[-1]))))
