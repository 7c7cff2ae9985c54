"""Parsing and checking what a user typed, before anything is fetched or written.

Every error is an ``InvalidInput`` (a ``ValueError``) with a one-line message
naming the problem and what to do; the command line exits with code 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from exchange.errors import InvalidInput
from exchange.intervals import Interval
from exchange.markets import DEFAULT_MARKET, KINDS, MARKETS, KindSpec, MarketSpec, market
from exchange.symbols import check_listed, parse_selection

__all__ = [
    "check_listed",
    "check_range",
    "check_ws_url_scope",
    "parse_intervals",
    "parse_kinds",
    "parse_markets",
    "parse_selection",
    "parse_symbols",
    "parse_time",
    "to_ms",
]


def parse_symbols(text: str | list[str]) -> tuple[list[str], list[str]]:
    """Split, upper-case and check exact symbols (the commands that take no patterns);
    returns (symbols, notes about normalising)."""
    selection, notes = parse_selection(text)
    if selection.patterns:
        raise InvalidInput(
            f"{selection.patterns[0]!r}: this command takes exact symbols such as BTCUSDT "
            "(patterns and ALL work with `klines ingest` and `klines symbols`)"
        )
    return list(selection.exact), notes


def parse_intervals(
    text: str | list[str], markets: Sequence[MarketSpec] = (MARKETS[DEFAULT_MARKET],)
) -> list[str]:
    """Split and check interval strings (case-sensitive: 1m is a minute, 1M a month), each
    offered by every one of ``markets`` (``1s`` is spot's only)."""
    intervals = []
    for item in _items(text):
        Interval.parse(item)
        for spec in markets:
            spec.check_interval(item)
        if item not in intervals:
            intervals.append(item)
    if not intervals:
        raise InvalidInput("no intervals given: pass --intervals 1m,1h")
    return intervals


def parse_markets(text: str | Sequence[str], one: bool = False) -> list[MarketSpec]:
    """``usdm``, ``coinm``, ``spot``, or several, comma-separated (only one if ``one``)."""
    markets = []
    for item in _items(text):
        spec = market(item)
        if spec not in markets:
            markets.append(spec)
    if not markets:
        raise InvalidInput(f"no market given: pass --market {DEFAULT_MARKET}")
    if one and len(markets) > 1:
        raise InvalidInput(
            f"--market {','.join(m.name for m in markets)}: this command takes one market"
        )
    return markets


def parse_kinds(text: str | Sequence[str], markets: Sequence[MarketSpec]) -> list[KindSpec]:
    """``trade``, ``mark``, ``index``, ``premium``, or several, each offered by every one of
    ``markets`` (spot has trade candles only)."""
    kinds = []
    for item in _items(text):
        for spec in markets:
            spec.kind(item.lower())
        if KINDS[item.lower()] not in kinds:
            kinds.append(KINDS[item.lower()])
    if not kinds:
        raise InvalidInput("no kind given: pass --kind trade")
    return kinds


def _items(text: str | Sequence[str]) -> list[str]:
    items = text.split(",") if isinstance(text, str) else list(text)
    return [str(item).strip() for item in items if str(item).strip()]


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


MAX_SECONDS = 3600.0


def check_seconds(seconds: float) -> float:
    """A liveness sampling window: positive and at most an hour."""
    if not 0 < seconds <= MAX_SECONDS:
        raise InvalidInput(f"--seconds {seconds:g} is out of range: use 1 to {MAX_SECONDS:.0f}")
    return float(seconds)


def check_ws_url_scope(ws_url: str | None, markets: Sequence[MarketSpec]) -> None:
    """``--ws-url`` / ``KLINES_WS_URL`` is one stream host: it serves one market's streams.

    Raises:
        InvalidInput: it is set for a run of several markets (each has its own host).
    """
    if ws_url and len(markets) > 1:
        names = ", ".join(f"KLINES_WS_URL_{m.name.upper()}" for m in markets)
        raise InvalidInput(
            f"--ws-url / KLINES_WS_URL {ws_url} would serve every market of the run, but each "
            f"market has its own stream host: set {names} instead, or check one market"
        )


def to_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)
