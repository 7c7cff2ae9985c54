"""Deterministic market truth of the simulator (pure, no I/O), for every market and kind.

1m candles come from :class:`simulator.minutes.MinuteModel` (through the series of
:mod:`simulator.series`); every higher interval is the exact aggregation of the existing 1m
candles of its bucket, and spot's ``1s`` candles split each minute exactly
(:mod:`simulator.seconds`). A minute exists when it is at or after the series' listing,
before its delivery (or delisting) and outside every maintenance window (the same windows
for every market); a bucket without any existing minute does not exist.

Markets: ``usdm`` (the default everywhere), ``coinm``, ``spot``. Kinds: ``trade`` (klines),
``continuous`` (a pair and a ``contract_type``), ``mark``, ``index`` (a pair, not a symbol)
and ``premium``; spot has trade klines only.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from simulator import grid, tickers
from simulator.grid import INTERVALS, MINUTE_MS, SPOT_INTERVALS
from simulator.series import (
    ContinuousSeries,
    Gaps,
    PremiumSeries,
    PriceSeries,
    Series,
    TradeSeries,
    role_segments,
)
from simulator.symbols import (
    MARKETS,
    PERPETUAL_DELIVERY_MS,
    SymbolSpec,
    default_coinm_symbols,
    default_maintenance,
    default_spot_symbols,
    default_symbols,
)

__all__ = [
    "CONTRACT_TYPES",
    "INTERVALS",
    "KINDS",
    "MARKETS",
    "PERPETUAL_DELIVERY_MS",
    "SPOT_INTERVALS",
    "TESTNET_SEED",
    "Market",
    "SymbolSpec",
    "default_maintenance",
    "default_symbols",
]

KINDS = ("trade", "continuous", "mark", "index", "premium")
CONTRACT_TYPES = ("PERPETUAL", "CURRENT_QUARTER", "NEXT_QUARTER", "TRADIFI_PERPETUAL")
TESTNET_SEED = 20_260_423
"""Seed of :meth:`Market.testnet`: other prices, volumes and maintenance windows."""

_CHUNK_MINUTES = 400_000  # minutes generated per aggregation pass
_SECONDS_CHUNK_MINUTES = 1440  # minutes split into seconds per pass


class Market:
    """Deterministic klines of every market and kind, with maintenance gaps."""

    def __init__(
        self,
        symbols: Sequence[SymbolSpec] | None = None,
        maintenance: Sequence[tuple[int, int]] | None = None,
        seed: int = 7,
        *,
        coinm: Sequence[SymbolSpec] | None = None,
        spot: Sequence[SymbolSpec] | None = None,
    ) -> None:
        """Build a market; ``None`` means the default symbols (USDⓈ-M ``symbols``, COIN-M
        ``coinm``, ``spot``) and the default maintenance windows of ``seed``."""
        self.markets: dict[str, dict[str, SymbolSpec]] = {
            "usdm": {s.symbol: s for s in (symbols if symbols is not None else default_symbols())},
            "coinm": {s.symbol: s for s in (coinm if coinm is not None else default_coinm_symbols())},
            "spot": {s.symbol: s for s in (spot if spot is not None else default_spot_symbols())},
        }  # fmt: skip
        self.symbols: dict[str, SymbolSpec] = self.markets["usdm"]
        self.seed = seed
        self.maintenance: list[tuple[int, int]] = list(
            maintenance if maintenance is not None else default_maintenance(seed)
        )
        self._gaps = Gaps.of(self.maintenance)
        self._series: dict[tuple[str, str, str, str | None], Series] = {}
        self._lock = threading.RLock()

    @classmethod
    def testnet(
        cls,
        symbols: Sequence[SymbolSpec] | None = None,
        maintenance: Sequence[tuple[int, int]] | None = None,
        **markets: Sequence[SymbolSpec] | None,
    ) -> Market:
        """The same listings with other (synthetic) prices, volumes and maintenance windows:
        what a testnet serves (seed :data:`TESTNET_SEED`)."""
        return cls(symbols, maintenance, TESTNET_SEED, **markets)

    # ------------------------------------------------------------------ listings

    def specs(self, market: str = "usdm") -> dict[str, SymbolSpec]:
        """Symbol → spec of ``market``."""
        if market not in self.markets:
            raise ValueError(f"unknown market {market!r}; one of {MARKETS}")
        return self.markets[market]

    def pairs(self, market: str = "usdm") -> dict[str, list[SymbolSpec]]:
        """Pair → its contracts (futures markets)."""
        out: dict[str, list[SymbolSpec]] = {}
        for spec in self.specs(market).values():
            out.setdefault(spec.pair, []).append(spec)
        return out

    @staticmethod
    def intervals(market: str = "usdm") -> tuple[str, ...]:
        """The kline intervals of ``market`` (spot adds ``1s``)."""
        return SPOT_INTERVALS if market == "spot" else INTERVALS

    def series(
        self,
        name: str,
        *,
        market: str = "usdm",
        kind: str = "trade",
        contract_type: str | None = None,
    ) -> Series:
        """The series of a symbol (``trade``, ``mark``, ``premium``) or a pair (``index``,
        ``continuous`` with ``contract_type``). KeyError for an unknown name."""
        key = (market, kind, name, contract_type)
        with self._lock:
            if key not in self._series:
                self._series[key] = self._build(name, market, kind, contract_type)
            return self._series[key]

    def _build(self, name: str, market: str, kind: str, contract_type: str | None) -> Series:
        specs = self.specs(market)
        if kind not in KINDS or (market == "spot" and kind != "trade"):
            raise ValueError(f"no {kind!r} klines on {market}")
        if kind in ("index", "continuous"):
            contracts = self.pairs(market).get(name)
            if not contracts:
                raise KeyError(f"unknown pair {name!r}")
            if kind == "index":
                ref = next((s for s in contracts if not s.is_delivery), contracts[0])
                window = (
                    min(s.onboard_ms for s in contracts),
                    max(s.delivery_ms for s in contracts),
                )
                return PriceSeries(f"index:{market}:{name}", ref.waves, ref.base_price, window,
                                   self._gaps, self.seed)  # fmt: skip
            if contract_type not in CONTRACT_TYPES:
                raise ValueError(f"unknown contract type {contract_type!r}")
            segments = [
                (a, b, self.series(spec.symbol, market=market))
                for a, b, spec in role_segments(contracts, contract_type)
            ]
            return ContinuousSeries(segments, self._gaps)  # type: ignore[arg-type]
        if name not in specs:
            raise KeyError(f"unknown symbol {name!r}")
        spec = specs[name]
        if kind == "trade":
            return TradeSeries(spec, self.seed, self._gaps)
        if kind == "mark":
            basis = (spec.basis_rate, spec.delivery_ms // MINUTE_MS) if spec.basis_rate else None
            return PriceSeries(f"mark:{market}:{name}", spec.waves, spec.base_price,
                               (spec.onboard_ms, spec.delivery_ms), self._gaps, self.seed, basis)  # fmt: skip
        trade = self.series(name, market=market)
        index = self.series(spec.pair, market=market, kind="index")
        return PremiumSeries(trade, index, f"premium:{market}:{name}", self.seed)  # type: ignore[arg-type]

    def _checked(
        self, symbol: str, interval: str, market: str, kind: str, contract_type: str | None
    ) -> Series:
        series = self.series(symbol, market=market, kind=kind, contract_type=contract_type)
        if interval not in self.intervals(market):
            raise ValueError(f"unknown interval {interval!r}")
        return series

    # ------------------------------------------------------------------ klines

    def klines(
        self,
        symbol: str,
        interval: str,
        start_ms: int,
        end_ms: int,
        now_ms: int,
        limit: int,
        *,
        market: str = "usdm",
        kind: str = "trade",
        contract_type: str | None = None,
    ) -> list[list]:
        """REST page: the first ``limit`` candles with ``start_ms <= open <= min(end_ms, now_ms)``.

        The candle containing ``now_ms`` is included as a partial (still open) candle.
        ``symbol`` is the pair for ``index`` and ``continuous``.
        """
        series = self._checked(symbol, interval, market, kind, contract_type)
        if interval == "1s":
            return self._seconds(series, start_ms, end_ms, now_ms, limit, backward=False)
        lo = max(start_ms, grid.floor_open(interval, series.first_ms))
        hi = min(end_ms, now_ms, series.end_ms - 1)
        per_chunk = max(1, _CHUNK_MINUTES // grid.max_minutes(interval))
        rows: list[list] = []
        while lo <= hi and len(rows) < limit:
            opens = grid.opens_forward(interval, lo, hi, min(per_chunk, limit - len(rows)))
            if opens.size == 0:
                break
            rows.extend(self._aggregate(series, interval, opens, now_ms))
            lo = grid.next_open(interval, int(opens[-1]))
        return rows[:limit]

    def latest_klines(
        self,
        symbol: str,
        interval: str,
        end_ms: int,
        now_ms: int,
        limit: int,
        *,
        market: str = "usdm",
        kind: str = "trade",
        contract_type: str | None = None,
        start_ms: int = 0,
    ) -> list[list]:
        """REST page counting back: the last ``limit`` candles opening at or before
        ``min(end_ms, now_ms)`` (the open candle included), none before ``start_ms``."""
        series = self._checked(symbol, interval, market, kind, contract_type)
        if interval == "1s":
            return self._seconds(series, start_ms, end_ms, now_ms, limit, backward=True)
        floor = max(grid.floor_open(interval, series.first_ms), start_ms)
        hi = min(end_ms, now_ms, series.end_ms - 1)
        per_chunk = max(1, _CHUNK_MINUTES // grid.max_minutes(interval))
        chunks: list[list[list]] = []
        found = 0
        while hi >= floor and found < limit:
            opens = grid.opens_backward(interval, floor, hi, min(per_chunk, limit - found))
            if opens.size == 0:
                break
            part = self._aggregate(series, interval, opens, now_ms)
            chunks.append(part)
            found += len(part)
            hi = int(opens[0]) - 1
        rows = [row for part in reversed(chunks) for row in part]
        return rows[-limit:] if limit > 0 else []

    def closed_klines(
        self,
        symbol: str,
        interval: str,
        start_ms: int,
        end_ms: int,
        now_ms: int,
        *,
        market: str = "usdm",
        kind: str = "trade",
        contract_type: str | None = None,
    ) -> list[list]:
        """The truth: every closed candle (``close_time < now_ms``) with
        ``start_ms <= open < end_ms``, ascending, unlimited."""
        rows = self.klines(
            symbol, interval, start_ms, end_ms - 1, now_ms, 1 << 62,
            market=market, kind=kind, contract_type=contract_type,
        )  # fmt: skip
        return [row for row in rows if row[6] < now_ms]

    def ticker_24h(
        self, symbol: str, now_ms: int, *, market: str = "usdm"
    ) -> dict[str, object] | None:
        """``ticker/24hr`` of ``symbol`` in ``market``'s shape: the rolling 24 hours up to
        ``now_ms``, aggregated from the same 1m candles the klines serve (the current minute as
        far as it has formed). None before the symbol's listing; a symbol without any candle
        in the window (a delisted one) shows its last price with zero volume."""
        spec = self.specs(market)[symbol]
        if spec.onboard_ms > now_ms:
            return None
        series = self.series(symbol, market=market)
        m1 = now_ms // MINUTE_MS + 1
        block = series.block(m1 - 1440, m1, now_ms)
        last_close = None
        if block.minutes.size == 0:
            last = self.latest_klines(symbol, "1m", now_ms, now_ms, 1, market=market)
            last_close = last[0][4] if last else None
        return tickers.ticker(spec, self.seed, block, last_close, m1, now_ms)

    def minute_exists(
        self, symbol: str, open_ms: int, *, market: str = "usdm", kind: str = "trade"
    ) -> bool:
        """Whether the 1m candle opening at ``open_ms`` exists (ignores the clock)."""
        series = self.series(symbol, market=market, kind=kind)
        return bool(series.exists(np.asarray([open_ms // MINUTE_MS], dtype=np.int64))[0])

    # ------------------------------------------------------------------ internals

    def _aggregate(
        self, series: Series, interval: str, opens: np.ndarray, now_ms: int
    ) -> list[list]:
        """Rows for the contiguous buckets ``opens`` (missing buckets are skipped)."""
        edges = grid.edges_of(interval, opens)
        now_minute = now_ms // MINUTE_MS
        m0 = int(edges[0]) // MINUTE_MS
        m1 = min(int(edges[-1]) // MINUTE_MS, now_minute + 1)
        if m1 <= m0:
            return []
        block = series.block(m0, m1, now_ms)
        if block.minutes.size == 0:
            return []
        return series.rows(block, edges)

    def _seconds(
        self, series: Series, lo: int, hi: int, now_ms: int, limit: int, *, backward: bool
    ) -> list[list]:
        """Spot 1s rows with ``lo <= open <= hi`` (and ``<= now_ms``): the first ``limit``,
        or the last ``limit`` when ``backward``."""
        assert isinstance(series, TradeSeries)
        lo = max(lo, series.first_ms)
        hi = min(hi, now_ms, series.end_ms - 1)
        per = min(_SECONDS_CHUNK_MINUTES, limit // 60 + 2)
        parts: list[list[list]] = []
        found = 0
        first, last = lo // MINUTE_MS, hi // MINUTE_MS + 1  # minutes still to look at
        while first < last and found < limit:
            m0, m1 = (max(first, last - per), last) if backward else (first, min(last, first + per))
            s = series.seconds(m0, m1, now_ms)
            s = s.select((s.minutes * 1000 >= lo) & (s.minutes * 1000 <= hi))
            if s.minutes.size:
                edges = np.arange(int(s.minutes[0]), int(s.minutes[-1]) + 2, dtype=np.int64) * 1000
                part = series.rows(s, edges, unit_ms=1000)
                parts.append(part)
                found += len(part)
            first, last = (first, m0) if backward else (m1, last)
        if backward:
            rows = [row for part in reversed(parts) for row in part]
            return rows[-limit:] if limit > 0 else []
        return [row for part in parts for row in part][:limit]
