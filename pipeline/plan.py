"""Planning a run (pure: no I/O, no Prefect): which range of each series to fetch, from
which source, and which gaps the ledger can account for before anything is fetched.

:func:`plan_series` decides each series' range from the stored bounds, the gap ledger,
the listing and delivery dates and the exchange's clock; :func:`archive_files_for` which
whole days come from the bulk archive; :func:`split_plans` which series need one REST
page only (a scheduled run's few new candles) and load in groups, which load from the archive.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from exchange.archive import ArchiveFile, plan_archive
from exchange.errors import InvalidInput
from exchange.intervals import Interval
from exchange.markets import DEFAULT_KIND, DEFAULT_MARKET, KINDS, MARKETS
from exchange.rest import ExchangeInfo
from warehouse.gaps import CONFIRMED, Gap

SOURCES = ("auto", "archive", "rest")


@dataclass(frozen=True)
class SeriesPlan:
    """What to fetch for one series: open times in ``[start_ms, end_ms)``.

    ``market`` and ``kind`` name descriptions of :mod:`exchange.markets`; ``symbol`` is a
    pair for kinds keyed by pair (the index price).
    """

    market: str
    symbol: str
    interval: str
    start_ms: int
    end_ms: int
    kind: str = DEFAULT_KIND

    @property
    def label(self) -> str:
        """``BTCUSDT-1m``; other markets and kinds than the default (USDⓈ-M trades) lead:
        ``spot-BTCUSDT-1m``, ``usdm-mark-BTCUSDT-1m``."""
        lead = [] if self.market == DEFAULT_MARKET else [self.market]
        if self.kind != DEFAULT_KIND:
            lead = [self.market, self.kind]
        return "-".join([*lead, self.symbol, self.interval])


@dataclass
class RunPlan:
    """What one run will fetch, and the ledger rows it can already write."""

    fetch: list[SeriesPlan] = field(default_factory=list)
    ledger: list[tuple[SeriesPlan, list[Gap]]] = field(default_factory=list)


def plan_series(
    market: str,
    symbols: list[str],
    intervals: list[str],
    info: ExchangeInfo,
    server_ms: int,
    bounds: dict[tuple[str, str], tuple[int, int] | None],
    ledger: dict[tuple[str, str], list[Gap]],
    start_ms: int | None,
    end_ms: int | None,
    lookback_candles: int,
    reverify_gaps: bool = False,
    kind: str = DEFAULT_KIND,
) -> RunPlan:
    """Decide each series' range and the gaps to account for.

    The range is the explicit start, else just after the newest stored candle, else
    ``lookback_candles`` back; it is bounded by the listing date, a delisted contract's
    delivery, and the still-open candle, which is never requested. A range that ends
    before a symbol's listing is bad input (``InvalidInput``). Holes the ledger
    lists as ``not_fetched`` or ``fetch_failed`` (and, with ``reverify_gaps``, confirmed
    ones) are fetched again; confirmed gaps are otherwise left alone.
    """
    plan = RunPlan()
    for symbol in symbols:
        listing = info.symbols[symbol]
        for name in intervals:
            interval = Interval.parse(name)
            stored = bounds.get((symbol, name))
            current_open = interval.floor(server_ms)
            if start_ms is not None:
                wanted = interval.ceil(start_ms)
            elif stored is not None:
                wanted = interval.add(stored[1], 1)
            else:
                wanted = interval.add(current_open, -lookback_candles)
            wanted_end = (
                current_open if end_ms is None else min(interval.ceil(end_ms), current_open)
            )
            listed = interval.floor(listing.onboard_ms)
            if end_ms is not None and wanted_end <= listed:
                raise InvalidInput(
                    f"the range ends before {symbol} was listed "
                    f"({datetime.fromtimestamp(listing.onboard_ms / 1000, UTC):%Y-%m-%d}): "
                    "pick an --end after that date, or leave it out"
                )
            first = max(wanted, listed)
            last = wanted_end
            delisted = not listing.is_perpetual or listing.status not in (
                "TRADING",
                "PENDING_TRADING",
            )
            if delisted:
                last = min(last, interval.ceil(listing.delivery_ms))
            main = SeriesPlan(market, symbol, name, first, max(first, last), kind)
            plan.fetch.append(main)

            def account(
                lo: int, hi: int, cause: str, detail: str, where: SeriesPlan = main
            ) -> None:
                if lo < hi:
                    gap = Gap(lo, hi, Interval.parse(where.interval).count(lo, hi), cause, detail)
                    plan.ledger.append((replace(where, start_ms=lo, end_ms=hi), [gap]))

            account(wanted, min(first, wanted_end), "before_listing", "before onboardDate")
            if delisted:
                account(
                    max(last, wanted), wanted_end, "after_delisting", f"status {listing.status}"
                )
            known = ledger.get((symbol, name), [])
            if stored is not None and not any(
                g.start_ms < main.start_ms and g.end_ms > stored[1] for g in known
            ):
                account(
                    interval.add(stored[1], 1),
                    main.start_ms,
                    "not_fetched",
                    "between stored candles",
                )
            if (
                stored is not None
                and main.end_ms < stored[0]
                and not any(g.end_ms > main.end_ms and g.start_ms < stored[0] for g in known)
            ):
                account(main.end_ms, stored[0], "not_fetched", "between stored candles")
            repair = ("not_fetched", "fetch_failed", *(CONFIRMED if reverify_gaps else ()))
            for gap in known:
                if gap.cause in repair and (
                    gap.end_ms <= main.start_ms or gap.start_ms >= main.end_ms
                ):
                    plan.fetch.append(
                        SeriesPlan(market, symbol, name, gap.start_ms, gap.end_ms, kind)
                    )
    return plan


def fits_one_page(plan: SeriesPlan, page_limit: int) -> bool:
    """Whether ``plan`` needs at most one REST page (what a scheduled run usually fetches)."""
    return Interval.parse(plan.interval).count(plan.start_ms, plan.end_ms) <= page_limit


def archive_files_for(
    plan: SeriesPlan, source: str, server_ms: int, page_limit: int
) -> list[ArchiveFile]:
    """The archive files ``source`` wants for ``plan`` (none for ``rest``).

    ``archive`` takes every whole past day from the archive; ``auto`` only the files that
    replace at least one full REST page (``page_limit`` candles: a day of 1m, a month of
    1m … 1h), since a smaller file costs a request and saves none.
    """
    if source == "rest":
        return []
    files = plan_archive(
        plan.symbol,
        plan.interval,
        plan.start_ms,
        plan.end_ms,
        server_ms,
        prefix=MARKETS[plan.market].archive_prefix,
        folder=KINDS[plan.kind].endpoint,
    )
    return [f for f in files if file_candles(f) >= min_file_candles(source, page_limit)]


def min_file_candles(source: str, page_limit: int) -> int:
    """Smallest file (in candles) that ``source`` takes from the archive."""
    return page_limit if source == "auto" else 0


def file_candles(f: ArchiveFile) -> int:
    """How many candles an archive file holds when complete."""
    return Interval.parse(f.interval).count(f.start_ms, f.end_ms)


@dataclass
class Split:
    """How a run loads its series: one-page ones in groups over REST, the ones with
    archive files together from the archive (with their files), the others a task each
    over REST."""

    small: list[SeriesPlan] = field(default_factory=list)
    archive: list[tuple[SeriesPlan, list[ArchiveFile]]] = field(default_factory=list)
    rest: list[SeriesPlan] = field(default_factory=list)


def split_plans(plans: list[SeriesPlan], page_limit: int, source: str, server_ms: int) -> Split:
    """Sort ``plans`` into :class:`Split`'s three ways of loading."""
    split = Split()
    for p in plans:
        files = archive_files_for(p, source, server_ms, page_limit)
        if files:
            split.archive.append((p, files))
        elif fits_one_page(p, page_limit):
            split.small.append(p)
        else:
            split.rest.append(p)
    return split
