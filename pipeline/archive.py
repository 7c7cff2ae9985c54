"""Ingest many series from the bulk archive together, with REST for whatever the archive
cannot give.

Whole past months come from monthly files, remaining whole past days from daily files
(:func:`exchange.archive.plan_archive`). One pool of threads downloads the files of every
series (SHA-256 checked, unzipped), about one batch ahead in time order across series.
The files are loaded in batches of about ``batch_candles`` candles that mix series: one
parse (one DuckDB statement over all the batch's CSVs) and one pandera validation on the
parser thread, then one write on the writer thread, into transactions of about
``COMMIT_CANDLES`` with each series' gap ledger in them and ``source = 'archive'``. Three
stages side by side (downloads, parsing, writing), so both cores work for the whole run,
not per series; memory stays bounded by the look-ahead and three batches.

A series takes its files in time order and only from where it is loaded up to, so its
watermark never passes a hole: at a file the archive cannot give (missing even day by
day, corrupt twice, refused) or a range between files (a partial first or last day,
today, a day too small for ``auto``) the series stops taking files. Its hole is then loaded
over REST (:func:`pipeline.series.ingest_series`, several series side by side) and the
next round goes on with its remaining files, until every series is done or has failed.
For the same reason a killed run leaves each series a prefix of whole files, which a rerun
skips instead of downloading again.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from exchange.archive import ArchiveClient, ArchiveFile, split_month
from exchange.errors import ArchiveMissing, ExchangeError
from exchange.intervals import Interval
from exchange.rest import RestClient
from warehouse.candles import BulkWriter
from warehouse.parse import parse_csv, raw_csv_row
from warehouse.schema import validate_batch
from warehouse.store import BatchSeries, Warehouse

from .plan import SeriesPlan, file_candles
from .results import Progress, SeriesResult
from .series import ingest_series, reject_rows

log = logging.getLogger("klines.ingest")

# Candles per batch (one parse, one validation, one write of several statements).
BATCH_CANDLES = 125_000
# Candles per transaction: a commit costs a pass over the primary key's index, so 500,000
# candles in one take 30 % less time than in four (warehouse.candles.Candles.bulk_writer).
COMMIT_CANDLES = 500_000
# A smaller batch goes as soon as the writer is idle (the first batch, above all): a
# writer waiting for a full batch is a core doing nothing.
MIN_BATCH_CANDLES = 40_000
# Downloads in flight (latency-bound: each waits for a file and its checksum).
DOWNLOADS = 8
# Series whose holes load over REST side by side (each pages with the client's workers).
REST_SERIES = 4


@dataclass(eq=False)
class _Series:
    """One series of the run: its plan, remaining files, result and how far it is loaded."""

    plan: SeriesPlan
    files: list[ArchiveFile]
    result: SeriesResult
    cursor: int  # loaded (or in a batch being loaded) up to here
    stopped: bool = False  # at a hole: takes no more files this round
    failed: ArchiveFile | None = None  # the file that stopped it (loaded over REST instead)
    # Files downloaded ahead after it stopped, kept for the next round (at most a batch).
    ahead: dict[ArchiveFile, bytes | ExchangeError] = field(default_factory=dict)


@dataclass
class _Batch:
    """Downloaded files of one market, kind and interval, waiting to be loaded together."""

    files: list[tuple[_Series, ArchiveFile, bytes]] = field(default_factory=list)
    candles: int = 0


def ingest_archive(
    jobs: list[tuple[SeriesPlan, list[ArchiveFile]]],
    archive: ArchiveClient,
    client: RestClient,
    warehouse: Warehouse,
    *,
    run_id: str,
    server_ms: int,
    batch_candles: int = BATCH_CANDLES,
    downloads: int = DOWNLOADS,
    min_candles: int = 0,
    progress: Progress | None = None,
) -> list[SeriesResult]:
    """Load each plan from its files (in time order, inside the plan) and REST for the
    rest; one result per plan, in order.

    Never raises for exchange errors; they are reported in the results.
    """
    started = time.monotonic()
    series = [
        _Series(plan, list(files), SeriesResult.for_plan(plan), plan.start_ms)
        for plan, files in jobs
    ]
    _skip_loaded(series, warehouse, progress)
    loading = [s for s in series if s.cursor < s.plan.end_ms]
    while loading:
        load = _Round(archive, warehouse, run_id, server_ms, batch_candles, downloads, progress)
        load.run(loading, min_candles)
        loading = _fill_holes(loading, client, warehouse, run_id, server_ms, progress)
    seconds = round(time.monotonic() - started, 3)
    for s in series:
        if s.result.status == "ok" and s.result.rejected:
            s.result.status = "rejected-rows"
        s.result.seconds = seconds
    return [s.result for s in series]


def _skip_loaded(series: list[_Series], warehouse: Warehouse, progress: Progress | None) -> None:
    """Start each series after its leading files that the warehouse already holds whole
    (every candle stored, or confirmed missing by the exchange in the gap ledger), and the
    range before its first file with them: a rerun of a killed backfill goes on where it
    stopped instead of downloading them again. A series loads in time order, so what a
    killed run committed is such a prefix."""
    for (market, kind), group in _groups(series).items():
        spans = {s: _spans(s) for s in group}
        ranges = [(s.plan.symbol, s.plan.interval, lo, hi) for s in group for lo, hi in spans[s]]
        rows = iter(warehouse.completeness(market, ranges, kind))
        skipped = 0
        for s in group:
            whole = [
                row["present"] + row.get("missing_exchange_empty", 0) == row["expected"]
                for _, row in zip(spans[s], rows)  # noqa: B905 - rows holds every group's
            ]
            lead = next((k for k, done in enumerate(whole) if not done), len(whole))
            if not lead:
                continue
            head = len(spans[s]) - len(s.files)  # 1 if a range comes before its files
            done_to = spans[s][lead - 1][1]
            if progress is not None:
                progress(Interval.parse(s.plan.interval).count(s.cursor, done_to))
            s.cursor = done_to
            s.files = s.files[max(0, lead - head) :]
            skipped += max(0, lead - head)
        if skipped:
            log.info("%d archive files are already loaded whole: not downloaded again", skipped)


def _spans(s: _Series) -> list[tuple[int, int]]:
    """A series' files' ranges, after the range before its first file if there is one."""
    files = [(f.start_ms, f.end_ms) for f in s.files]
    return ([(s.cursor, files[0][0])] if files and s.cursor < files[0][0] else []) + files


def _groups(series: list[_Series]) -> dict[tuple[str, str], list[_Series]]:
    groups: dict[tuple[str, str], list[_Series]] = {}
    for s in series:
        groups.setdefault((s.plan.market, s.plan.kind), []).append(s)
    return groups


def _fill_holes(
    stopped: list[_Series],
    client: RestClient,
    warehouse: Warehouse,
    run_id: str,
    server_ms: int,
    progress: Progress | None,
) -> list[_Series]:
    """Load each series' next hole over REST (up to its next file, or its end); the series
    that still have files to load, for the next round."""

    def fill(s: _Series) -> bool:
        skip = s.failed.end_ms if s.failed else s.cursor
        s.files = [f for f in s.files if f.start_ms >= skip]
        s.stopped, s.failed = False, None
        upto = s.files[0].start_ms if s.files else s.plan.end_ms
        part = ingest_series(
            replace(s.plan, start_ms=s.cursor, end_ms=upto),
            client,
            warehouse,
            run_id=run_id,
            server_ms=server_ms,
            workers=client.config.workers,
            progress=progress,
        )
        s.result.absorb(part)
        s.cursor = upto
        return part.status not in ("failed", "banned") and bool(s.files)

    holes = [s for s in stopped if s.cursor < s.plan.end_ms]
    with ThreadPoolExecutor(REST_SERIES, thread_name_prefix="klines-archive-rest") as pool:
        going = list(pool.map(fill, holes))
    return [s for s, more in zip(holes, going, strict=True) if more]


class _Round:
    """One pass over the series' files: download, batch, parse, validate, write."""

    def __init__(
        self,
        archive: ArchiveClient,
        warehouse: Warehouse,
        run_id: str,
        server_ms: int,
        batch_candles: int,
        downloads: int,
        progress: Progress | None,
    ) -> None:
        self.archive, self.warehouse = archive, warehouse
        self.run_id, self.server_ms = run_id, server_ms
        self.batch_candles, self.downloads, self.progress = batch_candles, downloads, progress
        self.batches: dict[tuple[str, str, str], _Batch] = {}
        self.queued: deque[Future[Future[None]]] = deque()  # batches being prepared, written
        # The round's transactions and threads (run).
        self.bulk: BulkWriter
        self.parser: ThreadPoolExecutor
        self.writer: ThreadPoolExecutor

    def run(self, series: list[_Series], min_candles: int) -> None:
        """Load every series' files until each is done or stops at a hole."""
        for s in series:  # a series starting with a hole fills it first
            s.stopped = not s.files or s.files[0].start_ms != s.cursor
        # Left in reverse order: downloads stop, the batches in flight are prepared and
        # written, then the last transaction commits (or, after an error, rolls back).
        with (
            self.warehouse.bulk_writer(COMMIT_CANDLES) as self.bulk,
            ThreadPoolExecutor(1, thread_name_prefix="klines-archive-writer") as self.writer,
            ThreadPoolExecutor(1, thread_name_prefix="klines-archive-parser") as self.parser,
            ThreadPoolExecutor(self.downloads, thread_name_prefix="klines-archive") as pool,
        ):
            for s, f, got in self._download(pool, series, min_candles):
                if s.stopped or f.start_ms != s.cursor:
                    s.stopped = True  # at a range between files: REST fills it first
                    s.ahead[f] = got  # for the next round
                    continue
                if isinstance(got, bytes):
                    self._add(s, f, got)
                    continue
                s.stopped, s.failed = True, f
                if not isinstance(got, ArchiveMissing):
                    s.result.archive_fallbacks += 1
                    log.warning("%s; loading %s %s over REST", got, s.plan.symbol, f.name)
            for key in list(self.batches):
                self._flush(key)
            self._wait(0)

    def _download(
        self, pool: ThreadPoolExecutor, series: list[_Series], min_candles: int
    ) -> Iterator[tuple[_Series, ArchiveFile, bytes | ExchangeError]]:
        """Every series' files with their CSV (or the error they ended with), in time order
        across series, downloaded about one batch ahead. A monthly file not published yet
        is replaced by its days (monthly files come days late)."""
        order = sorted(
            ((s, f) for s in series for f in s.files), key=lambda sf: (sf[1].start_ms, sf[1].path)
        )
        queue = iter(order)
        pending: deque[tuple[_Series, ArchiveFile, Future[bytes | ExchangeError]]] = deque()
        ahead = 0

        def submit(s: _Series, f: ArchiveFile) -> tuple[_Series, ArchiveFile, Future]:
            nonlocal ahead
            ahead += file_candles(f)
            if f in s.ahead:  # downloaded in an earlier round
                done: Future[bytes | ExchangeError] = Future()
                done.set_result(s.ahead.pop(f))
                return s, f, done
            return s, f, pool.submit(self._fetch, f)

        try:
            while True:
                while len(pending) < self.downloads or ahead < self.batch_candles:
                    nxt = next(queue, None)
                    if nxt is None:
                        break
                    if not nxt[0].stopped:
                        pending.append(submit(*nxt))
                if not pending:
                    return
                s, f, future = pending.popleft()
                got = future.result()
                ahead -= file_candles(f)
                if isinstance(got, ArchiveMissing) and f.period == "monthly":
                    days = [d for d in split_month(f) if file_candles(d) >= min_candles]
                    at = s.files.index(f)
                    s.files[at : at + 1] = days
                    pending.extendleft(reversed([submit(s, d) for d in days]))
                    if days:
                        continue
                yield s, f, got
        finally:
            for _, _, future in pending:
                future.cancel()

    def _fetch(self, f: ArchiveFile) -> bytes | ExchangeError:
        try:
            return self.archive.fetch_csv(f)
        except ExchangeError as exc:
            return exc

    def _add(self, s: _Series, f: ArchiveFile, csv: bytes) -> None:
        key = (s.plan.market, s.plan.kind, s.plan.interval)
        batch = self.batches.setdefault(key, _Batch())
        batch.files.append((s, f, csv))
        batch.candles += file_candles(f)
        s.cursor = f.end_ms
        s.result.archive_files += 1
        idle = all(done.done() for done in self.queued)
        if batch.candles >= (MIN_BATCH_CANDLES if idle else self.batch_candles):
            self._flush(key)

    def _flush(self, key: tuple[str, str, str]) -> None:
        """Queue one batch: parsed and validated on the parser thread, then written on the
        writer thread, each in order; at most one more batch waits behind the two."""
        batch = self.batches.pop(key)
        if batch.files:
            self._wait(1)
            self.queued.append(self.parser.submit(self._prepare, key, batch))

    def _wait(self, most: int) -> None:
        """Until at most ``most`` batches are queued (their errors are raised here)."""
        while len(self.queued) > most:
            self.queued.popleft().result().result()  # prepared, then written

    def _prepare(self, key: tuple[str, str, str], batch: _Batch) -> Future[None]:
        """Parse and validate a batch, then hand it to the writer (on the parser thread)."""
        market, kind, interval = key
        members = list(dict.fromkeys(s for s, _, _ in batch.files))  # the batch's series
        number = {s: k for k, s in enumerate(members)}
        batch.files.sort(key=lambda file: number[file[0]])  # each series' rows together
        csvs = [csv for _, _, csv in batch.files]
        of_file = np.array([number[s] for s, _, _ in batch.files], dtype="int64")
        parsed = parse_csv(csvs)
        which = of_file[parsed["page"].to_numpy(dtype="int64")]
        close = parsed["close_time_ms"].to_numpy(dtype="float64", na_value=-1.0)
        is_open = close >= self.server_ms  # files hold finished days; the rule still applies
        fetched = np.bincount(which, minlength=len(members))
        skipped = np.bincount(which[is_open], minlength=len(members))
        for k, s in enumerate(members):
            s.result.fetched += int(fetched[k])
            s.result.from_archive += int(fetched[k])
            s.result.open_skipped += int(skipped[k])
        closed = parsed[~is_open].assign(series=pd.array(which[~is_open], "int64[pyarrow]"))
        checked = validate_batch(closed, interval, kind)
        rejects = [
            {**r, "series": int(of_file[r["page"]])}
            for r in reject_rows(checked.rejected, lambda page, row: raw_csv_row(csvs, page, row))
        ]
        spans = [
            BatchSeries(
                s.plan.symbol,
                interval,
                (
                    min(f.start_ms for t, f, _ in batch.files if t is s),
                    max(f.end_ms for t, f, _ in batch.files if t is s),
                ),
            )
            for s in members
        ]
        return self.writer.submit(self._write, market, kind, members, spans, checked.valid, rejects)

    def _write(
        self,
        market: str,
        kind: str,
        members: list[_Series],
        spans: list[BatchSeries],
        valid: pd.DataFrame,
        rejects: list[dict[str, object]],
    ) -> None:
        written = self.bulk.write_series(
            market=market,
            series=spans,
            valid=valid,
            rejected=rejects,
            source="archive",
            run_id=self.run_id,
            kind=kind,
        )
        for s, span, w in zip(members, spans, written, strict=True):
            s.result.inserted += w.inserted
            s.result.updated += w.updated
            s.result.rejected += w.rejected
            if self.progress is not None and span.expected is not None:
                self.progress(Interval.parse(span.interval).count(*span.expected))
        if rejects:
            log.warning(
                "%d archive rows rejected (kept in klines_rejected), e.g. %s",
                len(rejects),
                rejects[0]["failed_checks"],
            )
