"""Parsing and checking what a user typed, before anything is fetched or written.

Every error is an ``InvalidInput`` (a ``ValueError``) with a one-line message
naming the problem and what to do; the command line exits with code 2.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from exchange.errors import InvalidInput, UnknownSymbol
from exchange.intervals import Interval

_SYMBOL = re.compile(r"[A-Z0-9]{2,20}(_[0-9]{6})?")


def parse_symbols(text: str | list[str]) -> tuple[list[str], list[str]]:
    """Split, upper-case and check symbols; returns (symbols, notes about normalising)."""
    items = text.split(",") if isinstance(text, str) else list(text)
    symbols, notes = [], []
    for raw in items:
        item = raw.strip()
        if not item:
            continue
        upper = item.upper()
        if not _SYMBOL.fullmatch(upper):
            raise InvalidInput(
                f"invalid symbol {item!r}: use Binance symbols such as BTCUSDT "
                "(letters and digits, optionally _YYMMDD for delivery contracts)"
            )
        if upper != item:
            notes.append(f"symbol {item!r} normalised to {upper!r}")
        if upper not in symbols:
            symbols.append(upper)
    if not symbols:
        raise InvalidInput("no symbols given: pass --symbols BTCUSDT,ETHUSDT")
    return symbols, notes


def parse_intervals(text: str | list[str]) -> list[str]:
    """Split and check interval strings (case-sensitive: 1m is a minute, 1M a month)."""
    items = text.split(",") if isinstance(text, str) else list(text)
    intervals = []
    for raw in items:
        item = raw.strip()
        if not item:
            continue
        Interval.parse(item)
        if item not in intervals:
            intervals.append(item)
    if not intervals:
        raise InvalidInput("no intervals given: pass --intervals 1m,1h")
    return intervals


def parse_time(text: str | None, option: str) -> datetime | None:
    """An ISO 8601 date or date-time; UTC unless it carries an offset."""
    if text is None or str(text).strip() == "":
        return None
    value = str(text).strip()
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise InvalidInput(
            f"cannot parse {option} {value!r}: use ISO 8601, e.g. 2026-11-01 or 2026-11-02T12:00Z"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def check_range(start: datetime | None, end: datetime | None, now: datetime) -> None:
    """Reject a start after the end, or a start in the future."""
    if start is not None and start > now:
        raise InvalidInput(
            f"--start {start.isoformat()} is in the future (now {now:%Y-%m-%dT%H:%MZ}): "
            "pick a past date"
        )
    if start is not None and end is not None and start >= end:
        raise InvalidInput(
            f"--start {start.isoformat()} is not before --end {end.isoformat()}: swap or fix them"
        )


def check_listed(symbols: list[str], listed: set[str]) -> None:
    """Every symbol must be listed by the exchange."""
    unknown = [s for s in symbols if s not in listed]
    if unknown:
        raise UnknownSymbol(
            f"unknown symbol{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}: "
            "not listed in /fapi/v1/exchangeInfo; check the spelling (e.g. BTCUSDT)"
        )


MAX_SECONDS = 3600.0


def check_seconds(seconds: float) -> float:
    """A liveness sampling window: positive and at most an hour."""
    if not 0 < seconds <= MAX_SECONDS:
        raise InvalidInput(f"--seconds {seconds:g} is out of range: use 1 to {MAX_SECONDS:.0f}")
    return float(seconds)


def to_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)
