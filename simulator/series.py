"""The minute series behind every kline kind of every market (pure, no I/O).

A series turns minutes ``[m0, m1)`` into a :class:`~simulator.minutes.MinuteBlock` of the
minutes that exist (listing window, maintenance gaps), the still-forming minute as far as it
has formed at ``now``, and prints aggregated buckets as Binance's 12-field rows. Kinds:

* :class:`TradeSeries`: trade klines. USDⓈ-M as ever; COIN-M counts volume in contracts and
  idx 7 / 10 in base asset (contracts × size / price, 8 decimals); spot prints 8 decimals
  and forms its open minute from its 1s candles (:mod:`simulator.seconds`).
* :class:`PriceSeries`: mark and index price klines (8 decimals, volume fields ``"0"``,
  idx 8 the number of basic data: 60 a minute, as in Binance's 1m example).
* :class:`PremiumSeries`: the premium index, (impact price − index) / index with the
  impact spread as a dead zone, so zero and negative values are common; 12 data a minute.
* :class:`ContinuousSeries`: a pair's contracts stitched by role (PERPETUAL,
  CURRENT_QUARTER, NEXT_QUARTER).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

import numpy as np

from simulator import seconds
from simulator.grid import MINUTE_MS
from simulator.minutes import MinuteBlock, MinuteModel, stable_hash, uniform
from simulator.symbols import SymbolSpec, decimals, units

PRICE_KIND_DECIMALS = 8
MARK_DATA_PER_MINUTE = 60
PREMIUM_DATA_PER_MINUTE = 12
PREMIUM_DEAD_ZONE = 0.0002  # half the impact spread: inside it the premium index is zero
_PREMIUM_WICK = 0.0003


@dataclass(frozen=True)
class Gaps:
    """Maintenance windows as disjoint, sorted minute spans ``[start, end)``."""

    starts: np.ndarray
    ends: np.ndarray

    @classmethod
    def of(cls, windows: Sequence[tuple[int, int]]) -> Gaps:
        """Windows (ms) snapped outwards to whole minutes, sorted and merged."""
        spans = sorted((s // MINUTE_MS, -(-e // MINUTE_MS)) for s, e in windows if e > s)
        merged: list[list[int]] = []
        for s, e in spans:
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        return cls(
            np.asarray([s for s, _ in merged], dtype=np.int64),
            np.asarray([e for _, e in merged], dtype=np.int64),
        )

    def outside(self, minutes: np.ndarray) -> np.ndarray:
        """Mask of the minutes outside every window."""
        if not self.starts.size:
            return np.ones(minutes.shape, dtype=bool)
        idx = np.searchsorted(self.starts, minutes, side="right") - 1
        return ~((idx >= 0) & (minutes < self.ends[np.maximum(idx, 0)]))


@dataclass(frozen=True)
class Columns:
    """How integer columns print: (multiplier, decimals) of prices, volumes and quote volumes
    (idx 7 and 10); ``price_only`` rows carry ``"0"`` volumes and a data count in idx 8."""

    price: tuple[int, int]
    volume: tuple[int, int] = (1, 0)
    quote: tuple[int, int] = (1, 0)
    price_only: bool = False


def fmt(value: int, places: int) -> str:
    """A non-negative integer count of ``10**-places`` as a fixed-point string."""
    if places == 0:
        return str(value)
    text = str(value).rjust(places + 1, "0")
    return f"{text[:-places]}.{text[-places:]}"


def fmt_signed(value: int, places: int) -> str:
    """:func:`fmt` with a leading minus for negative values."""
    return f"-{fmt(-value, places)}" if value < 0 else fmt(value, places)


def padded(text: str, places: int) -> tuple[int, int]:
    """(multiplier, decimals) printing counts of ``text`` with at least ``places`` decimals."""
    d = decimals(text)
    return units(text) * 10 ** max(places - d, 0), max(places, d)


class Series:
    """Listing window, gaps and row printing; subclasses make the minutes."""

    def __init__(self, first_ms: int, end_ms: int, gaps: Gaps, columns: Columns) -> None:
        """Minutes exist from ``first_ms`` (inclusive) to ``end_ms`` (exclusive) outside ``gaps``."""
        self.first_ms = first_ms
        self.end_ms = end_ms
        self.gaps = gaps
        self.columns = columns

    def exists(self, minutes: np.ndarray) -> np.ndarray:
        """Mask of the minute indices that have a candle (the clock aside)."""
        t = minutes * MINUTE_MS
        return (t >= self.first_ms) & (t < self.end_ms) & self.gaps.outside(minutes)

    def block(self, m0: int, m1: int, now_ms: int) -> MinuteBlock:
        """The existing minutes of ``[m0, m1)``; ``m1 <= now // 1m + 1``, and when equal the
        last minute is still forming."""
        raise NotImplementedError

    def latest(self, now_ms: int) -> int | None:
        """The value now (the forming minute's close, in price units), or None when the
        current minute does not exist."""
        m1 = now_ms // MINUTE_MS + 1
        b = self.block(m1 - 1, m1, now_ms)
        return int(b.close[-1]) if b.minutes.size else None

    def rows(self, b: MinuteBlock, edges: np.ndarray, unit_ms: int = MINUTE_MS) -> list[list]:
        """Binance rows of the buckets ``[edges[i], edges[i+1])`` that hold candles of ``b``
        (whose ``minutes`` count ``unit_ms``)."""
        if b.minutes.size == 0:
            return []
        bucket = np.searchsorted(edges, b.minutes * unit_ms, side="right") - 1
        starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
        lasts = np.r_[starts[1:], bucket.size] - 1
        which = bucket[starts]
        cols = (
            edges[which],
            b.open[starts],
            np.maximum.reduceat(b.high, starts),
            np.minimum.reduceat(b.low, starts),
            b.close[lasts],
            np.add.reduceat(b.volume, starts),
            edges[which + 1] - 1,
            np.add.reduceat(b.quote, starts),
            np.add.reduceat(b.trades, starts),
            np.add.reduceat(b.taker_base, starts),
            np.add.reduceat(b.taker_quote, starts),
        )
        (pm, pd), (vm, vd), (qm, qd) = self.columns.price, self.columns.volume, self.columns.quote
        out: list[list] = []
        values = zip(*(col.tolist() for col in cols), strict=True)
        if self.columns.price_only:
            for ot, o, h, lo, c, _v, ct, _q, n, _tb, _tq in values:
                p = fmt_signed
                out.append(
                    [ot, p(o * pm, pd), p(h * pm, pd), p(lo * pm, pd), p(c * pm, pd), "0", ct,
                     "0", n, "0", "0", "0"]
                )  # fmt: skip
            return out
        for ot, o, h, lo, c, v, ct, q, n, tb, tq in values:
            out.append(
                [
                    ot,
                    fmt(o * pm, pd),
                    fmt(h * pm, pd),
                    fmt(lo * pm, pd),
                    fmt(c * pm, pd),
                    fmt(v * vm, vd),
                    ct,
                    fmt(q * qm, qd),
                    n,
                    fmt(tb * vm, vd),
                    fmt(tq * qm, qd),
                    "0",
                ]
            )
        return out


def _is_forming(m1: int, now_ms: int) -> bool:
    return m1 == now_ms // MINUTE_MS + 1


def _fraction(now_ms: int) -> float:
    return (now_ms % MINUTE_MS) / MINUTE_MS


class TradeSeries(Series):
    """Trade klines of one symbol of any market."""

    def __init__(self, spec: SymbolSpec, seed: int, gaps: Gaps) -> None:
        """The symbol's own minute model; its prices follow the waves of ``spec.waves``."""
        tick, step = units(spec.price_tick), units(spec.qty_step)
        pd, qd = spec.price_precision, spec.qty_precision
        if spec.market == "spot":
            columns = Columns(
                padded(spec.price_tick, 8), padded(spec.qty_step, 8), _product(tick, step, pd + qd)
            )
        elif spec.market == "coinm":
            columns = Columns((tick, pd), (step, qd), (1, PRICE_KIND_DECIMALS))
        else:
            columns = Columns((tick, pd), (step, qd), (tick * step, pd + qd))
        super().__init__(spec.onboard_ms, spec.delivery_ms, gaps, columns)
        self.spec = spec
        base_ticks = int(Decimal(spec.base_price) / Decimal(spec.price_tick))
        if spec.market == "coinm":
            mean_vol = int(2_000_000 * spec.activity / spec.contract_size)
        else:
            mean_vol = int(
                2_000_000 * spec.activity / (float(spec.base_price) * float(spec.qty_step))
            )
        basis = (spec.basis_rate, spec.delivery_ms // MINUTE_MS) if spec.basis_rate else None
        name = spec.symbol if spec.market == "usdm" else f"{spec.market}:{spec.symbol}"
        self.model = MinuteModel(seed, name, base_ticks, mean_vol, waves_of=spec.waves, basis=basis)
        self.tick_value = float(Decimal(spec.price_tick))
        self.seconds_key = stable_hash("seconds", seed, name)

    def final(self, m0: int, m1: int) -> MinuteBlock:
        """The closed values of the existing minutes of ``[m0, m1)`` (no forming minute)."""
        b = self.model.block(m0, m1)
        return self._convert(b.select(self.exists(b.minutes)))

    def block(self, m0: int, m1: int, now_ms: int) -> MinuteBlock:
        b = self.model.block(m0, m1)
        if _is_forming(m1, now_ms):
            if self.spec.market == "spot":  # the 1s candles so far, so 1s and 1m agree
                seconds.form_minute(self.seconds_key, b, m1 - m0 - 1, now_ms)
            else:
                self.model.partial(b, m1 - m0 - 1, _fraction(now_ms))
        return self._convert(b.select(self.exists(b.minutes)))

    def seconds(self, m0: int, m1: int, now_ms: int) -> MinuteBlock:
        """Spot's 1s candles of the existing minutes of ``[m0, m1)`` that have opened by
        ``now_ms``, the last one still forming; ``minutes`` holds second indices."""
        return seconds.candles(self.seconds_key, self.final(m0, m1), now_ms)

    def _convert(self, b: MinuteBlock) -> MinuteBlock:
        """COIN-M: quote columns become base-asset volume in 1e-8 units, rounded half up,
        from each minute's contracts and VWAP (contracts × size / price)."""
        if self.spec.market != "coinm" or b.minutes.size == 0:
            return b
        scale = self.spec.contract_size * 10 ** (PRICE_KIND_DECIMALS + self.spec.price_precision)
        vwap = np.where(b.volume > 0, b.quote // np.maximum(b.volume, 1), 1)
        taker_vwap = np.where(b.taker_base > 0, b.taker_quote // np.maximum(b.taker_base, 1), 1)
        return replace(
            b,
            quote=(b.volume * scale + vwap // 2) // vwap,
            taker_quote=(b.taker_base * scale + taker_vwap // 2) // taker_vwap,
        )


def _product(tick: int, step: int, places: int) -> tuple[int, int]:
    return tick * step * 10 ** max(8 - places, 0), max(8, places)


class PriceSeries(Series):
    """Mark or index price klines: a price path near the trade price, no volume."""

    def __init__(
        self,
        name: str,
        waves: str,
        base_price: str,
        window: tuple[int, int],
        gaps: Gaps,
        seed: int,
        basis: tuple[float, int] | None = None,
    ) -> None:
        """``name`` keys the noise (``mark:usdm:BTCUSDT``), ``waves`` the shared waves."""
        columns = Columns((1, PRICE_KIND_DECIMALS), price_only=True)
        super().__init__(window[0], window[1], gaps, columns)
        base = int(Decimal(base_price).scaleb(PRICE_KIND_DECIMALS))
        self.model = MinuteModel(seed, name, base, 10, waves_of=waves, basis=basis)

    def block(self, m0: int, m1: int, now_ms: int) -> MinuteBlock:
        b = self.model.block(m0, m1)
        count = np.full(b.minutes.shape, MARK_DATA_PER_MINUTE, dtype=np.int64)
        if _is_forming(m1, now_ms):
            self.model.partial(b, m1 - m0 - 1, _fraction(now_ms))
            count[-1] = int(MARK_DATA_PER_MINUTE * _fraction(now_ms))
        return _prices_only(b, count).select(self.exists(b.minutes))


def _prices_only(b: MinuteBlock, count: np.ndarray) -> MinuteBlock:
    zero = np.zeros_like(b.volume)
    return replace(b, volume=zero, quote=zero, trades=count, taker_base=zero, taker_quote=zero)


class PremiumSeries(Series):
    """Premium index klines of one symbol: its trade price against its pair's index."""

    def __init__(self, trade: TradeSeries, index: PriceSeries, name: str, seed: int) -> None:
        """``name`` keys the wicks (``premium:usdm:BTCUSDT``)."""
        columns = Columns((1, PRICE_KIND_DECIMALS), price_only=True)
        super().__init__(trade.first_ms, trade.end_ms, trade.gaps, columns)
        self.trade = trade
        self.index = index
        self.key = stable_hash("premium", seed, name)

    def _dead_zone(self, raw: np.ndarray) -> np.ndarray:
        """The premium index of a raw basis: zero inside the impact spread (monotone)."""
        shrunk = np.sign(raw) * np.maximum(np.abs(raw) - PREMIUM_DEAD_ZONE, 0.0)
        return np.rint(shrunk * 10**PRICE_KIND_DECIMALS).astype(np.int64)

    def block(self, m0: int, m1: int, now_ms: int) -> MinuteBlock:
        minutes = np.arange(m0, m1, dtype=np.int64)
        edges = np.arange(m0, m1 + 1, dtype=np.int64)
        trade = self.trade.model.path(edges) * self.trade.tick_value
        index = self.index.model.path(edges) * 10.0**-PRICE_KIND_DECIMALS
        raw = trade / index - 1.0
        r_open, r_close = raw[:-1], raw[1:]
        up = uniform(self.key, minutes, 1) ** 2 * _PREMIUM_WICK
        down = uniform(self.key, minutes, 2) ** 2 * _PREMIUM_WICK
        o, c = self._dead_zone(r_open), self._dead_zone(r_close)
        h = self._dead_zone(np.maximum(r_open, r_close) + up)
        lo = self._dead_zone(np.minimum(r_open, r_close) - down)
        count = np.full(minutes.shape, PREMIUM_DATA_PER_MINUTE, dtype=np.int64)
        if _is_forming(m1, now_ms) and minutes.size:
            f = _fraction(now_ms)
            i = minutes.size - 1
            latest = int(o[i]) + round((int(c[i]) - int(o[i])) * f)
            h[i] = max(int(o[i]), latest, int(o[i]) + round((int(h[i]) - int(o[i])) * f))
            lo[i] = min(int(o[i]), latest, int(o[i]) - round((int(o[i]) - int(lo[i])) * f))
            c[i] = latest
            count[i] = int(PREMIUM_DATA_PER_MINUTE * f)
        zero = np.zeros_like(minutes)
        b = MinuteBlock(minutes, o, h, lo, c, zero, zero, count, zero, zero)
        return b.select(self.exists(minutes))


class ContinuousSeries(Series):
    """A pair's contracts stitched by role: ``segments`` of ``(start_ms, end_ms, series)``."""

    def __init__(self, segments: list[tuple[int, int, TradeSeries]], gaps: Gaps) -> None:
        """An empty ``segments`` list makes a series without any candle."""
        columns = segments[0][2].columns if segments else Columns((1, 0))
        first = segments[0][0] if segments else 0
        end = segments[-1][1] if segments else 0
        super().__init__(first, end, gaps, columns)
        self.segments = segments

    def block(self, m0: int, m1: int, now_ms: int) -> MinuteBlock:
        parts = []
        for start, end, series in self.segments:
            a, b = max(m0, -(-start // MINUTE_MS)), min(m1, -(-end // MINUTE_MS))
            if a < b:
                parts.append(series.block(a, b, now_ms))
        if not parts:
            empty = np.empty(0, dtype=np.int64)
            return MinuteBlock(*([empty] * 10))
        return MinuteBlock(
            **{
                name: np.concatenate([getattr(p, name) for p in parts])
                for name in MinuteBlock.__dataclass_fields__
            }
        )


def role_segments(
    contracts: Sequence[SymbolSpec], contract_type: str
) -> list[tuple[int, int, SymbolSpec]]:
    """Which contract held ``contract_type`` when: perpetuals for ``PERPETUAL`` (and
    ``TRADIFI_PERPETUAL``), else the listed quarterlies by delivery, nearest first."""
    if contract_type in ("PERPETUAL", "TRADIFI_PERPETUAL"):
        return [
            (s.onboard_ms, s.delivery_ms, s) for s in contracts if s.contract_type == contract_type
        ][:1]
    rank = {"CURRENT_QUARTER": 0, "NEXT_QUARTER": 1}[contract_type]
    quarterlies = [s for s in contracts if s.is_delivery]
    cuts = sorted({t for s in quarterlies for t in (s.onboard_ms, s.delivery_ms)})
    out: list[tuple[int, int, SymbolSpec]] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        listed = sorted(
            (s for s in quarterlies if s.onboard_ms <= a and s.delivery_ms >= b),
            key=lambda s: s.delivery_ms,
        )
        if len(listed) > rank:
            spec = listed[rank]
            if out and out[-1][2] == spec and out[-1][1] == a:
                out[-1] = (out[-1][0], b, spec)
            else:
                out.append((a, b, spec))
    return out
