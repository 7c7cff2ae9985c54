"""Candles in the warehouse: writing batches, their revisions, rejects and gap ledger;
reading what is stored.

A batch is one transaction: its candles (a plain insert where its range holds nothing yet,
else merged candle by candle, old values of a changed candle kept in ``klines_revisions``),
its rejected rows (``klines_rejected``, exactly as received) and the gap ledger of the range
it was fetched for (``klines_gaps``), so data and ledger never disagree after a crash.
Every method takes the ``kind`` of candle (default ``trade``); the kind's table
(:func:`warehouse.schema.table_of`: ``klines`` or ``price_klines``) holds its candles, and
its ledger, revisions and rejects carry its name. The statements are in
:mod:`warehouse.upsert`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from exchange.intervals import Interval
from exchange.markets import DEFAULT_KIND

from .connection import WarehouseFile
from .files import transaction
from .gaps import (
    Gap,
    LedgerRange,
    find_missing,
    load_gaps,
    missing_runs,
    replace_gaps,
    replace_ledger,
)
from .schema import KlineTable, table_of
from .upsert import insert_or_merge, quarantine, stored_series


@dataclass(frozen=True)
class WriteResult:
    """What one batch did to one series: candles inserted, updated, rows rejected."""

    inserted: int
    updated: int
    rejected: int


@dataclass(frozen=True)
class BatchSeries:
    """One series of a batch written by :meth:`BulkWriter.write_series`; ``expected`` is
    the open-time range it was fetched for (its gap ledger is rewritten), if any."""

    symbol: str
    interval: str
    expected: tuple[int, int] | None = None


class Candles(WarehouseFile):
    """The candle tables of a warehouse file (mixed into :class:`warehouse.store.Warehouse`)."""

    # -- reads --------------------------------------------------------------------

    def stored_bounds(
        self, market: str, series: Sequence[tuple[str, str]], kind: str = DEFAULT_KIND
    ) -> dict[tuple[str, str], tuple[int, int] | None]:
        """Oldest and newest stored ``open_time`` (epoch ms) per (symbol, interval) of
        ``kind``.

        The newest is the watermark a run resumes after; it is derived from the data,
        so there is no state file to drift.
        """
        result: dict[tuple[str, str], tuple[int, int] | None] = dict.fromkeys(series)
        if not self.path.exists() or not series:
            return result
        table = table_of(kind)
        where, params = _series_filter(table, market, kind)
        with self.connect() as con:
            rows = con.execute(
                "SELECT symbol, interval, epoch_ms(min(open_time)), epoch_ms(max(open_time)) "
                f"FROM {table.name} WHERE {where} GROUP BY symbol, interval",
                params,
            ).fetchall()
        for symbol, interval, oldest, newest in rows:
            if (symbol, interval) in result:
                result[(symbol, interval)] = (int(oldest), int(newest))
        return result

    def completeness(
        self, market: str, ranges: Sequence[tuple[str, str, int, int]], kind: str = DEFAULT_KIND
    ) -> list[dict[str, Any]]:
        """Per (symbol, interval, start, end) of ``kind``: candles expected, present,
        missing by cause."""
        if not ranges:
            return []
        table = table_of(kind)
        wanted = pa.table(  # one query for every range
            {
                "i": list(range(len(ranges))),
                "market": [market] * len(ranges),
                "kind": [kind] * len(ranges),
                "symbol": [r[0] for r in ranges],
                "interval": [r[1] for r in ranges],
                "lo": [r[2] for r in ranges],
                "hi": [r[3] for r in ranges],
            }
        )
        with self.connect() as con:
            con.register("wanted", wanted)
            try:
                match = " AND ".join(f"k.{c} = w.{c}" for c in table.series_keys)
                present = dict(
                    con.execute(
                        f"""SELECT w.i, count(k.open_time) FROM wanted w
                        LEFT JOIN {table.name} k ON {match}
                        AND k.open_time >= epoch_ms(w.lo) AT TIME ZONE 'UTC'
                        AND k.open_time < epoch_ms(w.hi) AT TIME ZONE 'UTC'
                        GROUP BY w.i"""
                    ).fetchall()
                )
                missing = con.execute(
                    """SELECT w.i, g.cause, sum(g.missing)::BIGINT FROM wanted w JOIN klines_gaps g
                    ON g.market = w.market AND g.kind = w.kind AND g.symbol = w.symbol
                    AND g.interval = w.interval
                    AND g.gap_start < epoch_ms(w.hi) AT TIME ZONE 'UTC'
                    AND g.gap_end > epoch_ms(w.lo) AT TIME ZONE 'UTC'
                    GROUP BY w.i, g.cause ORDER BY w.i, g.cause"""
                ).fetchall()
            finally:
                con.unregister("wanted")
        rows = []
        for i, (symbol, interval, start_ms, end_ms) in enumerate(ranges):
            iv = Interval.parse(interval)
            rows.append(
                {
                    "symbol": symbol,
                    "interval": interval,
                    "expected": iv.count(iv.ceil(start_ms), end_ms),
                    "present": int(present.get(i, 0)),
                }
            )
        for i, cause, n in missing:
            rows[i][f"missing_{cause}"] = int(n)
        return rows

    # -- writes -------------------------------------------------------------------

    def write_batch(
        self,
        *,
        market: str,
        symbol: str,
        interval: str,
        valid: pd.DataFrame,
        rejected: Sequence[dict[str, Any]],
        source: str,
        run_id: str,
        expected: tuple[int, int] | None = None,
        kind: str = DEFAULT_KIND,
    ) -> WriteResult:
        """Upsert one validated batch of ``kind`` candles and quarantine its rejects, in one
        transaction.

        Unchanged candles are left as they are (same ``ingested_at`` and ``run_id``);
        a candle whose values changed is updated and its old values are copied to
        ``klines_revisions``. With ``expected`` (the open-time range the batch was fetched
        for), the gap ledger for that range is rewritten in the same transaction, so data
        and ledger never disagree after a crash.
        """
        with self.bulk_writer(commit_candles=0) as writer:
            (result,) = writer.write_series(
                market=market,
                series=[BatchSeries(symbol, interval, expected)],
                valid=valid.assign(series=0),
                rejected=[{**r, "series": 0} for r in rejected],
                source=source,
                run_id=run_id,
                kind=kind,
            )
        return result

    @contextmanager
    def bulk_writer(self, commit_candles: int) -> Iterator[BulkWriter]:
        """A writer of batches of several series (:meth:`BulkWriter.write_series`) that share
        transactions of at least ``commit_candles`` candles (0: a transaction each). A commit
        costs a pass over the primary key's index, so a few large ones are cheaper than many
        small ones. Everything is committed when the block ends, and rolled back if it
        raises; a crash loses only the batches since the last commit (a rerun loads them
        again)."""
        with self.connect() as con:
            writer = BulkWriter(con, commit_candles)
            try:
                yield writer
            except BaseException:
                writer.rollback()
                raise
            writer.commit()

    def record_gaps(
        self,
        *,
        market: str,
        symbol: str,
        interval: str,
        start_ms: int,
        end_ms: int,
        gaps: Sequence[Gap],
        run_id: str,
        kind: str = DEFAULT_KIND,
    ) -> None:
        """Set the ledger rows of ``kind`` starting in ``[start_ms, end_ms)`` to ``gaps``
        (one transaction)."""
        with self.connect() as con, transaction(con):
            replace_gaps(
                con,
                market=market,
                symbol=symbol,
                interval=interval,
                start_ms=start_ms,
                end_ms=end_ms,
                gaps=gaps,
                run_id=run_id,
                kind=kind,
            )

    def gaps(
        self, market: str, series: Sequence[tuple[str, str]], kind: str = DEFAULT_KIND
    ) -> dict[tuple[str, str], list[Gap]]:
        """The ledger rows of each series of ``kind`` (empty when the file does not exist
        yet)."""
        result: dict[tuple[str, str], list[Gap]] = {key: [] for key in series}
        if not self.path.exists():
            return result
        with self.connect() as con:
            for symbol, interval in series:
                result[(symbol, interval)] = load_gaps(con, market, symbol, interval, kind)
        return result


def _series_filter(table: KlineTable, market: str, kind: str) -> tuple[str, list[str]]:
    """The WHERE clause (and its parameters) selecting one market's ``kind`` candles."""
    key = {"market": market, "kind": kind}
    names = [c for c in table.series_keys if c in key]
    return " AND ".join(f"{c} = ?" for c in names), [key[c] for c in names]


class BulkWriter:
    """Writes batches into open transactions, committing every ``commit_candles`` or so
    (:meth:`Candles.bulk_writer`)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, commit_candles: int) -> None:
        self._con = con
        self._commit_candles = commit_candles
        self._pending = 0  # candles written since the last commit
        self._open = False

    def write_series(
        self,
        *,
        market: str,
        series: Sequence[BatchSeries],
        valid: pd.DataFrame,
        rejected: Sequence[dict[str, Any]],
        source: str,
        run_id: str,
        kind: str = DEFAULT_KIND,
    ) -> list[WriteResult]:
        """:meth:`Candles.write_batch` for several series (all of ``kind``) in a few
        statements, inside this writer's transaction.

        ``valid["series"]`` and each reject's ``"series"`` are indexes into ``series``.
        A series with nothing stored in its range (a backfill, a new tail) gets a plain
        insert; the others are merged candle by candle.
        """
        if not self._open:
            self._con.execute("BEGIN TRANSACTION")
            self._open = True
        try:
            written = _write_series(
                self._con, market, series, valid, rejected, source, run_id, kind
            )
        except BaseException:
            self.rollback()
            raise
        self._pending += len(valid)
        if self._pending >= self._commit_candles:
            self.commit()
        return written

    def commit(self) -> None:
        if self._open:
            self._open, self._pending = False, 0
            self._con.execute("COMMIT")

    def rollback(self) -> None:
        if self._open:
            self._open, self._pending = False, 0
            try:
                self._con.execute("ROLLBACK")
            except duckdb.TransactionException:  # a failed COMMIT has rolled back already
                pass


def _write_series(
    con: duckdb.DuckDBPyConnection,
    market: str,
    series: Sequence[BatchSeries],
    valid: pd.DataFrame,
    rejected: Sequence[dict[str, Any]],
    source: str,
    run_id: str,
    kind: str,
) -> list[WriteResult]:
    """The statements of :meth:`BulkWriter.write_series`, inside the caller's transaction."""
    table = table_of(kind)
    columns = ["series", "open_time_ms", *table.values, "close_time_ms"]
    staged = pa.Table.from_pandas(valid[columns], preserve_index=False)
    which = valid["series"].to_numpy(dtype="int64")
    opens = valid["open_time_ms"].to_numpy(dtype="int64")
    firsts = dict(zip(*np.unique(which, return_index=True), strict=True))
    counts = np.bincount(which, minlength=len(series)) if len(which) else [0] * len(series)
    spans = []
    for i, s in enumerate(series):  # the fetched range and every row of the batch
        bounds = list(s.expected or ())
        if counts[i]:
            first = int(firsts[i])
            bounds += [int(opens[first]), int(opens[first + counts[i] - 1]) + 1]
        spans.append((min(bounds), max(bounds)) if bounds else (0, 0))
    names = [
        {"market": market, "kind": kind, "symbol": s.symbol, "interval": s.interval} for s in series
    ]
    keys = pa.table(
        {
            "series": pa.array(range(len(series)), pa.int64()),
            **{c: pa.array([n[c] for n in names], pa.string()) for c in names[0]},
            "lo": pa.array([lo for lo, _ in spans], pa.int64()),
            "hi": pa.array([hi for _, hi in spans], pa.int64()),
        }
    )
    con.register("staged_all", staged)
    con.register("batch_series", keys)
    try:
        merged = stored_series(con, table, spans)
        inserted, updated = insert_or_merge(
            con, table, names, staged, counts, merged, source, run_id
        )
        if rejected:
            quarantine(con, names, rejected, source, run_id)
        ledger = [
            _ledger_range(
                con,
                market,
                kind,
                s,
                None if i in merged else opens[which == i],
                [r["open_time_ms"] for r in rejected
                 if r["series"] == i and r["open_time_ms"] is not None],
            )
            for i, s in enumerate(series)
            if s.expected is not None
        ]  # fmt: skip
        if ledger:
            replace_ledger(con, ledger, run_id)
    finally:
        con.unregister("staged_all")
        con.unregister("batch_series")
    rejects = np.bincount([r["series"] for r in rejected], minlength=len(series))
    return [WriteResult(inserted[i], updated[i], int(rejects[i])) for i in range(len(series))]


def _ledger_range(
    con: duckdb.DuckDBPyConnection,
    market: str,
    kind: str,
    s: BatchSeries,
    stored: np.ndarray | None,
    rejected_opens: list[int],
) -> LedgerRange:
    """The ledger of ``s``'s fetched range: every grid point without a stored candle.

    ``stored`` is the range's stored open times when known (after a plain insert, the
    batch's), else they are read back.
    """
    assert s.expected is not None
    iv = Interval.parse(s.interval)
    runs = (
        find_missing(con, market, s.symbol, iv, *s.expected, kind=kind)
        if stored is None
        else missing_runs(stored, iv, *s.expected)
    )
    gaps = [
        Gap(
            lo,
            hi,
            n,
            "rejected" if any(lo <= t < hi for t in rejected_opens) else "exchange_empty",
        )
        for lo, hi, n in runs
    ]
    return LedgerRange(market, s.symbol, s.interval, *s.expected, gaps, kind)
