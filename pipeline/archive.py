"""Ingest one series from the bulk archive, with REST for whatever the archive cannot give.

Whole past months come from monthly files, remaining whole past days from daily files
(:func:`exchange.archive.plan_archive`); the partial first day, today, and every day
whose file is missing (404) or fails verification twice go to REST through
:func:`pipeline.series.ingest_series`. Everything is loaded in time order, so the watermark
never passes a hole. Files are downloaded ahead by a few threads and loaded in batches of
about ``batch_candles`` candles, each batch one transaction with ``source = 'archive'``.
While one batch is being written (one writer thread, so in order), the next one is parsed
and validated; memory stays bounded by the look-ahead and two batches.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace

import pandas as pd

from exchange.archive import ArchiveClient, ArchiveFile, split_month
from exchange.errors import ArchiveCorrupt, ArchiveError, ArchiveMissing, ExchangeError
from exchange.intervals import Interval
from exchange.rest import RestClient
from warehouse.parse import parse_csv, raw_csv_row
from warehouse.store import Warehouse

from .plan import SeriesPlan, file_candles
from .results import Progress, SeriesResult
from .series import Prepared, commit_batch, ingest_series, prepare_batch

log = logging.getLogger("klines.ingest")

# Candles per archive batch (one transaction): about 70 days of 1m.
BATCH_CANDLES = 50_000


def ingest_series_archive(
    plan: SeriesPlan,
    files: list[ArchiveFile],
    archive: ArchiveClient,
    client: RestClient,
    warehouse: Warehouse,
    *,
    run_id: str,
    server_ms: int,
    workers: int = 4,
    batch_candles: int = BATCH_CANDLES,
    min_candles: int = 0,
    progress: Progress | None = None,
) -> SeriesResult:
    """Load ``plan`` from ``files`` (in time order, inside the plan) and REST for the rest.

    Never raises for exchange errors; they are reported in the result.
    """
    started = time.monotonic()
    result = SeriesResult.for_plan(plan)
    interval = Interval.parse(plan.interval)
    cursor = plan.start_ms
    batch: list[tuple[ArchiveFile, bytes, pd.DataFrame]] = []  # parsed as they arrive
    batch_rows = 0
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="klines-archive-writer")
    writing: Future[None] | None = None

    def written() -> None:
        """Wait for the batch being written (its error, if any, is raised here)."""
        nonlocal writing
        if writing is not None:
            done, writing = writing, None
            done.result()

    def commit(prepared: Prepared, candles: int) -> None:
        commit_batch(prepared, plan, warehouse, run_id, "archive", result)
        if progress is not None:
            progress(candles)

    def flush() -> None:
        nonlocal batch, batch_rows, writing
        if batch:
            prepared = _prepare_files(batch, plan, server_ms, result)
            candles = interval.count(batch[0][0].start_ms, batch[-1][0].end_ms)
            written()
            writing = writer.submit(commit, prepared, candles)
        batch, batch_rows = [], 0

    def rest(lo: int, hi: int) -> bool:
        """REST for [lo, hi); False when the series must stop (a failure, a ban)."""
        flush()
        written()
        if lo >= hi:
            return True
        part = ingest_series(
            replace(plan, start_ms=lo, end_ms=hi),
            client,
            warehouse,
            run_id=run_id,
            server_ms=server_ms,
            workers=workers,
            progress=progress,
        )
        result.absorb(part)
        return part.status not in ("failed", "banned")

    try:
        for f, outcome in _download(archive, files, workers):
            if isinstance(outcome, ArchiveMissing) and f.period == "monthly":
                # Not published yet (monthly files come days late): try its days.
                days = [d for d in split_month(f) if file_candles(d) >= min_candles]
                daily = list(_download(archive, days, workers))
            else:
                daily = [(f, outcome)]
            for day, got in daily:
                if cursor < day.start_ms and not rest(cursor, day.start_ms):
                    return _finish(result, started)
                cursor = max(cursor, day.start_ms)
                if isinstance(got, bytes):
                    parsed = parse_csv([got])
                    batch.append((day, got, parsed))
                    batch_rows += len(parsed)
                    result.archive_files += 1
                    cursor = day.end_ms
                    if batch_rows >= batch_candles:
                        flush()
                    continue
                if isinstance(got, ArchiveCorrupt):
                    result.archive_fallbacks += 1
                    log.warning("%s; loading %s %s over REST", got, plan.symbol, day.name)
                elif not isinstance(got, ArchiveMissing):
                    result.archive_fallbacks += 1
                    log.warning("archive failed for %s (%s); using REST", day.name, got)
                if not rest(day.start_ms, day.end_ms):
                    return _finish(result, started)
                cursor = day.end_ms
        if not rest(cursor, plan.end_ms):
            return _finish(result, started)
        flush()
        written()
    except ExchangeError as exc:  # pragma: no cover - defensive: REST errors are reported
        result.status, result.error = "failed", str(exc)
    finally:
        writer.shutdown(wait=True)  # an error above: the batch in flight still lands whole
    return _finish(result, started)


def _finish(result: SeriesResult, started: float) -> SeriesResult:
    if result.status == "ok" and result.rejected:
        result.status = "rejected-rows"
    result.seconds = round(time.monotonic() - started, 3)
    return result


def _download(
    archive: ArchiveClient, files: list[ArchiveFile], workers: int
) -> Iterator[tuple[ArchiveFile, bytes | ExchangeError]]:
    """Each file's CSV bytes (or the error it ended with), in order, ``workers`` ahead."""

    def fetch(f: ArchiveFile) -> bytes | ExchangeError:
        try:
            return archive.fetch_csv(f)
        except (ArchiveError, ExchangeError) as exc:
            return exc

    if workers <= 1 or len(files) <= 1:
        for f in files:
            yield f, fetch(f)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="klines-archive") as pool:
        pending: deque[tuple[ArchiveFile, Future[bytes | ExchangeError]]] = deque()
        try:
            for f in files:
                pending.append((f, pool.submit(fetch, f)))
                if len(pending) >= workers + 1:
                    done, future = pending.popleft()
                    yield done, future.result()
            while pending:
                done, future = pending.popleft()
                yield done, future.result()
        finally:
            for _, future in pending:
                future.cancel()


def _prepare_files(
    batch: list[tuple[ArchiveFile, bytes, pd.DataFrame]],
    plan: SeriesPlan,
    server_ms: int,
    result: SeriesResult,
) -> Prepared:
    csvs = [data for _, data, _ in batch]
    parsed = pd.concat(
        [frame.assign(page=k) for k, (_, _, frame) in enumerate(batch)], ignore_index=True
    )
    result.fetched += len(parsed)
    result.from_archive += len(parsed)
    # Archive files cover finished days only; the closed-candle rule still applies.
    close = parsed["close_time_ms"].to_numpy(dtype="float64", na_value=-1.0)
    is_open = close >= server_ms
    result.open_skipped += int(is_open.sum())
    return prepare_batch(
        parsed[~is_open],
        lambda page, row: raw_csv_row(csvs, page, row),
        plan,
        (batch[0][0].start_ms, batch[-1][0].end_ms),
    )
