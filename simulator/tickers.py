"""``ticker/24hr`` objects in each market's own shape, from a day of 1m candles."""

from __future__ import annotations

from decimal import Decimal

from simulator import grid
from simulator.minutes import MinuteBlock, stable_hash
from simulator.series import PRICE_KIND_DECIMALS, fmt, fmt_signed, padded
from simulator.symbols import SymbolSpec, units


def ticker(
    spec: SymbolSpec,
    seed: int,
    block: MinuteBlock,
    last_close: str | None,
    m1: int,
    now_ms: int,
) -> dict[str, object]:
    """The statistics of ``block`` (the day's existing minutes up to ``now_ms``; ``m1`` is the
    minute after the last); ``last_close`` prices an empty day (a delisted symbol)."""
    if block.minutes.size:
        o, c = int(block.open[0]), int(block.close[-1])
        h, lo = int(block.high.max()), int(block.low.min())
        v, q, n = int(block.volume.sum()), int(block.quote.sum()), int(block.trades.sum())
    else:
        price = int(Decimal(last_close) / Decimal(spec.price_tick)) if last_close else 0
        o = c = h = lo = price
        v = q = n = 0
    name = spec.symbol if spec.market == "usdm" else f"{spec.market}:{spec.symbol}"
    first_id = stable_hash("trades", seed, name) % 10**9 + (m1 - 1440) * 10
    window = {
        "openTime": now_ms - grid.DAY_MS,
        "closeTime": now_ms,
        "firstId": first_id,
        "lastId": first_id + max(n, 1) - 1,
        "count": n,
    }
    change = f"{Decimal(100 * (c - o)) / o if o else Decimal(0):.3f}"
    if spec.market == "coinm":
        return _coinm(spec, (o, h, lo, c, v, q), change, window)
    if spec.market == "spot":
        return _spot(spec, (o, h, lo, c, v, q), change, window)
    tick, step = units(spec.price_tick), units(spec.qty_step)
    pd, qd = spec.price_precision, spec.qty_precision
    return {
        "symbol": spec.symbol,
        "priceChange": fmt_signed((c - o) * tick, pd),
        "priceChangePercent": change,
        "weightedAvgPrice": fmt(q // v * tick if v else c * tick, pd),
        "lastPrice": fmt(c * tick, pd),
        "lastQty": fmt(step, qd),
        "openPrice": fmt(o * tick, pd),
        "highPrice": fmt(h * tick, pd),
        "lowPrice": fmt(lo * tick, pd),
        "volume": fmt(v * step, qd),
        "quoteVolume": fmt(q * tick * step, pd + qd),
        **window,
    }


def _coinm(
    spec: SymbolSpec, values: tuple[int, ...], change: str, window: dict[str, int]
) -> dict[str, object]:
    """COIN-M: ``volume`` in contracts, ``baseVolume`` in the base asset."""
    o, h, lo, c, v, base = values
    tick, pd = units(spec.price_tick), spec.price_precision
    if v and base:
        avg = Decimal(v * spec.contract_size) * 10**PRICE_KIND_DECIMALS / base
        weighted = fmt(int(avg.scaleb(pd).to_integral_value()), pd)
    else:
        weighted = fmt(c * tick, pd)
    return {
        "symbol": spec.symbol,
        "pair": spec.pair,
        "priceChange": fmt_signed((c - o) * tick, pd),
        "priceChangePercent": change,
        "weightedAvgPrice": weighted,
        "lastPrice": fmt(c * tick, pd),
        "lastQty": "1",
        "openPrice": fmt(o * tick, pd),
        "highPrice": fmt(h * tick, pd),
        "lowPrice": fmt(lo * tick, pd),
        "volume": str(v),
        "baseVolume": fmt(base, PRICE_KIND_DECIMALS),
        **window,
    }


def _spot(
    spec: SymbolSpec, values: tuple[int, ...], change: str, window: dict[str, int]
) -> dict[str, object]:
    """Spot: eight decimals everywhere, with the previous close and the book's top."""
    o, h, lo, c, v, q = values
    (pm, pd), (vm, vd) = padded(spec.price_tick, 8), padded(spec.qty_step, 8)
    qm = units(spec.price_tick) * units(spec.qty_step)
    qd = spec.price_precision + spec.qty_precision
    qm, qd = qm * 10 ** max(8 - qd, 0), max(8, qd)
    return {
        "symbol": spec.symbol,
        "priceChange": fmt_signed((c - o) * pm, pd),
        "priceChangePercent": change,
        "weightedAvgPrice": fmt((q // v if v else c) * pm, pd),
        "prevClosePrice": fmt(o * pm, pd),
        "lastPrice": fmt(c * pm, pd),
        "lastQty": fmt(vm, vd),
        "bidPrice": fmt(max(c - 1, 1) * pm, pd),
        "bidQty": fmt(3 * vm, vd),
        "askPrice": fmt(c * pm, pd),
        "askQty": fmt(2 * vm, vd),
        "openPrice": fmt(o * pm, pd),
        "highPrice": fmt(h * pm, pd),
        "lowPrice": fmt(lo * pm, pd),
        "volume": fmt(v * vm, vd),
        "quoteVolume": fmt(q * qm, qd),
        **window,
    }
