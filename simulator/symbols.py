"""What the simulator lists: static descriptions of contracts and pairs, per market.

Three markets, as Binance names them in its hosts and archive paths:

* ``usdm``: USDⓈ-M futures (``/fapi``, ``data/futures/um``), e.g. ``BTCUSDT``, ``1000PEPEUSDT``;
* ``coinm``: COIN-M futures (``/dapi``, ``data/futures/cm``), e.g. ``BTCUSD_PERP``,
  ``BTCUSD_261225``; quantities are contracts of ``contract_size`` USD;
* ``spot`` (``/api``, ``data/spot``), e.g. ``BTCUSDT``, ``PEPEUSDT`` (unprefixed).

A symbol's prices follow the waves of its ``underlying`` (a USDⓈ-M symbol name; itself when
unset) with its own noise, so spot ``BTCUSDT`` and COIN-M ``BTCUSD_PERP`` stay close to
USDⓈ-M ``BTCUSDT`` (a basis query makes sense) without being equal.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from simulator import grid
from simulator.grid import MINUTE_MS
from simulator.minutes import stable_hash

__all__ = [
    "MARKETS",
    "PERPETUAL_DELIVERY_MS",
    "SymbolSpec",
    "default_coinm_symbols",
    "default_maintenance",
    "default_spot_symbols",
    "default_symbols",
]

MARKETS = ("usdm", "coinm", "spot")
PERPETUAL_DELIVERY_MS = 4133404800000
_SPOT_QUOTES = ("USDT", "USDC", "FDUSD", "BTC", "ETH", "BNB")


def _ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return calendar.timegm((year, month, day, hour, minute, 0)) * 1000


@dataclass(frozen=True)
class SymbolSpec:
    """Static description of one contract (futures) or trading pair (spot).

    ``delivery_ms`` is a delivery contract's delivery, a delisted symbol's last instant, or
    the far-future sentinel. ``contract_size`` (COIN-M only) is the USD value of one
    contract. ``basis_rate`` lifts a delivery contract's price by this yearly rate, decaying
    to nothing at delivery (contango).
    """

    symbol: str
    onboard_ms: int
    base_price: str
    price_tick: str
    qty_step: str
    status: str = "TRADING"
    delivery_ms: int = PERPETUAL_DELIVERY_MS
    contract_type: str = "PERPETUAL"
    activity: float = 1.0  # scales the mean 1m volume (1.0: about 2,000,000 quote a minute)
    market: str = "usdm"
    contract_size: int = 0
    underlying: str | None = None
    basis_rate: float = 0.0

    @property
    def price_precision(self) -> int:
        """Number of decimals of ``price_tick``."""
        return decimals(self.price_tick)

    @property
    def qty_precision(self) -> int:
        """Number of decimals of ``qty_step``."""
        return decimals(self.qty_step)

    @property
    def pair(self) -> str:
        """The underlying pair: ``BTCUSDT`` of ``BTCUSDT_261225``, ``BTCUSD`` of ``BTCUSD_PERP``."""
        return self.symbol.split("_")[0]

    @property
    def quote_asset(self) -> str:
        """``USD`` on COIN-M; the pair's quote suffix on spot; ``USDC`` or ``USDT`` on USDⓈ-M."""
        if self.market == "coinm":
            return "USD"
        if self.market == "spot":
            return next((q for q in _SPOT_QUOTES if self.pair.endswith(q)), "USDT")
        return "USDC" if self.pair.endswith("USDC") else "USDT"

    @property
    def base_asset(self) -> str:
        """The base asset: the pair without its quote asset (``1000PEPE`` of 1000PEPEUSDT)."""
        return self.pair.removesuffix(self.quote_asset)

    @property
    def waves(self) -> str:
        """The USDⓈ-M symbol name whose price waves this symbol follows."""
        return self.underlying or self.symbol

    @property
    def is_delivery(self) -> bool:
        """Whether this is a quarterly delivery contract (``_YYMMDD``)."""
        return self.contract_type in ("CURRENT_QUARTER", "NEXT_QUARTER")


def decimals(text: str) -> int:
    """Number of decimals of a decimal string ("0.10" -> 2, "1" -> 0)."""
    exp = Decimal(text).as_tuple().exponent
    assert isinstance(exp, int)
    return max(-exp, 0)


def units(text: str) -> int:
    """``text`` as an integer count of its own last decimal place ("0.10" -> 10)."""
    return int(Decimal(text).scaleb(decimals(text)))


def default_symbols() -> list[SymbolSpec]:
    """USDⓈ-M: five majors, a recent listing and a delisted contract."""
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


def default_coinm_symbols() -> list[SymbolSpec]:
    """COIN-M: two perpetuals, three BTC quarterlies (delivered, current, next), one delisted.

    Contract sizes are Binance's: 100 USD for BTC, 10 USD for the others. XMRUSD_PERP was
    delisted on 2024-02-15 (binance-api.md §8).
    """

    def coinm(
        symbol: str, onboard: int, price: str, tick: str, size: int, waves: str, **kw: object
    ):
        return SymbolSpec(symbol, onboard, price, tick, "1", market="coinm", contract_size=size,
                          underlying=waves, activity=0.2, **kw)  # type: ignore[arg-type]  # fmt: skip

    quarterlies = [
        coinm(
            f"BTCUSD_{d:%y%m%d}",
            listed,
            "65000",
            "0.1",
            100,
            "BTCUSDT",
            status=status,
            delivery_ms=_ms(d.year, d.month, d.day, 8),
            contract_type=kind,
            basis_rate=0.05,
        )  # fmt: skip
        for d, listed, kind, status in (
            (
                datetime(2026, 9, 25, tzinfo=UTC),
                _ms(2026, 3, 27, 8),
                "CURRENT_QUARTER",
                "DELIVERED",
            ),
            (datetime(2026, 12, 25, tzinfo=UTC), _ms(2026, 6, 26, 8), "CURRENT_QUARTER", "TRADING"),
            (datetime(2027, 3, 26, tzinfo=UTC), _ms(2026, 9, 25, 8), "NEXT_QUARTER", "TRADING"),
        )
    ]
    return [
        coinm("BTCUSD_PERP", _ms(2020, 8, 10, 8), "65000", "0.1", 100, "BTCUSDT"),
        coinm("ETHUSD_PERP", _ms(2020, 8, 14, 8), "3200", "0.01", 10, "ETHUSDT"),
        *quarterlies,
        coinm(
            "XMRUSD_PERP",
            _ms(2021, 1, 15, 8),
            "150",
            "0.01",
            10,
            "XMRUSDT",
            status="SETTLING",
            delivery_ms=_ms(2024, 2, 15, 9),
        ),  # fmt: skip
    ]


def default_spot_symbols() -> list[SymbolSpec]:
    """Spot: the same majors, ``PEPEUSDT`` (1/1000 of the full universe's ``1000PEPEUSDT``),
    and ``OLDUSDT`` in ``BREAK`` (delisted) since the futures contract's delisting."""

    def spot(symbol: str, onboard: int, price: str, tick: str, step: str, **kw: object):
        return SymbolSpec(symbol, onboard, price, tick, step, market="spot", **kw)  # type: ignore[arg-type]

    return [
        spot("BTCUSDT", _ms(2017, 8, 17, 4), "65000", "0.01", "0.00001"),
        spot("ETHUSDT", _ms(2017, 8, 17, 4), "3200", "0.01", "0.0001"),
        spot("BNBUSDT", _ms(2017, 11, 6, 3), "600", "0.01", "0.001"),
        spot("XRPUSDT", _ms(2018, 5, 4, 8), "0.6", "0.0001", "0.1"),
        spot("SOLUSDT", _ms(2020, 8, 11, 6), "150", "0.01", "0.001"),
        spot(
            "PEPEUSDT", _ms(2023, 5, 5, 12), "0.49317", "0.00001", "1", underlying="1000PEPEUSDT"
        ),  # fmt: skip
        spot(
            "OLDUSDT",
            _ms(2025, 1, 1),
            "0.25",
            "0.00001",
            "1",
            status="BREAK",
            delivery_ms=_ms(2026, 6, 1),
        ),  # fmt: skip
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
