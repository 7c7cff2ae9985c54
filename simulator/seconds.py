"""Spot's 1s candles: every minute split into sixty seconds that add up to it exactly.

The minute model stays the truth of every interval; a minute's seconds are a pure function
of its closed values and the hash key, so they never change once closed:

* ``K = min(trades, volume, 60)`` seconds trade (hashed ranks); the others are flat at the
  last price with zero volume (price only moves with trades);
* the price steps from the minute's open to its close over the trading seconds; the first
  trading second by rank reaches the minute's high, the second its low;
* volume, trades and taker volume split over the trading seconds; every trading second
  trades at the minute's VWAP, so quote volumes add up exactly.

The still-forming minute of every spot interval is made of its closed seconds and the
forming second (:func:`form_minute`), so spot's 1s and 1m candles agree at every instant.
"""

from __future__ import annotations

import numpy as np

from simulator.minutes import MinuteBlock, uniform

SECOND_MS = 1000
_W = 1 << 16  # integer weights for exact splits


def split(key: int, b: MinuteBlock) -> MinuteBlock:
    """The 60 closed seconds of every minute of ``b`` (closed values); ``minutes`` holds
    second indices (epoch seconds)."""
    m = b.minutes.size
    if m == 0:
        return b
    sec = (b.minutes[:, None] * 60 + np.arange(60, dtype=np.int64)[None, :]).ravel()
    col = {name: getattr(b, name)[:, None] for name in ("open", "high", "low", "close")}
    o, h, lo, c = col["open"], col["high"], col["low"], col["close"]
    v, q, n, tb = (getattr(b, k)[:, None] for k in ("volume", "quote", "trades", "taker_base"))
    w = np.where(v > 0, q // np.maximum(v, 1), o)
    k = np.where(v > 0, np.minimum(np.minimum(n, v), 60), 0)
    rank = np.argsort(np.argsort(uniform(key, sec, 11).reshape(m, 60), axis=1), axis=1)
    trade = rank < k
    j = np.cumsum(trade, axis=1)
    steps = np.arange(61, dtype=np.int64)[None, :]
    ks = np.maximum(k, 1)
    level = o + (2 * (c - o) * steps + ks) // (2 * ks)
    span = (h - lo) // 4
    jitter_u = uniform(key, (b.minutes[:, None] * 61 + steps).ravel(), 12).reshape(m, 61)
    jitter = np.floor((2.0 * jitter_u - 1.0) * span).astype(np.int64)
    inner = (steps > 0) & (steps < k)
    level = np.where(inner, np.clip(level + jitter, lo, h), level)
    after = np.take_along_axis(level, j, axis=1)
    before = np.take_along_axis(level, j - trade, axis=1)
    high = np.where(trade, np.maximum(np.maximum(before, after), w), after)
    low = np.where(trade, np.minimum(np.minimum(before, after), w), after)
    high = np.where(trade & (rank == 0), h, high)
    low = np.where(trade & (rank == np.minimum(1, k - 1)), lo, low)
    volume = _spread(v, k, _weights(key, sec, 13, trade), trade, rank)
    trades = _spread(n, k, _weights(key, sec, 14, trade), trade, rank)
    order = np.argsort(rank, axis=1)
    by_rank = np.take_along_axis(volume, order, axis=1)
    filled = np.clip(tb - (np.cumsum(by_rank, axis=1) - by_rank), 0, by_rank)
    taker = np.empty_like(filled)
    np.put_along_axis(taker, order, filled, axis=1)
    return MinuteBlock(
        minutes=sec,
        open=before.ravel(),
        high=high.ravel(),
        low=low.ravel(),
        close=after.ravel(),
        volume=volume.ravel(),
        quote=(volume * w).ravel(),
        trades=trades.ravel(),
        taker_base=taker.ravel(),
        taker_quote=(taker * w).ravel(),
    )


def _weights(key: int, sec: np.ndarray, stream: int, trade: np.ndarray) -> np.ndarray:
    u = uniform(key, sec, stream).reshape(trade.shape)
    return np.where(trade, (u * _W).astype(np.int64) + 1, 0)


def _spread(
    total: np.ndarray, k: np.ndarray, weights: np.ndarray, trade: np.ndarray, rank: np.ndarray
) -> np.ndarray:
    """``total`` (>= k) over the trading seconds, at least one each, by ``weights``."""
    extra = total - k
    denom = np.maximum(weights.sum(axis=1, keepdims=True), 1)
    share = extra * weights // denom
    rest = extra - share.sum(axis=1, keepdims=True)
    return trade.astype(np.int64) + share + (trade & (rank < rest))


def _forming(s: MinuteBlock, i: int, fraction: float) -> tuple[int, ...]:
    """Second ``i`` of ``s`` after ``fraction`` of it: (o, h, l, c, v, q, n, tb, tq)."""
    o, c = int(s.open[i]), int(s.close[i])
    vol = int(s.volume[i])
    part = int(vol * fraction)
    if part == 0:
        return (o, o, o, o, 0, 0, 0, 0, 0)
    w = int(s.quote[i]) // vol
    latest = o + round((c - o) * fraction)
    taker = min(int(int(s.taker_base[i]) * fraction), part)
    trades = max(1, int(int(s.trades[i]) * fraction))
    return (o, max(o, latest, w), min(o, latest, w), latest, part, part * w, trades, taker,
            taker * w)  # fmt: skip


def candles(key: int, final: MinuteBlock, now_ms: int) -> MinuteBlock:
    """The 1s candles of the closed minutes ``final`` that have opened by ``now_ms``; the
    second containing ``now_ms`` is still forming."""
    s = split(key, final)
    now_s = now_ms // SECOND_MS
    s = s.select(s.minutes <= now_s)
    if s.minutes.size and s.minutes[-1] == now_s:
        values = _forming(s, s.minutes.size - 1, (now_ms % SECOND_MS) / SECOND_MS)
        for name, value in zip(_VALUE_FIELDS, values, strict=True):
            getattr(s, name)[-1] = value
    return s


_VALUE_FIELDS = ("open", "high", "low", "close", "volume", "quote", "trades", "taker_base",
                 "taker_quote")  # fmt: skip


def form_minute(key: int, b: MinuteBlock, i: int, now_ms: int) -> None:
    """Replace row ``i`` of ``b`` (closed values) in place by that minute as formed at
    ``now_ms``: its seconds so far, the last one forming."""
    s = candles(key, b.select(np.arange(b.minutes.size) == i), now_ms)
    if s.minutes.size == 0:
        return
    values = (
        s.open[0],
        s.high.max(),
        s.low.min(),
        s.close[-1],
        s.volume.sum(),
        s.quote.sum(),
        s.trades.sum(),
        s.taker_base.sum(),
        s.taker_quote.sum(),
    )
    for name, value in zip(_VALUE_FIELDS, values, strict=True):
        getattr(b, name)[i] = value
