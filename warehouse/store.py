"""The DuckDB warehouse: connections, sessions, writes and the run log.

Writes are short: one transaction per batch, and the file is open only while
writing. Outside a :meth:`Warehouse.session` every write opens and closes it;
inside one (a flow run), back-to-back writes share one connection that is
closed once writes pause for ``idle_s`` or after ``max_hold_s`` of holding it, so
the lock DuckDB puts on the file is still released between bursts. When another
process holds it (a second ingest, an analyst's session) the writer waits and
retries with a log line instead of failing at once.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from exchange.intervals import Interval

from . import holder as _holder
from .files import check_path as check_path  # re-exported: the flows check paths here
from .files import open_duckdb
from .gaps import (
    Gap,
    LedgerRange,
    find_missing,
    load_gaps,
    missing_runs,
    replace_gaps,
    replace_ledger,
)
from .migrations import apply_migrations
from .schema import VALUE_COLUMNS

log = logging.getLogger("klines.warehouse")

_KEY = ("market", "symbol", "interval", "open_time")
_UPDATED_COLUMNS = (*VALUE_COLUMNS, "close_time")
_HANDLES: dict[str, _FileHandle] = {}
_HANDLES_GUARD = threading.Lock()
# A session keeps the connection while writes follow each other closely, and lets the
# file go when they pause (idle) or after holding it this long, for at least
# RELEASE_GAP_S, so that a process polling for the lock (every POLL_MAX_S) gets in.
IDLE_S, MAX_HOLD_S, RELEASE_GAP_S = 0.25, 5.0, 0.4


@dataclass(frozen=True)
class WriteResult:
    inserted: int
    updated: int
    rejected: int


class _FileHandle:
    """This process's access to one database file.

    Outside a session, writers take turns (``lock``), each opening and closing the file.
    While a session is open, the file stays open in one connection and every user gets a
    cursor of it: their transactions run side by side, as DuckDB allows within a process.
    The connection is closed when no cursor has been used for ``idle_s``, and after
    ``max_hold_s`` new users wait until the current ones finish, the file is let go for
    ``RELEASE_GAP_S``, and then reopened.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.RLock()
        self._state = threading.Condition()
        self.sessions = 0
        self._idle_s, self._max_hold_s = IDLE_S, MAX_HOLD_S
        self._con: duckdb.DuckDBPyConnection | None = None
        self._opened_at = self._used_at = 0.0
        self._released_at = float("-inf")
        self._closer: threading.Thread | None = None
        self._borrowed = 0
        self._mine = threading.local()  # cursors the current thread holds (nested use)

    def enter(self, idle_s: float, max_hold_s: float) -> None:
        with self._state:
            self.sessions += 1
            self._idle_s, self._max_hold_s = idle_s, max_hold_s

    def leave(self) -> None:
        with self._state:
            self.sessions -= 1
            if not self.sessions:
                self._state.wait_for(lambda: not self._borrowed)
                self._close()

    def borrow(
        self, open_: Callable[[], duckdb.DuckDBPyConnection]
    ) -> duckdb.DuckDBPyConnection | None:
        """A cursor of the session's connection (opened if needed); ``None`` outside one."""
        with self._state:
            if not self.sessions:
                return None
            nested = getattr(self._mine, "cursors", 0) > 0
            held = time.monotonic() - self._opened_at
            if self._con is not None and held >= self._max_hold_s and not nested:
                # Held long enough: let the users finish, then let go for a moment.
                self._state.wait_for(lambda: not self._borrowed)
                if self._con is not None:
                    self._close()
                    self._released_at = time.monotonic()
            if self._con is None:
                gap = self._released_at + RELEASE_GAP_S - time.monotonic()
                if gap > 0:
                    time.sleep(gap)
                self._con = open_()
                self._opened_at = time.monotonic()
                if self._closer is None:
                    self._closer = threading.Thread(
                        target=self._close_when_idle, name="klines-warehouse-closer", daemon=True
                    )
                    self._closer.start()
            cursor = self._con.cursor()
            self._borrowed += 1
            self._mine.cursors = getattr(self._mine, "cursors", 0) + 1
        try:
            cursor.execute("SET TimeZone = 'UTC'")
        except BaseException:
            self.give_back(cursor)
            raise
        return cursor

    def give_back(self, cursor: duckdb.DuckDBPyConnection) -> None:
        """After a use: close the cursor, note the time, let go of a file held too long."""
        cursor.close()
        self._mine.cursors -= 1
        with self._state:
            self._borrowed -= 1
            self._used_at = time.monotonic()
            if not self._borrowed and self._used_at - self._opened_at >= self._max_hold_s:
                self._close()
                self._released_at = self._used_at
            self._state.notify_all()

    def _close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
            _holder.release(self.path)

    def _close_when_idle(self) -> None:
        with self._state:
            while True:
                now = time.monotonic()
                if self._con is not None and not self._borrowed:
                    if now - self._used_at >= self._idle_s:
                        self._close()
                if self._con is None:
                    self._closer = None
                    return
                self._state.wait(max(0.005, self._used_at + self._idle_s - now))


class Warehouse:
    """A DuckDB file of klines.

    Args:
        path: the database file; created with its folder on the first write.
        lock_timeout: seconds to keep retrying while another process holds the file.
    """

    def __init__(
        self, path: str | os.PathLike[str], lock_timeout: float = 120.0, holder: str | None = None
    ) -> None:
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        self.holder = holder or _holder.command_line()
        key = self.path.resolve()
        with _HANDLES_GUARD:
            if str(key) not in _HANDLES:
                _HANDLES[str(key)] = _FileHandle(key)
            self._handle = _HANDLES[str(key)]

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        # Another process (a Dask worker) gets its own in-process write lock.
        return (Warehouse, (str(self.path.resolve()), self.lock_timeout, self.holder))

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection in UTC; a writable one has every migration applied.

        Outside a :meth:`session` a writable connection is used by one thread at a time in
        this process; inside one, every connection (read-only ones too) is a cursor of the
        session's, and writers run side by side.
        """
        handle = self._handle
        if read_only and not handle.sessions:
            con = self._open(read_only=True)
            try:
                yield con
            finally:
                self._close(con)
            return
        cursor = handle.borrow(self._open_session) if handle.sessions else None
        if cursor is not None:
            try:
                yield cursor
            finally:
                handle.give_back(cursor)
            return
        with handle.lock:
            con = self._open_writable()
            try:
                yield con
            finally:
                self._close(con)

    @contextmanager
    def session(
        self, idle_s: float = IDLE_S, max_hold_s: float = MAX_HOLD_S
    ) -> Iterator[Warehouse]:
        """Share one connection among this process's writes until the block ends.

        Many small writes (an incremental run over 100 series) then cost a transaction
        each instead of an open, a transaction and a close (a checkpoint). The file is
        still let go whenever writes pause for ``idle_s`` and at least every ``max_hold_s``.
        """
        self._handle.enter(idle_s, max_hold_s)
        try:
            yield self
        finally:
            self._handle.leave()

    def _open_writable(self) -> duckdb.DuckDBPyConnection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = self._open(read_only=False)
        try:
            apply_migrations(con)
        except BaseException:
            self._close(con)
            raise
        return con

    def _open_session(self) -> duckdb.DuckDBPyConnection:
        """The session's connection, with one DuckDB thread: a run already writes several
        series side by side and parses beside them, so a second thread per statement only
        contends (the INSERT of 86,400 candles took 1.5× as long with two on two cores)."""
        con = self._open_writable()
        con.execute("SET threads = 1")
        return con

    def _close(self, con: duckdb.DuckDBPyConnection) -> None:
        con.close()
        _holder.release(self.path)

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        return open_duckdb(self.path, read_only, self.lock_timeout, holder=self.holder)

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
        inserted = [0] * len(series)
        updated = [0] * len(series)
        with self.connect() as con:
            con.register("staged_all", staged)
            con.register("batch_series", keys)
            con.execute("BEGIN TRANSACTION")
            try:
                merged = _series_with_stored_candles(con, spans)
                con.execute(_INSERT_NEW_SERIES, [source, run_id, sorted(merged)])
                for i, c in enumerate(counts):
                    if i not in merged:
                        inserted[i] = int(c)
                for i in sorted(merged):
                    con.register("staged", staged.filter(pc.equal(staged["series"], i)))
                    s = series[i]
                    inserted[i], updated[i] = _upsert_staged(
                        con, [market, s.symbol, s.interval], source, run_id
                    )
                    con.unregister("staged")
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
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
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
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
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
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

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

    def record_ban(self, base_url: str, until_epoch_ms: int, detail: str) -> None:
        """Remember a 418 ban so that runs started during it send nothing."""
        with self.connect() as con:
            con.execute(
                "INSERT INTO rate_limit_bans VALUES (?, epoch_ms(?::BIGINT) AT TIME ZONE 'UTC', now(), ?)",
                [base_url, until_epoch_ms, detail],
            )

    def active_ban_ms(self, base_url: str, now_epoch_ms: int) -> int | None:
        """End (local epoch ms) of a remembered ban on ``base_url`` still in force, if any."""
        if not self.path.exists():
            return None
        with self.connect() as con:
            row = con.execute(
                "SELECT epoch_ms(max(banned_until)) FROM rate_limit_bans WHERE base_url = ?",
                [base_url],
            ).fetchone()
        until = row[0] if row else None
        return int(until) if until is not None and until > now_epoch_ms else None

    def record_run(self, run: dict[str, Any], series: Sequence[dict[str, Any]]) -> None:
        """Append one run and its per-series summary to the run log."""
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            con.execute(
                "INSERT INTO ingest_runs BY NAME SELECT * FROM (SELECT "
                + ", ".join(f"?::{_sql_type(v)} AS {k}" for k, v in run.items())
                + ")",
                list(run.values()),
            )
            for row in series:
                con.execute(
                    "INSERT INTO ingest_run_series BY NAME SELECT * FROM (SELECT "
                    + ", ".join(f"?::{_sql_type(v)} AS {k}" for k, v in row.items())
                    + ")",
                    list(row.values()),
                )
            con.execute("COMMIT")

    def record_liveness(self, run: dict[str, Any], streams: Sequence[dict[str, Any]]) -> None:
        """Append one liveness run and one row per stream, in one transaction."""
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                _insert(con, "liveness_runs", run)
                for row in streams:
                    _insert(con, "liveness_streams", row)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise


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


@dataclass(frozen=True)
class BatchSeries:
    """One series of a batch written by :meth:`Warehouse.write_series`; ``expected`` is
    the open-time range it was fetched for (its gap ledger is rewritten), if any."""

    symbol: str
    interval: str
    expected: tuple[int, int] | None = None


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


def _insert(con: duckdb.DuckDBPyConnection, table: str, row: dict[str, Any]) -> None:
    columns = ", ".join(f"?::{_sql_type(v)} AS {k}" for k, v in row.items())
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM (SELECT {columns})", list(row.values()))


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> int:
    row = con.execute(sql, params or []).fetchone()
    return int(row[0]) if row else 0


def _sql_type(value: Any) -> str:
    if isinstance(value, list):
        return "VARCHAR[]"
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "BIGINT"
    if isinstance(value, float):
        return "DOUBLE"
    return "VARCHAR"
