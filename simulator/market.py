"""Deterministic market truth of the simulator (pure, no I/O).

1m candles come from :class:`simulator.minutes.MinuteModel`; every higher interval is the
exact aggregation of the existing 1m candles of its bucket. A minute exists when it is at
or after the symbol's ``onboard_ms``, before its ``delivery_ms`` and outside every
maintenance window; a bucket without any existing minute does not exist.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from simulator import grid
from simulator.grid import INTERVALS, MINUTE_MS
from simulator.minutes import MinuteBlock, MinuteModel, stable_hash

__all__ = ["INTERVALS", "Market", "SymbolSpec", "default_maintenance", "default_symbols"]

PERPETUAL_DELIVERY_MS = 4133404800000
_CHUNK_MINUTES = 400_000  # minutes generated per aggregation pass


def _ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return calendar.timegm((year, month, day, hour, minute, 0)) * 1000


@dataclass(frozen=True)
class SymbolSpec:
    """Static description of one USD-M contract."""

    symbol: str
    onboard_ms: int
    base_price: str
    price_tick: str
    qty_step: str
    status: str = "TRADING"
    delivery_ms: int = PERPETUAL_DELIVERY_MS
    contract_type: str = "PERPETUAL"
    activity: float = 1.0  # scales the mean 1m volume (1.0: about 2,000,000 quote a minute)

    @property
    def price_precision(self) -> int:
        """Number of decimals of ``price_tick``."""
        return _decimals(self.price_tick)

    @property
    def qty_precision(self) -> int:
        """Number of decimals of ``qty_step``."""
        return _decimals(self.qty_step)

    @property
    def pair(self) -> str:
        """The underlying pair: the symbol without a delivery contract's ``_YYMMDD``."""
        return self.symbol.split("_")[0]

    @property
    def quote_asset(self) -> str:
        """``USDC`` for a pair ending in USDC, else ``USDT``."""
        return "USDC" if self.pair.endswith("USDC") else "USDT"

    @property
    def base_asset(self) -> str:
        """The base asset: the pair without its quote asset (``1000PEPE`` of 1000PEPEUSDT)."""
        return self.pair.removesuffix(self.quote_asset)


def _decimals(text: str) -> int:
    exp = Decimal(text).as_tuple().exponent
    assert isinstance(exp, int)
    return max(-exp, 0)


def _units(text: str) -> int:
    """``text`` as an integer count of its own last decimal place ("0.10" -> 10)."""
    return int(Decimal(text).scaleb(_decimals(text)))


def default_symbols() -> list[SymbolSpec]:
    """The default universe: five majors, a recent listing and a delisted contract."""
    return [
        SymbolSpec("BTCUSDT", _ms(2019, 9, 8, 17), "65000", "0.10", "0.001"),
        SymbolSpec("ETHUSDT", _ms(2019, 11, 27, 7), "3200", "0.01", "0.001"),
        SymbolSpec("BNBUSDT", _ms(2020, 2, 10, 8), "600", "0.010", "0.01"),
        SymbolSpec("XRPUSDT", _ms(2020, 1, 6, 8), "0.6", "0.0001", "0.1"),
        SymbolSpec("SOLUSDT", _ms(2020, 9, 14, 8), "150", "0.0100", "1"),
        SymbolSpec("NEWUSDT", _ms(2026, 10, 15), "1.5", "0.0001", "1"),
        SymbolSpec(
            "OLDUSDT",
            _ms(2025, 1, 1),
            "0.25",
            "0.00001",
            "1",
            status="SETTLING",
            delivery_ms=_ms(2026, 6, 1),
        ),
    ]


def default_maintenance(seed: int = 7) -> list[tuple[int, int]]:
    """Named windows plus a deterministic extra window roughly every 9 days, 2019..2027."""
    windows = [
        (_ms(2026, 11, 1, 3, 40), _ms(2026, 11, 1, 4)),
        (_ms(2026, 10, 20, 10), _ms(2026, 10, 20, 10, 30)),
    ]
    day = _ms(2019, 1, 3)
    end = _ms(2028, 1, 1)
    k = 0
    while day < end:
        h = stable_hash("maintenance", seed, k)
        start = day + (h % 24) * 3_600_000 + ((h >> 8) % 4) * 15 * MINUTE_MS
        length = (1 + (h >> 16) % 4) * 15 * MINUTE_MS
        windows.append((start, start + length))
        day += (8 + (h >> 24) % 3) * grid.DAY_MS
        k += 1
    return windows


def _merge(windows: Sequence[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Windows snapped to whole minutes, sorted and merged into disjoint [start, end)."""
    spans = sorted((s // MINUTE_MS, -(-e // MINUTE_MS)) for s, e in windows if e > s)
    merged: list[list[int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    starts = np.asarray([s for s, _ in merged], dtype=np.int64)
    ends = np.asarray([e for _, e in merged], dtype=np.int64)
    return starts, ends


def _fmt(value: int, decimals: int) -> str:
    if decimals == 0:
        return str(value)
    text = str(value).rjust(decimals + 1, "0")
    return f"{text[:-decimals]}.{text[-decimals:]}"


def _signed(units: int, scale: int, decimals: int) -> str:
    """``units * scale`` with ``decimals`` places, minus sign included."""
    text = _fmt(abs(units) * scale, decimals)
    return f"-{text}" if units < 0 else text


class Market:
    """Deterministic klines for a set of symbols, with maintenance gaps."""

    def __init__(
        self,
        symbols: Sequence[SymbolSpec] | None = None,
        maintenance: Sequence[tuple[int, int]] | None = None,
        seed: int = 7,
    ) -> None:
        """Build a market; ``None`` means the default symbols / maintenance windows."""
        specs = list(symbols) if symbols is not None else default_symbols()
        self.symbols: dict[str, SymbolSpec] = {s.symbol: s for s in specs}
        self.seed = seed
        self.maintenance: list[tuple[int, int]] = list(
            maintenance if maintenance is not None else default_maintenance(seed)
        )
        self._gap_starts, self._gap_ends = _merge(self.maintenance)
        self._models: dict[str, MinuteModel] = {}
        for spec in specs:
            base_ticks = int(Decimal(spec.base_price) / Decimal(spec.price_tick))
            mean_vol = int(
                2_000_000 * spec.activity / (float(spec.base_price) * float(spec.qty_step))
            )
            self._models[spec.symbol] = MinuteModel(seed, spec.symbol, base_ticks, mean_vol)

    # ------------------------------------------------------------------ public API

    def klines(
        self, symbol: str, interval: str, start_ms: int, end_ms: int, now_ms: int, limit: int
    ) -> list[list]:
        """REST page: the first ``limit`` candles with ``start_ms <= open <= min(end_ms, now_ms)``.

        The candle containing ``now_ms`` is included as a partial (still open) candle.
        """
        spec = self._spec(symbol, interval)
        lo = max(start_ms, grid.floor_open(interval, spec.onboard_ms))
        hi = min(end_ms, now_ms, spec.delivery_ms - 1)
        per_chunk = max(1, _CHUNK_MINUTES // grid.max_minutes(interval))
        rows: list[list] = []
        while lo <= hi and len(rows) < limit:
            opens = grid.opens_forward(interval, lo, hi, min(per_chunk, limit - len(rows)))
            if opens.size == 0:
                break
            rows.extend(self._aggregate(spec, interval, opens, now_ms))
            lo = grid.next_open(interval, int(opens[-1]))
        return rows[:limit]

    def latest_klines(
        self, symbol: str, interval: str, end_ms: int, now_ms: int, limit: int
    ) -> list[list]:
        """REST page without ``startTime``: the last ``limit`` candles opening at or before
        ``min(end_ms, now_ms)`` (the open candle included)."""
        spec = self._spec(symbol, interval)
        floor = grid.floor_open(interval, spec.onboard_ms)
        hi = min(end_ms, now_ms, spec.delivery_ms - 1)
        per_chunk = max(1, _CHUNK_MINUTES // grid.max_minutes(interval))
        chunks: list[list[list]] = []
        found = 0
        while hi >= floor and found < limit:
            opens = grid.opens_backward(interval, floor, hi, min(per_chunk, limit - found))
            if opens.size == 0:
                break
            part = self._aggregate(spec, interval, opens, now_ms)
            chunks.append(part)
            found += len(part)
            hi = int(opens[0]) - 1
        rows = [row for part in reversed(chunks) for row in part]
        return rows[-limit:] if limit > 0 else []

    def closed_klines(
        self, symbol: str, interval: str, start_ms: int, end_ms: int, now_ms: int
    ) -> list[list]:
        """The truth: every closed candle (``close_time < now_ms``) with
        ``start_ms <= open < end_ms``, ascending, unlimited."""
        rows = self.klines(symbol, interval, start_ms, end_ms - 1, now_ms, 1 << 62)
        return [row for row in rows if row[6] < now_ms]

    def ticker_24h(self, symbol: str, now_ms: int) -> dict[str, object] | None:
        """``/fapi/v1/ticker/24hr`` of ``symbol``: the rolling 24 hours up to ``now_ms``,
        aggregated from the same 1m candles the klines serve (the current minute as far as
        it has formed). None before the symbol's listing; a symbol without any candle in
        the window (a delisted one) shows its last price with zero volume."""
        spec = self.symbols[symbol]
        if spec.onboard_ms > now_ms:
            return None
        model = self._models[symbol]
        m1 = now_ms // MINUTE_MS + 1
        block = model.block(m1 - 1440, m1)
        model.partial(block, 1439, (now_ms % MINUTE_MS) / MINUTE_MS)
        block = block.select(self._exists(spec, block.minutes))
        tick, step = _units(spec.price_tick), _units(spec.qty_step)
        pd, qd = spec.price_precision, spec.qty_precision
        if block.minutes.size:
            o, c = int(block.open[0]), int(block.close[-1])
            h, lo = int(block.high.max()), int(block.low.min())
            v, q, n = int(block.volume.sum()), int(block.quote.sum()), int(block.trades.sum())
        else:
            last = self.latest_klines(symbol, "1m", now_ms, now_ms, 1)
            price = int(Decimal(last[0][4]) / Decimal(spec.price_tick)) if last else 0
            o = c = h = lo = price
            v = q = n = 0
        first_id = stable_hash("trades", self.seed, symbol) % 10**9 + (m1 - 1440) * 10
        return {
            "symbol": symbol,
            "priceChange": _signed(c - o, tick, pd),
            "priceChangePercent": f"{Decimal(100 * (c - o)) / o if o else Decimal(0):.3f}",
            "weightedAvgPrice": _fmt(q // v * tick if v else c * tick, pd),
            "lastPrice": _fmt(c * tick, pd),
            "lastQty": _fmt(step, qd),
            "openPrice": _fmt(o * tick, pd),
            "highPrice": _fmt(h * tick, pd),
            "lowPrice": _fmt(lo * tick, pd),
            "volume": _fmt(v * step, qd),
            "quoteVolume": _fmt(q * tick * step, pd + qd),
            "openTime": now_ms - grid.DAY_MS,
            "closeTime": now_ms,
            "firstId": first_id,
            "lastId": first_id + max(n, 1) - 1,
            "count": n,
        }

    def minute_exists(self, symbol: str, open_ms: int) -> bool:
        """Whether the 1m candle opening at ``open_ms`` exists (ignores the clock)."""
        spec = self.symbols[symbol]
        minute = np.asarray([open_ms // MINUTE_MS], dtype=np.int64)
        return bool(self._exists(spec, minute)[0])

    # ------------------------------------------------------------------ internals

    def _spec(self, symbol: str, interval: str) -> SymbolSpec:
        if symbol not in self.symbols:
            raise KeyError(f"unknown symbol {symbol!r}")
        if interval not in INTERVALS:
            raise ValueError(f"unknown interval {interval!r}")
        return self.symbols[symbol]

    def _exists(self, spec: SymbolSpec, minutes: np.ndarray) -> np.ndarray:
        t = minutes * MINUTE_MS
        ok = (t >= spec.onboard_ms) & (t < spec.delivery_ms)
        if self._gap_starts.size:
            idx = np.searchsorted(self._gap_starts, minutes, side="right") - 1
            inside = (idx >= 0) & (minutes < self._gap_ends[np.maximum(idx, 0)])
            ok &= ~inside
        return ok

    def _aggregate(
        self, spec: SymbolSpec, interval: str, opens: np.ndarray, now_ms: int
    ) -> list[list]:
        """Rows for the contiguous buckets ``opens`` (missing buckets are skipped)."""
        edges = grid.edges_of(interval, opens)
        now_minute = now_ms // MINUTE_MS
        m0 = int(edges[0]) // MINUTE_MS
        m1 = min(int(edges[-1]) // MINUTE_MS, now_minute + 1)
        if m1 <= m0:
            return []
        block = self._models[spec.symbol].block(m0, m1)
        if m1 == now_minute + 1:
            fraction = (now_ms - now_minute * MINUTE_MS) / MINUTE_MS
            self._models[spec.symbol].partial(block, m1 - m0 - 1, fraction)
        block = block.select(self._exists(spec, block.minutes))
        if block.minutes.size == 0:
            return []
        return self._rows(spec, block, edges)

    def _rows(self, spec: SymbolSpec, b: MinuteBlock, edges: np.ndarray) -> list[list]:
        bucket = np.searchsorted(edges, b.minutes * MINUTE_MS, side="right") - 1
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
        tick, step = _units(spec.price_tick), _units(spec.qty_step)
        pd, qd = spec.price_precision, spec.qty_precision
        out: list[list] = []
        for ot, o, h, lo, c, v, ct, q, n, tb, tq in zip(
            *(col.tolist() for col in cols), strict=True
        ):
            out.append(
                [
                    ot,
                    _fmt(o * tick, pd),
                    _fmt(h * tick, pd),
                    _fmt(lo * tick, pd),
                    _fmt(c * tick, pd),
                    _fmt(v * step, qd),
                    ct,
                    _fmt(q * tick * step, pd + qd),
                    n,
                    _fmt(tb * step, qd),
                    _fmt(tq * tick * step, pd + qd),
                    "0",
                ]
            )
        return out
