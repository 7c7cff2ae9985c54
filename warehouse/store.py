"""The DuckDB warehouse: the only module that opens the database file.

Writes are short: open, one transaction per batch, close. The lock DuckDB puts
on the file is therefore held only while writing; when another process holds
it (a second ingest, an analyst's session) the writer waits and retries with a
log line instead of failing at once.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from exchange.intervals import Interval

from .errors import NotAWarehouse, WarehouseLocked, WarehouseUnwritable
from .gaps import Gap, find_missing, load_gaps, replace_gaps
from .migrations import apply_migrations
from .schema import VALUE_COLUMNS

log = logging.getLogger("klines.warehouse")

_DUCKDB_MAGIC = b"DUCK"
_KEY = ("market", "symbol", "interval", "open_time")
_UPDATED_COLUMNS = (*VALUE_COLUMNS, "close_time")
_WRITE_LOCKS: dict[str, threading.Lock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


@dataclass(frozen=True)
class WriteResult:
    inserted: int
    updated: int
    rejected: int


def check_path(path: str | os.PathLike[str]) -> Path:
    """Check that ``path`` is a DuckDB file (or can become one) without touching it.

    Raises:
        NotAWarehouse: the path exists and is not a DuckDB database.
        WarehouseUnwritable: the file or the folder it would go in is not writable.
    """
    p = Path(path)
    if p.exists():
        if p.is_dir():
            raise NotAWarehouse(f"--db {p} is a directory, not a DuckDB file: pass a file path")
        with p.open("rb") as fh:
            header = fh.read(16)
        if header[8:12] != _DUCKDB_MAGIC:
            raise NotAWarehouse(
                f"--db {p} exists but is not a DuckDB database; it was left untouched: "
                "pass a new or existing .duckdb path"
            )
        if not os.access(p, os.W_OK):
            raise WarehouseUnwritable(
                f"--db {p} is not writable: fix its permissions or use another path"
            )
        return p
    parent = p.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise WarehouseUnwritable(
            f"cannot create --db {p}: {parent} is not a writable folder; choose another path"
        )
    return p


class Warehouse:
    """A DuckDB file of klines.

    Args:
        path: the database file; created with its folder on the first write.
        lock_timeout: seconds to keep retrying while another process holds the file.
    """

    def __init__(self, path: str | os.PathLike[str], lock_timeout: float = 120.0) -> None:
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        key = str(self.path.resolve())
        with _WRITE_LOCKS_GUARD:
            self._write_lock = _WRITE_LOCKS.setdefault(key, threading.Lock())

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        # Another process (a Dask worker) gets its own in-process write lock.
        return (Warehouse, (str(self.path.resolve()), self.lock_timeout))

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection in UTC; a writable one has every migration applied."""
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        con = self._open(read_only)
        try:
            if not read_only:
                apply_migrations(con)
            yield con
        finally:
            con.close()

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.05
        announced = False
        while True:
            try:
                con = duckdb.connect(str(self.path), read_only=read_only)
                # config={"TimeZone": ...} at connect fails in duckdb 2.0.0 (icu not
                # loaded yet); SET after connecting works.
                con.execute("SET TimeZone = 'UTC'")
                return con
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower():
                    raise
                if time.monotonic() >= deadline:
                    raise WarehouseLocked(
                        f"{self.path} stayed locked by another process for {self.lock_timeout:.0f} s "
                        f"({_holder(exc)}); close that session (analysts: see README, "
                        "'Querying while runs write') and rerun"
                    ) from exc
                if not announced:
                    log.warning(
                        "waiting for %s: locked by another process (%s); retrying for up to %.0f s",
                        self.path,
                        _holder(exc),
                        self.lock_timeout,
                    )
                    announced = True
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

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
        with self._write_lock, self.connect() as con:
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
        rows = []
        with self._write_lock, self.connect() as con:
            for symbol, interval, start_ms, end_ms in ranges:
                expected = Interval.parse(interval).count(
                    Interval.parse(interval).ceil(start_ms), end_ms
                )
                present = _count(
                    con,
                    "SELECT count(*) FROM klines WHERE market = ? AND symbol = ? AND interval = ? "
                    "AND open_time >= epoch_ms(?::BIGINT) AT TIME ZONE 'UTC' "
                    "AND open_time < epoch_ms(?::BIGINT) AT TIME ZONE 'UTC'",
                    [market, symbol, interval, start_ms, end_ms],
                )
                by_cause = dict(
                    con.execute(
                        "SELECT cause, sum(missing)::BIGINT FROM klines_gaps WHERE market = ? AND symbol = ? "
                        "AND interval = ? AND gap_start < epoch_ms(?::BIGINT) AT TIME ZONE 'UTC' "
                        "AND gap_end > epoch_ms(?::BIGINT) AT TIME ZONE 'UTC' GROUP BY cause",
                        [market, symbol, interval, end_ms, start_ms],
                    ).fetchall()
                )
                rows.append(
                    {
                        "symbol": symbol,
                        "interval": interval,
                        "expected": expected,
                        "present": present,
                        **{f"missing_{c}": int(n) for c, n in by_cause.items()},
                    }
                )
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
        columns = ["open_time_ms", *VALUE_COLUMNS, "close_time_ms"]
        staged = pa.Table.from_pandas(valid[columns], preserve_index=False)  # noqa: F841
        rejects = pd.DataFrame(  # noqa: F841
            list(rejected), columns=["open_time_ms", "raw", "failed_checks"]
        ).astype({"open_time_ms": "Int64"})
        value_list = ", ".join(VALUE_COLUMNS)
        differs = " OR ".join(f"k.{c} IS DISTINCT FROM s.{c}" for c in _UPDATED_COLUMNS)
        with self._write_lock, self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute(
                    f"""CREATE OR REPLACE TEMP TABLE stg AS
                    SELECT ?::VARCHAR AS market, ?::VARCHAR AS symbol, ?::VARCHAR AS interval,
                           epoch_ms(open_time_ms) AT TIME ZONE 'UTC' AS open_time,
                           {value_list},
                           epoch_ms(close_time_ms) AT TIME ZONE 'UTC' AS close_time
                    FROM staged""",
                    [market, symbol, interval],
                )
                updated = _count(
                    con,
                    f"""INSERT INTO klines_revisions
                    SELECT k.market, k.symbol, k.interval, k.open_time,
                           k.open, k.high, k.low, k.close, k.volume, k.close_time,
                           k.quote_volume, k.trades, k.taker_buy_base_volume, k.taker_buy_quote_volume,
                           k.source, k.ingested_at, k.run_id, now(), ?
                    FROM klines k JOIN stg s USING (market, symbol, interval, open_time)
                    WHERE {differs}""",
                    [run_id],
                )
                if updated:
                    # Only changed candles are touched: unchanged ones keep their lineage.
                    sets = ", ".join(
                        f"{c} = s.{c}"
                        for c in (*_UPDATED_COLUMNS, "source", "ingested_at", "run_id")
                    )
                    con.execute(
                        f"""UPDATE klines AS k SET {sets}
                        FROM (SELECT *, ?::VARCHAR AS source, now() AS ingested_at,
                                     ?::VARCHAR AS run_id FROM stg) s
                        WHERE k.market = s.market AND k.symbol = s.symbol
                          AND k.interval = s.interval AND k.open_time = s.open_time
                          AND ({differs})""",
                        [source, run_id],
                    )
                # New candles: a plain insert of the keys not stored yet (no conflict path).
                inserted = _count(
                    con,
                    """INSERT INTO klines BY NAME
                    SELECT s.*, ?::VARCHAR AS source, now() AS ingested_at, ?::VARCHAR AS run_id
                    FROM stg s ANTI JOIN klines k USING (market, symbol, interval, open_time)""",
                    [source, run_id],
                )
                if len(rejects):
                    con.execute(
                        """INSERT INTO klines_rejected
                        SELECT ?, ?, ?, open_time_ms, raw, failed_checks, ?, ?, now() FROM rejects""",
                        [market, symbol, interval, source, run_id],
                    )
                con.execute("DROP TABLE stg")
                if expected is not None:
                    self._ledger_fetched_range(
                        con,
                        market,
                        symbol,
                        interval,
                        expected,
                        list(rejects["open_time_ms"].dropna()),
                        run_id,
                    )
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return WriteResult(inserted, updated, len(rejects))

    @staticmethod
    def _ledger_fetched_range(
        con: duckdb.DuckDBPyConnection,
        market: str,
        symbol: str,
        interval: str,
        expected: tuple[int, int],
        rejected_opens: list[int],
        run_id: str,
    ) -> None:
        gaps = [
            Gap(
                lo,
                hi,
                n,
                "rejected" if any(lo <= t < hi for t in rejected_opens) else "exchange_empty",
            )
            for lo, hi, n in find_missing(con, market, symbol, Interval.parse(interval), *expected)
        ]
        replace_gaps(
            con,
            market=market,
            symbol=symbol,
            interval=interval,
            start_ms=expected[0],
            end_ms=expected[1],
            gaps=gaps,
            run_id=run_id,
        )

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
        with self._write_lock, self.connect() as con:
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
        with self._write_lock, self.connect() as con:
            for symbol, interval in series:
                result[(symbol, interval)] = load_gaps(con, market, symbol, interval)
        return result

    def record_ban(self, base_url: str, until_epoch_ms: int, detail: str) -> None:
        """Remember a 418 ban so that runs started during it send nothing."""
        with self._write_lock, self.connect() as con:
            con.execute(
                "INSERT INTO rate_limit_bans VALUES (?, epoch_ms(?::BIGINT) AT TIME ZONE 'UTC', now(), ?)",
                [base_url, until_epoch_ms, detail],
            )

    def active_ban_ms(self, base_url: str, now_epoch_ms: int) -> int | None:
        """End (local epoch ms) of a remembered ban on ``base_url`` still in force, if any."""
        if not self.path.exists():
            return None
        with self._write_lock, self.connect() as con:
            row = con.execute(
                "SELECT epoch_ms(max(banned_until)) FROM rate_limit_bans WHERE base_url = ?",
                [base_url],
            ).fetchone()
        until = row[0] if row else None
        return int(until) if until is not None and until > now_epoch_ms else None

    def record_run(self, run: dict[str, Any], series: Sequence[dict[str, Any]]) -> None:
        """Append one run and its per-series summary to the run log."""
        with self._write_lock, self.connect() as con:
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
        with self._write_lock, self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                _insert(con, "liveness_runs", run)
                for row in streams:
                    _insert(con, "liveness_streams", row)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise


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


def _holder(exc: Exception) -> str:
    text = str(exc)
    marker = "Conflicting lock is held in "
    if marker in text:
        return "held by " + text.split(marker, 1)[1].split("\n")[0].split(". ")[0]
    return "lock conflict"
