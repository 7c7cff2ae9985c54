"""Ingest one (symbol, interval) series of one kind: fetch pages, keep closed candles,
validate, upsert.

Plain Python composed from the client and the warehouse (the pipeline's fetch → parse →
validate → write for REST); the Prefect tasks in :mod:`tasks.ingest` wrap it. The plan's
kind (:mod:`exchange.markets`) decides the endpoint and its key (symbol or pair), the
checks and the table. Pages are fetched concurrently in chunks, and each
chunk is committed as one transaction in time order, so the watermark (the
newest stored candle) never jumps over a hole: when a page fails for good, the
pages before it are committed and the series stops there. Series that need one
page each (a scheduled run's new candles) are loaded together by
:func:`ingest_small_series`, with one parse, validation and transaction per group.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from exchange.errors import ExchangeError, IpBanned
from exchange.intervals import Interval
from exchange.markets import KINDS
from exchange.paging import fetch_pages, plan_windows
from exchange.rest import Page, RestClient
from warehouse.gaps import Gap
from warehouse.parse import parse_pages, raw_row
from warehouse.schema import validate_batch
from warehouse.store import BatchSeries, Warehouse

from .plan import SeriesPlan
from .results import Progress, SeriesResult

log = logging.getLogger("klines.ingest")


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
    result = SeriesResult.for_plan(plan)
    interval = Interval.parse(plan.interval)
    windows = plan_windows(interval, plan.start_ms, plan.end_ms, client.config.page_limit)
    if not windows:
        result.status = "nothing-to-do"
    for first in range(0, len(windows), pages_per_batch):
        chunk = windows[first : first + pages_per_batch]
        pages: list[Page] = []
        error: ExchangeError | None = None
        try:
            pages_of = fetch_pages(client, plan.symbol, interval, chunk, workers, KINDS[plan.kind])
            for page in pages_of:
                if progress is not None:  # per page: a batch can take minutes to fetch
                    window = chunk[len(pages)]
                    progress(interval.count(window.start_ms, interval.add(window.end_ms, 1)))
                pages.append(page)
        except ExchangeError as exc:
            error = exc
        result.requests += len(pages)
        result.weight += len(pages) * client.page_weight(client.config.page_limit)
        if pages:
            fetched = (chunk[0].start_ms, chunk[len(pages) - 1].end_ms + 1)
            _load(pages, plan, warehouse, run_id, server_ms, source, result, fetched)
        if error is not None:
            _give_up(plan, result, error, warehouse, run_id, chunk[len(pages)].start_ms)
            break
    if result.status == "ok" and result.rejected:
        result.status = "rejected-rows"
    result.seconds = round(time.monotonic() - started, 3)
    return result


def ingest_small_series(
    plans: list[SeriesPlan],
    client: RestClient,
    warehouse: Warehouse,
    *,
    run_id: str,
    server_ms: int,
    workers: int = 4,
    progress: Progress | None = None,
) -> list[SeriesResult]:
    """Load series of at most one page each (a scheduled run's new candles) together.

    One request per series, ``workers`` in flight, each at the lowest weight that holds
    its candles (:meth:`~exchange.rest.RestClient.cheapest_limit`: weight 1 for up to 99); then, per
    interval, one parse, one validation and one transaction for all of them, instead of
    one of each per series. Each series still gets its own result, gap ledger and failure:
    a series whose request fails for good is recorded as ``fetch_failed`` and the others
    load.
    """
    started = time.monotonic()
    results = [SeriesResult.for_plan(p) for p in plans]
    windows = []
    limits = []
    for plan, result in zip(plans, results, strict=True):
        interval = Interval.parse(plan.interval)
        found = plan_windows(interval, plan.start_ms, plan.end_ms, client.config.page_limit)
        if len(found) > 1:
            raise ValueError(f"{plan.symbol} {plan.interval} needs {len(found)} pages, not one")
        windows.append(found[0] if found else None)
        limits.append(client.cheapest_limit(interval.count(plan.start_ms, plan.end_ms)))
        if not found:
            result.status = "nothing-to-do"

    def fetch(i: int) -> Page | ExchangeError:
        window, plan = windows[i], plans[i]
        assert window is not None
        try:
            return client.klines_page(
                plan.symbol,
                plan.interval,
                window.start_ms,
                window.end_ms,
                limits[i],
                KINDS[plan.kind],
            )
        except ExchangeError as exc:
            return exc

    todo = [i for i, w in enumerate(windows) if w is not None]
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="klines-page") as pool:
        fetched = dict(zip(todo, pool.map(fetch, todo), strict=True))
    loaded: dict[tuple[str, str], list[tuple[int, Page]]] = {}
    for i, outcome in fetched.items():
        plan, result, window = plans[i], results[i], windows[i]
        assert window is not None
        if isinstance(outcome, ExchangeError):
            _give_up(plan, result, outcome, warehouse, run_id, window.start_ms)
            continue
        result.requests += 1
        result.weight += client.page_weight(limits[i])
        loaded.setdefault((plan.kind, plan.interval), []).append((i, outcome))
    for (_, interval), items in loaded.items():
        _load_together(items, plans, results, warehouse, run_id, server_ms, windows)
        if progress is not None:
            iv = Interval.parse(interval)
            progress(sum(iv.count(plans[i].start_ms, plans[i].end_ms) for i, _ in items))
    seconds = round(time.monotonic() - started, 3)
    for result in results:
        if result.status == "ok" and result.rejected:
            result.status = "rejected-rows"
        result.seconds = seconds
    return results


def _give_up(
    plan: SeriesPlan,
    result: SeriesResult,
    error: ExchangeError,
    warehouse: Warehouse,
    run_id: str,
    failed_from: int,
) -> None:
    """A series stops at ``failed_from`` for this run: the rest of its range goes in the
    ledger as ``fetch_failed`` (the next run resumes there) and the result says why."""
    missing = Interval.parse(plan.interval).count(failed_from, plan.end_ms)
    warehouse.record_gaps(
        market=plan.market,
        symbol=plan.symbol,
        interval=plan.interval,
        start_ms=failed_from,
        end_ms=plan.end_ms,
        gaps=[Gap(failed_from, plan.end_ms, missing, "fetch_failed", str(error)[:500])],
        run_id=run_id,
        kind=plan.kind,
    )
    if isinstance(error, IpBanned):
        result.status, result.error = "banned", str(error)
        result.banned_until_ms = error.until_ms
    else:
        result.status, result.error = "failed", str(error)
        log.error("%s failed: %s", plan.label, error)


def _load_together(
    items: list[tuple[int, Page]],
    plans: list[SeriesPlan],
    results: list[SeriesResult],
    warehouse: Warehouse,
    run_id: str,
    server_ms: int,
    windows: list,
) -> None:
    """Parse, validate and write one page per series (all of one kind and interval) as one
    batch."""
    bodies = [page.body for _, page in items]
    batch = parse_pages(bodies)
    on_page = batch["page"].to_numpy(dtype="int64")
    is_open = _still_open(batch, [page for _, page in items], server_ms)
    for k, (i, _) in enumerate(items):
        on = on_page == k
        results[i].fetched += int(on.sum())
        results[i].open_skipped += int((on & is_open).sum())
    closed = batch[~is_open].assign(series=batch["page"][~is_open].astype("int64[pyarrow]"))
    first = plans[items[0][0]]
    checked = validate_batch(closed, first.interval, first.kind)
    rejects = reject_rows(checked.rejected, lambda page, row: raw_row(bodies, page, row))
    with warehouse.bulk_writer(commit_candles=0) as writer:
        written = writer.write_series(
            market=first.market,
            series=[
                BatchSeries(
                    plans[i].symbol, plans[i].interval, (windows[i].start_ms, windows[i].end_ms + 1)
                )
                for i, _ in items
            ],
            valid=checked.valid,
            rejected=[{**r, "series": r["page"]} for r in rejects],
            source="rest",
            run_id=run_id,
            kind=first.kind,
        )
    for (i, _), w in zip(items, written, strict=True):
        results[i].inserted += w.inserted
        results[i].updated += w.updated
        results[i].rejected += w.rejected
    if rejects:
        log.warning(
            "%d rows rejected (kept in klines_rejected), e.g. %s",
            len(rejects),
            rejects[0]["failed_checks"],
        )


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
    is_open = _still_open(batch, pages, server_ms)
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
    checked = validate_batch(batch, plan.interval, plan.kind)
    return Prepared(checked.valid, reject_rows(checked.rejected, raw_of), fetched)


def reject_rows(
    rejected: pd.DataFrame, raw_of: Callable[[int, int], str]
) -> list[dict[str, object]]:
    """The rows validation refused, as the warehouse quarantines them (with their page)."""
    return [
        {
            "open_time_ms": None if open_ms is None or open_ms != open_ms else int(open_ms),
            "raw": raw_of(int(page), int(row)),
            "failed_checks": list(checks),
            "page": int(page),
        }
        for open_ms, page, row, checks in zip(
            rejected["open_time_ms"].astype(object),
            rejected["page"],
            rejected["row"],
            rejected["failed_checks"],
            strict=True,
        )
    ]


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
        kind=plan.kind,
    )
    result.inserted += written.inserted
    result.updated += written.updated
    result.rejected += written.rejected
    if prepared.rejects:
        log.warning(
            "%s: %d rows rejected (kept in klines_rejected), e.g. %s",
            plan.label,
            len(prepared.rejects),
            prepared.rejects[0]["failed_checks"],
        )


def _still_open(batch: pd.DataFrame, pages: list[Page], server_ms: int) -> np.ndarray:
    """Rows whose candle is not closed yet: a candle is closed once its close_time is
    before the exchange's clock, the run's /fapi/v1/time reading or its page's own Date
    header if later."""
    page_now = np.array([max(server_ms, p.server_ms or 0) for p in pages], dtype="int64")
    now = page_now[batch["page"].to_numpy(dtype="int64")]
    return batch["close_time_ms"].to_numpy(dtype="float64", na_value=np.nan) >= now
