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

from .errors import NotAWarehouse, WarehouseLocked, WarehouseUnwritable
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

    def newest_open_times(
        self, market: str, series: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], int | None]:
        """Newest stored ``open_time`` (epoch ms) per (symbol, interval); the watermark."""
        result: dict[tuple[str, str], int | None] = dict.fromkeys(series)
        if not self.path.exists() or not series:
            return result
        with self._write_lock, self.connect() as con:
            rows = con.execute(
                "SELECT symbol, interval, epoch_ms(max(open_time)) FROM klines "
                "WHERE market = ? GROUP BY symbol, interval",
                [market],
            ).fetchall()
        for symbol, interval, newest in rows:
            if (symbol, interval) in result:
                result[(symbol, interval)] = int(newest)
        return result

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
    ) -> WriteResult:
        """Upsert one validated batch and quarantine its rejects, in one transaction.

        Unchanged candles are left as they are (same ``ingested_at`` and ``run_id``);
        a candle whose values changed is updated and its old values are copied to
        ``klines_revisions``.
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
                inserted = _count(
                    con,
                    "SELECT count(*) FROM stg s ANTI JOIN klines k USING (market, symbol, interval, open_time)",
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
                sets = ", ".join(
                    f"{c} = EXCLUDED.{c}"
                    for c in (*_UPDATED_COLUMNS, "source", "ingested_at", "run_id")
                )
                changed = " OR ".join(
                    f"klines.{c} IS DISTINCT FROM EXCLUDED.{c}" for c in _UPDATED_COLUMNS
                )
                con.execute(
                    f"""INSERT INTO klines BY NAME
                    SELECT *, ?::VARCHAR AS source, now() AS ingested_at, ?::VARCHAR AS run_id FROM stg
                    ON CONFLICT (market, symbol, interval, open_time)
                    DO UPDATE SET {sets} WHERE {changed}""",
                    [source, run_id],
                )
                if len(rejects):
                    con.execute(
                        """INSERT INTO klines_rejected
                        SELECT ?, ?, ?, open_time_ms, raw, failed_checks, ?, ?, now() FROM rejects""",
                        [market, symbol, interval, source, run_id],
                    )
                con.execute("DROP TABLE stg")
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return WriteResult(inserted, updated, len(rejects))

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


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> int:
    row = con.execute(sql, params or []).fetchone()
    return int(row[0]) if row else 0


def _sql_type(value: Any) -> str:
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
