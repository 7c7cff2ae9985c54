"""Ingest one (symbol, interval) series: fetch pages, keep closed candles, validate, upsert.

Plain Python composed from the client and the warehouse; the Prefect task in
:mod:`tasks.ingest` wraps it. Pages are fetched concurrently in chunks, and each
chunk is committed as one transaction in time order, so the watermark (the
newest stored candle) never jumps over a hole: when a page fails for good, the
pages before it are committed and the series stops there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from exchange.config import klines_weight
from exchange.errors import ExchangeError, IpBanned
from exchange.intervals import Interval
from exchange.paging import fetch_pages, plan_windows
from exchange.rest import Page, RestClient
from warehouse.gaps import Gap
from warehouse.parse import parse_pages, raw_row
from warehouse.schema import validate_batch
from warehouse.store import Warehouse

log = logging.getLogger("klines.ingest")


@dataclass(frozen=True)
class SeriesPlan:
    """What to fetch for one series: open times in ``[start_ms, end_ms)``."""

    market: str
    symbol: str
    interval: str
    start_ms: int
    end_ms: int


@dataclass
class SeriesResult:
    """What happened to one series in one run (one row of the summary table)."""

    symbol: str
    interval: str
    status: str = "ok"  # ok | rejected-rows | failed | banned | nothing-to-do
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    rejected: int = 0
    open_skipped: int = 0
    requests: int = 0
    weight: int = 0
    seconds: float = 0.0
    error: str = ""
    banned_until_ms: int = 0
    from_archive: int = 0  # of ``fetched``: candles read from archive files
    archive_files: int = 0
    archive_fallbacks: int = 0  # archive files that failed verification: loaded over REST

    @property
    def from_rest(self) -> int:
        return self.fetched - self.from_archive

    def as_row(self) -> dict[str, object]:
        row = asdict(self)
        del row["banned_until_ms"]
        row["from_rest"] = self.from_rest
        return row

    def absorb(self, other: SeriesResult) -> None:
        """Add ``other``'s counters (a sub-range of the same series) to this result."""
        for name in COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        if other.status not in ("ok", "nothing-to-do", "rejected-rows"):
            self.status, self.error = other.status, other.error
            self.banned_until_ms = other.banned_until_ms


COUNTERS = (
    "fetched",
    "inserted",
    "updated",
    "rejected",
    "open_skipped",
    "requests",
    "weight",
    "from_archive",
    "archive_files",
    "archive_fallbacks",
)
Progress = Callable[[int], None]
"""Called with the number of expected candles a step has just accounted for."""


def ingest_series(
    plan: SeriesPlan,
    client: RestClient,
    warehouse: Warehouse,
    *,
    run_id: str,
    server_ms: int,
    source: str = "rest",
    pages_per_batch: int = 200,  # ~100k candles per transaction: fewer checkpoints
    workers: int = 4,
    progress: Progress | None = None,
) -> SeriesResult:
    """Load one series; never raises for exchange errors, it reports them in the result."""
    started = time.monotonic()
    result = SeriesResult(plan.symbol, plan.interval)
    interval = Interval.parse(plan.interval)
    windows = plan_windows(interval, plan.start_ms, plan.end_ms, client.config.page_limit)
    if not windows:
        result.status = "nothing-to-do"
    try:
        for first in range(0, len(windows), pages_per_batch):
            chunk = windows[first : first + pages_per_batch]
            pages: list[Page] = []
            error: ExchangeError | None = None
            try:
                for page in fetch_pages(client, plan.symbol, interval, chunk, workers):
                    pages.append(page)
            except ExchangeError as exc:
                error = exc
            result.requests += len(pages)
            result.weight += len(pages) * klines_weight(client.config.page_limit)
            if pages:
                fetched = (chunk[0].start_ms, chunk[len(pages) - 1].end_ms + 1)
                _load(pages, plan, warehouse, run_id, server_ms, source, result, fetched)
                if progress is not None:
                    progress(interval.count(*fetched))
            if error is not None:
                # Account for what this run could not load; the next run resumes here.
                failed_from = chunk[len(pages)].start_ms
                missing = interval.count(failed_from, plan.end_ms)
                warehouse.record_gaps(
                    market=plan.market,
                    symbol=plan.symbol,
                    interval=plan.interval,
                    start_ms=failed_from,
                    end_ms=plan.end_ms,
                    gaps=[Gap(failed_from, plan.end_ms, missing, "fetch_failed", str(error)[:500])],
                    run_id=run_id,
                )
                raise error
    except IpBanned as exc:
        result.status, result.error = "banned", str(exc)
        result.banned_until_ms = exc.until_ms
    except ExchangeError as exc:
        result.status, result.error = "failed", str(exc)
        log.error("%s %s failed: %s", plan.symbol, plan.interval, exc)
    if result.status == "ok" and result.rejected:
        result.status = "rejected-rows"
    result.seconds = round(time.monotonic() - started, 3)
    return result


def _load(
    pages: list[Page],
    plan: SeriesPlan,
    warehouse: Warehouse,
    run_id: str,
    server_ms: int,
    source: str,
    result: SeriesResult,
    fetched: tuple[int, int],
) -> None:
    bodies = [p.body for p in pages]
    batch = parse_pages(bodies)
    result.fetched += len(batch)
    # A candle is closed once its close_time is before the exchange's clock: the
    # run's /fapi/v1/time reading, or the page's own Date header if later.
    page_now = np.array([max(server_ms, p.server_ms or 0) for p in pages], dtype="int64")
    now = page_now[batch["page"].to_numpy(dtype="int64")]
    close = batch["close_time_ms"].to_numpy(dtype="float64", na_value=np.nan)
    is_open = close >= now
    result.open_skipped += int(is_open.sum())
    prepared = prepare_batch(
        batch[~is_open], lambda page, row: raw_row(bodies, page, row), plan, fetched
    )
    commit_batch(prepared, plan, warehouse, run_id, source, result)


@dataclass
class Prepared:
    """A validated batch of one series, ready to be written."""

    valid: pd.DataFrame
    rejects: list[dict[str, object]]
    fetched: tuple[int, int]


def prepare_batch(
    batch: pd.DataFrame,
    raw_of: Callable[[int, int], str],
    plan: SeriesPlan,
    fetched: tuple[int, int],
) -> Prepared:
    """Validate a parsed batch of closed candles; rejected rows keep their raw text.

    ``raw_of(page, row)`` gives a rejected row exactly as the source sent it.
    """
    checked = validate_batch(batch, plan.interval)
    rejects = [
        {
            "open_time_ms": None if open_ms is None or open_ms != open_ms else int(open_ms),
            "raw": raw_of(int(page), int(row)),
            "failed_checks": list(checks),
        }
        for open_ms, page, row, checks in zip(
            checked.rejected["open_time_ms"].astype(object),
            checked.rejected["page"],
            checked.rejected["row"],
            checked.rejected["failed_checks"],
            strict=True,
        )
    ]
    return Prepared(checked.valid, rejects, fetched)


def commit_batch(
    prepared: Prepared,
    plan: SeriesPlan,
    warehouse: Warehouse,
    run_id: str,
    source: str,
    result: SeriesResult,
) -> None:
    """Upsert a prepared batch (rejects quarantined, gap ledger of its range rewritten)."""
    written = warehouse.write_batch(
        market=plan.market,
        symbol=plan.symbol,
        interval=plan.interval,
        valid=prepared.valid,
        rejected=prepared.rejects,
        source=source,
        run_id=run_id,
        expected=prepared.fetched,
    )
    result.inserted += written.inserted
    result.updated += written.updated
    result.rejected += written.rejected
    if prepared.rejects:
        log.warning(
            "%s %s: %d rows rejected (kept in klines_rejected), e.g. %s",
            plan.symbol,
            plan.interval,
            len(prepared.rejects),
            prepared.rejects[0]["failed_checks"],
        )
