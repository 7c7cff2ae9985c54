"""Which symbols a user means: exact names, shell-style patterns and ``ALL`` (pure, no I/O).

``BTCUSDT`` names one contract, listed with any status. ``'*USDT'``, ``'1000*'`` or
``'BTC?USDT'`` (``*`` any run of characters, ``?`` one) and ``ALL`` (every one) select among
the contracts that trade now: status ``TRADING``, perpetuals only unless delivery contracts
are asked for too. :func:`parse_selection` checks what was typed; :func:`resolve` applies it
to ``/fapi/v1/exchangeInfo`` and says how each pattern resolved; :func:`keep_top` then keeps
the ``top`` symbols with the highest 24-hour quote volume (``/fapi/v1/ticker/24hr``), asked
for only once the names and patterns are known to be right.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fnmatch import fnmatchcase

from .errors import InvalidInput, UnknownSymbol
from .rest import ExchangeInfo, SymbolInfo

ALL = "ALL"
SYMBOL = re.compile(r"[A-Z0-9]{2,20}(_([0-9]{6}|PERP))?")
"""An exact symbol of any market: ``BTCUSDT``, ``1000PEPEUSDT``, ``BTCUSDT_261225``,
``BTCUSD_PERP``."""
PATTERN = re.compile(r"[A-Z0-9_*?]{1,40}")
"""A pattern: a symbol's characters plus ``*`` and ``?`` (nothing a shell or SQL would read)."""
_LISTED_NAMES = 10  # a note names the symbols a pattern matched up to this many


@dataclass(frozen=True)
class Selection:
    """What the user asked for, checked for syntax, not yet against the exchange.

    Attributes:
        exact: exact symbols, upper-case, in the order given.
        patterns: patterns (``ALL`` included), upper-case, in the order given.
        delivery: patterns select delivery (quarterly) contracts too.
        top: keep only this many symbols, those with the highest 24-hour quote volume.
    """

    exact: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    delivery: bool = False
    top: int | None = None


@dataclass(frozen=True)
class Resolved:
    """The symbols a selection stands for now, and one note per pattern (and ``top``)."""

    symbols: list[str]
    notes: list[str]


def parse_selection(
    text: str | Iterable[str] | None, delivery: bool = False, top: int | None = None
) -> tuple[Selection, list[str]]:
    """Split, upper-case and check names and patterns; returns (selection, notes about
    normalising). No ``text`` with a ``top`` means ``ALL``.

    Raises:
        InvalidInput: a name or pattern with other characters, no symbols at all, or a
            ``top`` that is not a positive number.
    """
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
        raise InvalidInput(f"--top {top}: use a positive number of symbols, e.g. --top 20")
    if text is None:
        if top is None:
            raise InvalidInput("no symbols given: pass --symbols BTCUSDT,ETHUSDT")
        return Selection((), (ALL,), delivery, top), []
    items = text.split(",") if isinstance(text, str) else list(text)
    exact: list[str] = []
    patterns: list[str] = []
    notes: list[str] = []
    for raw in items:
        item = raw.strip()
        if not item:
            continue
        upper = item.upper()
        wildcard = upper == ALL or "*" in upper or "?" in upper
        if wildcard and not PATTERN.fullmatch(upper):
            raise InvalidInput(
                f"invalid symbol pattern {item!r}: use letters, digits and _ with * "
                "(any characters) and ? (one character), e.g. '*USDT' or '1000*'"
            )
        if not wildcard and not SYMBOL.fullmatch(upper):
            raise InvalidInput(
                f"invalid symbol {item!r}: use Binance symbols such as BTCUSDT "
                "(letters and digits, optionally _YYMMDD for delivery contracts or _PERP "
                "for COIN-M perpetuals)"
            )
        if upper != item:
            kind = "symbol pattern" if wildcard else "symbol"
            notes.append(f"{kind} {item!r} normalised to {upper!r}")
        chosen = patterns if wildcard else exact
        if upper not in chosen:
            chosen.append(upper)
    if not exact and not patterns:
        raise InvalidInput("no symbols given: pass --symbols BTCUSDT,ETHUSDT")
    return Selection(tuple(exact), tuple(patterns), delivery, top), notes


def check_listed(
    symbols: Iterable[str], listed: Iterable[str], source: str = "/fapi/v1/exchangeInfo"
) -> None:
    """Every exact symbol must be listed by the exchange (with any status).

    Raises:
        UnknownSymbol: naming every symbol ``source`` does not list.
    """
    known = set(listed)
    unknown = [s for s in symbols if s not in known]
    if unknown:
        example = sorted(known)[0] if known and "BTCUSDT" not in known else "BTCUSDT"
        raise UnknownSymbol(
            f"unknown symbol{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}: "
            f"not listed in {source}; check the spelling (e.g. {example})"
        )


def check_pairs(symbols: Iterable[str], info: ExchangeInfo, kind: str) -> None:
    """Every exact name must be one of ``info``'s pairs (``kind``'s candles are by pair:
    the index price of ``BTCUSDT``, ``BTCUSD``, not of a contract such as ``BTCUSD_PERP``).

    Raises:
        UnknownSymbol: naming the names that are no pair, and the pair to use instead.
    """
    pairs = info.pairs
    unknown = [s for s in symbols if s not in pairs]
    if unknown:
        contract = info.symbols.get(unknown[0])
        example = (
            contract.pair
            if contract is not None and contract.pair
            else next((p for p in sorted(pairs) if p.startswith("BTC")), min(pairs, default="?"))
        )
        raise UnknownSymbol(
            f"unknown pair{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}: not a pair "
            f"in {info.api}/exchangeInfo; {kind} prices are by pair: use {example}"
        )


def pair_volumes(info: ExchangeInfo, quote_volumes: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """The 24-hour quote volume of each pair: the sum over its contracts (for ``--top``
    among pairs)."""
    volumes: dict[str, Decimal] = {}
    for symbol, i in info.symbols.items():
        if i.pair:
            volumes[i.pair] = volumes.get(i.pair, Decimal(0)) + quote_volumes.get(symbol, 0)
    return volumes


def resolve(selection: Selection, info: ExchangeInfo) -> Resolved:
    """The symbols ``selection``'s names and patterns stand for in ``info`` (``top`` is
    :func:`keep_top`'s, once these are known to be right).

    Exact names come first, in the order given, then what the patterns matched, by name.

    Raises:
        UnknownSymbol: an exact name the exchange does not list, or a pattern that
            matches no contract it may select.
    """
    source = f"{info.api}/exchangeInfo"
    check_listed(selection.exact, info.symbols, source)
    if info.has_contracts:
        kind = "TRADING perpetuals" + (" and delivery contracts" if selection.delivery else "")
        one = "TRADING perpetual" + (" or delivery contract" if selection.delivery else "")
    else:
        kind, one = "TRADING symbols", "TRADING symbol"
    candidates = sorted(s for s, i in info.symbols.items() if _selectable(i, selection.delivery))
    chosen = list(selection.exact)
    notes = []
    for pattern in selection.patterns:
        matched = [s for s in candidates if pattern == ALL or fnmatchcase(s, pattern)]
        label = ALL if pattern == ALL else repr(pattern)
        if not matched:
            raise UnknownSymbol(
                f"{label} matched no {one} in {source}: {_hint(pattern, info, selection.delivery)}"
            )
        notes.append(f"{label} matched {_count(matched)} ({kind}){_names(matched)}")
        chosen += [s for s in matched if s not in chosen]
    return Resolved(chosen, notes)


def keep_top(
    resolved: Resolved,
    top: int,
    quote_volumes: Mapping[str, Decimal],
    source: str = "/fapi/v1/ticker/24hr",
) -> Resolved:
    """The ``top`` symbols of ``resolved`` with the highest 24-hour quote volume, highest
    first (a symbol the ticker leaves out counts as 0), with a note saying so."""
    ranked = sorted(resolved.symbols, key=lambda s: (-quote_volumes.get(s, Decimal(0)), s))
    kept = ranked[:top]
    note = (
        f"--top {top} kept {len(kept)} of {_count(resolved.symbols)}, those with the highest "
        f"24-hour quote volume ({source}){_names(kept)}"
    )
    return Resolved(kept, [*resolved.notes, note])


def _selectable(info: SymbolInfo, delivery: bool) -> bool:
    return info.status == "TRADING" and (info.is_perpetual or delivery)


def _hint(pattern: str, info: ExchangeInfo, delivery: bool) -> str:
    """What to do about a pattern that matched nothing selectable."""
    listed = [
        i for s, i in sorted(info.symbols.items()) if pattern == ALL or fnmatchcase(s, pattern)
    ]
    if not delivery and any(_selectable(i, True) for i in listed):
        return "it matches delivery contracts only: add --delivery"
    if listed:
        names = ", ".join(i.symbol for i in listed[:3]) + (", ..." if len(listed) > 3 else "")
        return f"it matches only contracts that do not trade ({names}): name one exactly to load it"
    return "check the pattern (e.g. '*USDT', '1000*'), or list symbols with `klines symbols`"


def _count(symbols: list[str]) -> str:
    return f"{len(symbols)} symbol{'s' if len(symbols) != 1 else ''}"


def _names(symbols: list[str]) -> str:
    return f": {', '.join(symbols)}" if len(symbols) <= _LISTED_NAMES else ""
