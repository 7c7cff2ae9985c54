"""Candles in the warehouse: writing batches, their revisions, rejects and gap ledger;
reading what is stored.

A batch is one transaction: its candles (a plain insert where its range holds nothing yet,
else merged candle by candle, old values of a changed candle kept in ``klines_revisions``),
its rejected rows (``klines_rejected``, exactly as received) and the gap ledger of the range
it was fetched for (``klines_gaps``), so data and ledger never disagree after a crash.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from exchange.intervals import Interval

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
from .schema import VALUE_COLUMNS

_UPDATED_COLUMNS = (*VALUE_COLUMNS, "close_time")


@dataclass(frozen=True)
class WriteResult:
    """What one batch did to one series: candles inserted, updated, rows rejected."""

    inserted: int
    updated: int
    rejected: int


@dataclass(frozen=True)
class BatchSeries:
    """One series of a batch written by :meth:`Warehouse.write_series`; ``expected`` is
    the open-time range it was fetched for (its gap ledger is rewritten), if any."""

    symbol: str
    interval: str
    expected: tuple[int, int] | None = None


class Candles(WarehouseFile):
    """The candle tables of a warehouse file (mixed into :class:`warehouse.store.Warehouse`)."""

    # -- reads --------------------------------------------------------------------

    def stored_bounds(
        self, market: str, series: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[int, int] | None]:
        """Oldest and newest stored ``open_time`` (epoch ms) per (symbol, interval).

        The newest is the watermark a run resumes after; it is derived from the data,
        so there is no state file to drift.
        """
        result: dict[tuple[str, str], tuple[int, int] | None] = dict.fromkeys(series)
        if not self.path.exists() or not series:
            return result
        with self.connect() as con:
            rows = con.execute(
                "SELECT symbol, interval, epoch_ms(min(open_time)), epoch_ms(max(open_time)) "
                "FROM klines WHERE market = ? GROUP BY symbol, interval",
                [market],
            ).fetchall()
        for symbol, interval, oldest, newest in rows:
            if (symbol, interval) in result:
                result[(symbol, interval)] = (int(oldest), int(newest))
        return result

    def completeness(
        self, market: str, ranges: Sequence[tuple[str, str, int, int]]
    ) -> list[dict[str, Any]]:
        """Per (symbol, interval, start, end): candles expected, present, missing by cause."""
        if not ranges:
            return []
        wanted = pa.table(  # one query for every range
            {
                "i": list(range(len(ranges))),
                "symbol": [r[0] for r in ranges],
                "interval": [r[1] for r in ranges],
                "lo": [r[2] for r in ranges],
                "hi": [r[3] for r in ranges],
            }
        )
        with self.connect() as con:
            con.register("wanted", wanted)
            try:
                present = dict(
                    con.execute(
                        """SELECT w.i, count(k.open_time) FROM wanted w LEFT JOIN klines k
                        ON k.market = ? AND k.symbol = w.symbol AND k.interval = w.interval
                        AND k.open_time >= epoch_ms(w.lo) AT TIME ZONE 'UTC'
                        AND k.open_time < epoch_ms(w.hi) AT TIME ZONE 'UTC'
                        GROUP BY w.i""",
                        [market],
                    ).fetchall()
                )
                missing = con.execute(
                    """SELECT w.i, g.cause, sum(g.missing)::BIGINT FROM wanted w JOIN klines_gaps g
                    ON g.market = ? AND g.symbol = w.symbol AND g.interval = w.interval
                    AND g.gap_start < epoch_ms(w.hi) AT TIME ZONE 'UTC'
                    AND g.gap_end > epoch_ms(w.lo) AT TIME ZONE 'UTC'
                    GROUP BY w.i, g.cause ORDER BY w.i, g.cause""",
                    [market],
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
    ) -> WriteResult:
        """Upsert one validated batch and quarantine its rejects, in one transaction.

        Unchanged candles are left as they are (same ``ingested_at`` and ``run_id``);
        a candle whose values changed is updated and its old values are copied to
        ``klines_revisions``. With ``expected`` (the open-time range the batch was fetched
        for), the gap ledger for that range is rewritten in the same transaction, so data
        and ledger never disagree after a crash.
        """
        (result,) = self.write_series(
            market=market,
            series=[BatchSeries(symbol, interval, expected)],
            valid=valid.assign(series=0),
            rejected=[{**r, "series": 0} for r in rejected],
            source=source,
            run_id=run_id,
        )
        return result

    def write_series(
        self,
        *,
        market: str,
        series: Sequence[BatchSeries],
        valid: pd.DataFrame,
        rejected: Sequence[dict[str, Any]],
        source: str,
        run_id: str,
    ) -> list[WriteResult]:
        """:meth:`write_batch` for several series in one transaction and a few statements.

        ``valid["series"]`` and each reject's ``"series"`` are indexes into ``series``.
        A series with nothing stored in its range (a backfill, a new tail) gets a plain
        insert; the others are merged candle by candle.
        """
        columns = ["series", "open_time_ms", *VALUE_COLUMNS, "close_time_ms"]
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
        keys = pa.table(
            {
                "series": pa.array(range(len(series)), pa.int64()),
                "market": [market] * len(series),
                "symbol": [s.symbol for s in series],
                "interval": [s.interval for s in series],
                "lo": pa.array([lo for lo, _ in spans], pa.int64()),
                "hi": pa.array([hi for _, hi in spans], pa.int64()),
            }
        )
        with self.connect() as con:
            con.register("staged_all", staged)
            con.register("batch_series", keys)
            try:
                with transaction(con):
                    merged = _series_with_stored_candles(con, spans)
                    inserted, updated = _insert_or_merge(
                        con, market, series, staged, counts, merged, source, run_id
                    )
                    if rejected:
                        _quarantine(con, market, series, rejected, source, run_id)
                    ledger = [
                        self._ledger_range(
                            con,
                            market,
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

    @staticmethod
    def _ledger_range(
        con: duckdb.DuckDBPyConnection,
        market: str,
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
            find_missing(con, market, s.symbol, iv, *s.expected)
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
        return LedgerRange(market, s.symbol, s.interval, *s.expected, gaps)

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
    ) -> None:
        """Set the ledger rows starting in ``[start_ms, end_ms)`` to ``gaps`` (one transaction)."""
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
            )

    def gaps(
        self, market: str, series: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], list[Gap]]:
        """The ledger rows of each series (empty when the file does not exist yet)."""
        result: dict[tuple[str, str], list[Gap]] = {key: [] for key in series}
        if not self.path.exists():
            return result
        with self.connect() as con:
            for symbol, interval in series:
                result[(symbol, interval)] = load_gaps(con, market, symbol, interval)
        return result


# Epoch ms → TIMESTAMPTZ per row: make_timestamptz(µs) is arithmetic, about 25× cheaper
# than ``epoch_ms(x) AT TIME ZONE 'UTC'`` (an ICU conversion), which the bulk paths notice.
_STAGED_COLUMNS = f"""?::VARCHAR AS market, ?::VARCHAR AS symbol, ?::VARCHAR AS interval,
       make_timestamptz(open_time_ms * 1000) AS open_time,
       {", ".join(VALUE_COLUMNS)},
       make_timestamptz(close_time_ms * 1000) AS close_time"""
_INSERT_NEW_SERIES = f"""INSERT INTO klines BY NAME
SELECT b.market, b.symbol, b.interval,
       make_timestamptz(s.open_time_ms * 1000) AS open_time,
       {", ".join(f"s.{c}" for c in VALUE_COLUMNS)},
       make_timestamptz(s.close_time_ms * 1000) AS close_time,
       ?::VARCHAR AS source, now() AS ingested_at, ?::VARCHAR AS run_id
FROM staged_all s JOIN batch_series b USING (series)
WHERE NOT list_contains(?::BIGINT[], s.series)"""
_DIFFERS = " OR ".join(f"k.{c} IS DISTINCT FROM s.{c}" for c in _UPDATED_COLUMNS)


def _series_with_stored_candles(
    con: duckdb.DuckDBPyConnection, spans: list[tuple[int, int]]
) -> set[int]:
    """Series of ``batch_series`` with a stored candle opening in their ``[lo, hi)``."""
    lows = [lo for lo, hi in spans if hi > lo]
    if not lows:
        return set()
    rows = con.execute(
        """SELECT DISTINCT b.series FROM batch_series b JOIN klines k
        ON k.market = b.market AND k.symbol = b.symbol AND k.interval = b.interval
        AND k.open_time >= epoch_ms(b.lo) AT TIME ZONE 'UTC'
        AND k.open_time < epoch_ms(b.hi) AT TIME ZONE 'UTC'
        WHERE k.open_time >= epoch_ms(?::BIGINT) AT TIME ZONE 'UTC'""",
        [min(lows)],
    ).fetchall()
    return {int(i) for (i,) in rows}


def _insert_or_merge(
    con: duckdb.DuckDBPyConnection,
    market: str,
    series: Sequence[BatchSeries],
    staged: pa.Table,
    counts: Sequence[int],
    merged: set[int],
    source: str,
    run_id: str,
) -> tuple[list[int], list[int]]:
    """Write the candles of ``staged_all``: one plain insert for every series outside
    ``merged`` (nothing stored in its range), a merge per series in it; candles inserted
    and updated per series."""
    con.execute(_INSERT_NEW_SERIES, [source, run_id, sorted(merged)])
    inserted = [0 if i in merged else int(c) for i, c in enumerate(counts)]
    updated = [0] * len(series)
    for i in sorted(merged):
        con.register("staged", staged.filter(pc.equal(staged["series"], i)))
        s = series[i]
        inserted[i], updated[i] = _upsert_staged(
            con, [market, s.symbol, s.interval], source, run_id
        )
        con.unregister("staged")
    return inserted, updated


def _quarantine(
    con: duckdb.DuckDBPyConnection,
    market: str,
    series: Sequence[BatchSeries],
    rejected: Sequence[dict[str, Any]],
    source: str,
    run_id: str,
) -> None:
    """Keep rejected rows, exactly as received, in ``klines_rejected``."""
    rejects = pd.DataFrame(  # noqa: F841 - read by the statement below
        {
            "symbol": [series[r["series"]].symbol for r in rejected],
            "interval": [series[r["series"]].interval for r in rejected],
            "open_time_ms": pd.array([r["open_time_ms"] for r in rejected], dtype="Int64"),
            "raw": [r["raw"] for r in rejected],
            "failed_checks": [list(r["failed_checks"]) for r in rejected],
        }
    )
    con.execute(
        """INSERT INTO klines_rejected
        SELECT ?, symbol, interval, open_time_ms, raw, failed_checks, ?, ?, now() FROM rejects""",
        [market, source, run_id],
    )


def _upsert_staged(
    con: duckdb.DuckDBPyConnection, key: list[str], source: str, run_id: str
) -> tuple[int, int]:
    """Merge ``staged`` into a range that already holds candles: (inserted, updated).

    Unchanged candles are left alone; a changed one is copied to ``klines_revisions``
    and updated; new keys go in as a plain insert (no conflict path).
    """
    con.execute(f"CREATE OR REPLACE TEMP TABLE stg AS SELECT {_STAGED_COLUMNS} FROM staged", key)
    updated = _count(
        con,
        f"""INSERT INTO klines_revisions
        SELECT k.market, k.symbol, k.interval, k.open_time,
               k.open, k.high, k.low, k.close, k.volume, k.close_time,
               k.quote_volume, k.trades, k.taker_buy_base_volume, k.taker_buy_quote_volume,
               k.source, k.ingested_at, k.run_id, now(), ?
        FROM klines k JOIN stg s USING (market, symbol, interval, open_time)
        WHERE {_DIFFERS}""",
        [run_id],
    )
    if updated:
        sets = ", ".join(
            f"{c} = s.{c}" for c in (*_UPDATED_COLUMNS, "source", "ingested_at", "run_id")
        )
        con.execute(
            f"""UPDATE klines AS k SET {sets}
            FROM (SELECT *, ?::VARCHAR AS source, now() AS ingested_at,
                         ?::VARCHAR AS run_id FROM stg) s
            WHERE k.market = s.market AND k.symbol = s.symbol
              AND k.interval = s.interval AND k.open_time = s.open_time
              AND ({_DIFFERS})""",
            [source, run_id],
        )
    inserted = _count(
        con,
        """INSERT INTO klines BY NAME
        SELECT s.*, ?::VARCHAR AS source, now() AS ingested_at, ?::VARCHAR AS run_id
        FROM stg s ANTI JOIN klines k USING (market, symbol, interval, open_time)""",
        [source, run_id],
    )
    con.execute("DROP TABLE stg")
    return inserted, updated


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> int:
    row = con.execute(sql, params or []).fetchone()
    return int(row[0]) if row else 0
