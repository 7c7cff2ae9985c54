"""A full-size listing for the simulator: hundreds of contracts, as exchangeInfo lists them.

:func:`full_universe` keeps the default symbols exactly as they are (same candles) and adds
330 TRADING USDT perpetuals in all (a few well-known names, ``1000*`` and ``1M*`` ones, a
TradFi perpetual, and generated names), USDC perpetuals, quarterly delivery contracts
(``BTCUSDT_261225``), delisted (SETTLING) and delivered contracts and a pending listing.
Everything is a pure function of the names' hashes: the same universe in every process.

Trading activity falls off with a symbol's rank, as on the exchange, so the 24-hour quote
volumes of ``/fapi/v1/ticker/24hr`` span orders of magnitude; the default symbols keep
an activity of 1.0 and stay at the top.
"""

from __future__ import annotations

import calendar
import math
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from simulator.market import SymbolSpec, default_symbols
from simulator.minutes import stable_hash

__all__ = ["TRADING_USDT_PERPETUALS", "full_universe"]

TRADING_USDT_PERPETUALS = 330
"""How many TRADING USDT perpetuals :func:`full_universe` lists (``'*USDT'`` matches them)."""

_KNOWN = (
    "DOGE ADA AVAX LINK DOT TRX LTC BCH NEAR ATOM UNI APT ARB OP FIL ETC INJ SUI SEI TIA "
    "AAVE MKR LDO RUNE STX IMX ALGO XLM VET HBAR ICP GRT SAND MANA AXS GALA APE CHZ CRV SNX "
    "COMP DYDX GMX PENDLE JUP WIF PYTH JTO ORDI ENA ETHFI TAO WLD FET RENDER AR KAS TON NOT "
    "ZRO ZK EIGEN ONDO STRK BLUR MASK ENS 1INCH ZEC DASH NEO QTUM IOTA EOS THETA KAVA ZIL ONE "
    "CELO FLOW EGLD MINA ROSE KSM ANKR BAT ENJ SKL STORJ SUSHI YFI BAL BAND RSR LRC"
).split()
_THOUSANDS = ("1000PEPE", "1000SHIB", "1000BONK", "1000FLOKI", "1000LUNC", "1000XEC",
              "1000SATS", "1000RATS", "1MBABYDOGE")  # fmt: skip
_USDC = ("BTC", "ETH", "SOL", "XRP", "BNB", "DOGE", "ADA", "LINK", "AVAX", "SUI", "WIF", "1000PEPE")
_DELISTED = ("FTT", "SRM", "RAY", "BTS", "TOMO", "HNT", "OMG", "WAVES", "STRAX", "MDT", "CVC", "SC")
_CONSONANTS, _VOWELS = "BCDFGHKLMNPRSTVXZ", "AEIOUY"


def _ms(year: int, month: int, day: int, hour: int = 0) -> int:
    return calendar.timegm((year, month, day, hour, 0, 0)) * 1000


_DAY_MS = 86_400_000
_LISTED_FROM, _LISTED_TO = _ms(2020, 1, 1), _ms(2026, 10, 1)


def full_universe() -> list[SymbolSpec]:
    """The default symbols plus a full exchange's worth of contracts (see the module doc)."""
    specs = default_symbols()
    specs.append(
        SymbolSpec("XAUUSDT", _ms(2026, 1, 7, 8), "4000", "0.01", "0.001",
                   contract_type="TRADIFI_PERPETUAL", activity=0.3)
    )  # fmt: skip
    missing = TRADING_USDT_PERPETUALS - sum(
        s.status == "TRADING" and s.symbol.endswith("USDT") for s in specs
    )
    bases = [*_KNOWN, *_THOUSANDS, *_generated_bases(set(_KNOWN) | set(_THOUSANDS))]
    for rank, base in enumerate(bases[:missing], start=1):
        specs.append(_perpetual(f"{base}USDT", activity=0.5 * rank**-1.1))
    for k, base in enumerate(_USDC):
        specs.append(_perpetual(f"{base}USDC", activity=0.2 / (k + 1)))
    specs += _quarterlies()
    for base in _DELISTED:
        spec = _perpetual(f"{base}USDT", activity=0.01)
        days = stable_hash("delisted", base) % 700 + 60
        delisted = min(spec.onboard_ms + days * _DAY_MS, _ms(2026, 9, 1))
        delisted = max(delisted, spec.onboard_ms + 30 * _DAY_MS)
        specs.append(replace(spec, status="SETTLING", delivery_ms=delisted))
    specs.append(replace(_perpetual("NEXTUSDT", 0.1), status="PENDING_TRADING",
                         onboard_ms=_ms(2027, 1, 15, 8)))  # fmt: skip
    return specs


def _perpetual(symbol: str, activity: float) -> SymbolSpec:
    """A TRADING perpetual with a hashed listing date and price (five significant digits)."""
    h = stable_hash("universe", symbol)
    onboard = _LISTED_FROM + (h % (_LISTED_TO - _LISTED_FROM)) // 3_600_000 * 3_600_000
    exponent = -3 + ((h >> 32) % 6_000) / 1_000  # prices from 0.001 to 1,000
    magnitude = math.floor(exponent)
    mantissa = 10 ** (exponent - magnitude)  # [1, 10)
    tick = Decimal(1).scaleb(magnitude - 4)
    price = (Decimal(str(round(mantissa, 4))).scaleb(magnitude)).quantize(tick)
    step = Decimal(1).scaleb(-magnitude)  # price × step in [1, 10): volumes stay in range
    return SymbolSpec(symbol, onboard, _plain(price), _plain(tick), _plain(step), activity=activity)


def _plain(value: Decimal) -> str:
    """Positional notation: ``100`` rather than ``1E+2``, ``0.0000001`` rather than ``1E-7``."""
    return f"{value:f}"


def _quarterlies() -> list[SymbolSpec]:
    """BTC and ETH quarterlies: two trading (current, next quarter), one delivered; their
    prices follow the perpetual's waves (a steady basis over the index)."""
    out = []
    for base, price, tick, step in (("BTC", "66000", "0.1", "0.001"), ("ETH", "3300", "0.01", "0.001")):  # fmt: skip
        for listed, delivered, kind, status in (
            (_ms(2026, 3, 27, 8), _ms(2026, 9, 25, 8), "CURRENT_QUARTER", "DELIVERED"),
            (_ms(2026, 6, 26, 8), _ms(2026, 12, 25, 8), "CURRENT_QUARTER", "TRADING"),
            (_ms(2026, 9, 25, 8), _ms(2027, 3, 26, 8), "NEXT_QUARTER", "TRADING"),
        ):
            day = datetime.fromtimestamp(delivered / 1000, UTC)
            out.append(
                SymbolSpec(f"{base}USDT_{day:%y%m%d}", listed, price, tick, step,
                           status=status, delivery_ms=delivered, contract_type=kind,
                           activity=0.05, underlying=f"{base}USDT")
            )  # fmt: skip
    return out


def _generated_bases(known: set[str]) -> list[str]:
    """Pronounceable made-up base assets (``KAVERO``), distinct from ``known``."""
    out: list[str] = []
    seen = set(known)
    k = 0
    while len(out) < 400:
        h = stable_hash("base", k)
        k += 1
        syllables = 2 + h % 2
        name = "".join(
            _CONSONANTS[(h >> (8 * i + 2)) % len(_CONSONANTS)] + _VOWELS[(h >> (8 * i + 6)) % len(_VOWELS)]
            for i in range(syllables)
        )  # fmt: skip
        if h >> 60 & 1:
            name += _CONSONANTS[(h >> 40) % len(_CONSONANTS)]
        if name not in seen:
            seen.add(name)
            out.append(name)
    return out
