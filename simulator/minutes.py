"""Vectorised, stateless generation of 1-minute candles.

Every value of minute ``m`` (minutes since the epoch) is a pure function of
``(seed, symbol, m)``: a smooth price path (a sum of sines in log space plus hashed
noise) around the symbol's base price, quantised to integer ticks. All quantities are
integers so that aggregation is exact:

* prices in ticks,
* base volumes in ``qty_step`` units,
* quote volumes in ``tick * qty_step`` units (``volume_units * vwap_ticks``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLD = np.uint64(0x9E3779B97F4A7C15)
_TWO_PI = 2.0 * np.pi

# (period in minutes, amplitude in log-price) of the smooth component
_WAVES = (
    (1440.0 * 97.3, 0.22),
    (1440.0 * 23.1, 0.07),
    (1440.0 * 3.7, 0.025),
    (60.0 * 7.3, 0.006),
    (93.0, 0.0015),
    (17.0, 0.0006),
)
_NOISE = 0.0004  # log-price noise at each minute boundary
_ZERO_VOLUME_P = 0.02  # share of minutes without trades
_QUOTE_PER_MINUTE = 2_000_000  # mean quote volume of a minute, in quote currency
_MINUTES_PER_YEAR = 525_600.0


def stable_hash(*parts: object) -> int:
    """A 64-bit hash of ``parts`` that does not depend on the Python process."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser, element-wise on uint64 (wrapping arithmetic)."""
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


def uniform(key: int, minutes: np.ndarray, stream: int) -> np.ndarray:
    """Deterministic uniforms in [0, 1) for each minute index and stream number."""
    salt = np.uint64((key ^ (stream * 0x632BE59BD9B4E019)) & 0xFFFFFFFFFFFFFFFF)
    x = _mix(minutes.astype(np.uint64) * _GOLD + salt)
    return (x >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


@dataclass(frozen=True)
class MinuteBlock:
    """Integer columns of consecutive 1m candles; ``minutes`` are minute indices."""

    minutes: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    quote: np.ndarray
    trades: np.ndarray
    taker_base: np.ndarray
    taker_quote: np.ndarray

    def select(self, mask: np.ndarray) -> MinuteBlock:
        """The rows where ``mask`` is true."""
        return MinuteBlock(**{k: getattr(self, k)[mask] for k in self.__dataclass_fields__})


class MinuteModel:
    """Generator of 1m candles for one symbol."""

    def __init__(
        self,
        seed: int,
        symbol: str,
        base_ticks: int,
        mean_volume_units: int,
        *,
        waves_of: str | None = None,
        basis: tuple[float, int] | None = None,
    ) -> None:
        """``base_ticks`` is the base price in ticks; ``mean_volume_units`` the mean 1m volume.

        The noise, wicks and volumes hash ``symbol``; the smooth waves hash ``waves_of``
        (default ``symbol``), so series that share it move together. ``basis`` =
        ``(yearly rate, delivery minute)`` lifts the price by the rate times the time left.
        """
        self._key = stable_hash("minutes", seed, symbol)
        self._base = float(base_ticks)
        self._mean_vol = float(max(mean_volume_units, 10))
        wave_key = symbol if waves_of is None else waves_of
        phases = [stable_hash("phase", seed, wave_key, k) / 2.0**64 * _TWO_PI for k in range(6)]
        self._phases = tuple(phases)
        self._basis = basis

    @property
    def key(self) -> int:
        """The hash key of this model's noise (other generators derive theirs from it)."""
        return self._key

    def path(self, boundaries: np.ndarray) -> np.ndarray:
        """Price in ticks at the start of each minute index in ``boundaries``."""
        t = boundaries.astype(np.float64)
        log_p = np.zeros_like(t)
        for (period, amp), phase in zip(_WAVES, self._phases, strict=True):
            log_p += amp * np.sin(t * (_TWO_PI / period) + phase)
        log_p += (uniform(self._key, boundaries, 1) - 0.5) * (2.0 * _NOISE)
        if self._basis is not None:
            rate, delivery_minute = self._basis
            log_p += rate * np.maximum(delivery_minute - t, 0.0) / _MINUTES_PER_YEAR
        return np.maximum(np.rint(self._base * np.exp(log_p)), 1.0).astype(np.int64)

    def block(self, m0: int, m1: int) -> MinuteBlock:
        """Final (closed) values of minutes ``m0 <= m < m1``."""
        minutes = np.arange(m0, m1, dtype=np.int64)
        path = self.path(np.arange(m0, m1 + 1, dtype=np.int64))
        op, cl = path[:-1], path[1:].copy()
        wick = self._base * 0.0006
        top = np.maximum(op, cl)
        bottom = np.minimum(op, cl)
        high = top + np.floor(uniform(self._key, minutes, 2) ** 2 * wick).astype(np.int64)
        low = bottom - np.floor(uniform(self._key, minutes, 3) ** 2 * wick).astype(np.int64)
        low = np.maximum(low, 1)

        u_vol = uniform(self._key, minutes, 4)
        volume = np.maximum(np.floor(self._mean_vol * (0.15 + 1.7 * u_vol)).astype(np.int64), 1)
        trades = 1 + np.floor(volume / self._mean_vol * 600.0 * uniform(self._key, minutes, 5))
        trades = trades.astype(np.int64)
        span = high - low + 1
        vwap = low + np.minimum(
            np.floor(uniform(self._key, minutes, 6) * span).astype(np.int64), span - 1
        )
        taker = np.floor(volume * (0.3 + 0.4 * uniform(self._key, minutes, 7))).astype(np.int64)

        idle = uniform(self._key, minutes, 8) < _ZERO_VOLUME_P
        if idle.any():
            cl[idle] = op[idle]
            high[idle] = op[idle]
            low[idle] = op[idle]
            volume[idle] = 0
            trades[idle] = 0
            taker[idle] = 0
        return MinuteBlock(
            minutes=minutes,
            open=op,
            high=high,
            low=low,
            close=cl,
            volume=volume,
            quote=volume * vwap,
            trades=trades,
            taker_base=taker,
            taker_quote=taker * vwap,
        )

    def partial(self, final: MinuteBlock, i: int, fraction: float) -> None:
        """Replace row ``i`` of ``final`` in place by the state of that minute after ``fraction``.

        The still-forming minute has the same open, a "latest price" close that always
        differs from the final close, and pro-rated volume, trades and taker volumes.
        """
        m = final.minutes[i : i + 1]
        o, c = int(final.open[i]), int(final.close[i])
        h, lo = int(final.high[i]), int(final.low[i])
        step = 1 + int(uniform(self._key, m, 9)[0] * 3)
        latest = (
            o + round((c - o) * fraction) + (step if uniform(self._key, m, 10)[0] < 0.5 else -step)
        )
        if latest == c:
            latest = c + 1
        latest = max(latest, 1)
        final.close[i] = latest
        final.high[i] = max(o, latest, o + round((h - o) * fraction))
        final.low[i] = max(1, min(o, latest, o - round((o - lo) * fraction)))
        vol = int(final.volume[i])
        vwap = int(final.quote[i]) // vol if vol else o
        vwap = min(max(vwap, int(final.low[i])), int(final.high[i]))
        p_vol = int(vol * fraction)
        p_taker = min(int(int(final.taker_base[i]) * fraction), p_vol)
        final.volume[i] = p_vol
        final.quote[i] = p_vol * vwap
        final.trades[i] = int(int(final.trades[i]) * fraction)
        final.taker_base[i] = p_taker
        final.taker_quote[i] = p_taker * vwap
