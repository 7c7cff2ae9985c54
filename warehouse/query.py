"""Read-only queries for analysts (``klines sql``): open the file read-only, run, close.

A read-only connection still takes DuckDB's file lock, so an ingest waits (up to its
``KLINES_LOCK_TIMEOUT``) while a query runs; queries are meant to be short.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from .errors import BadQuery, NoWarehouse, duckdb_errors
from .store import Warehouse, check_path


@dataclass(frozen=True)
class QueryResult:
    """Column names and rows (Python values: Decimal, datetime, timedelta stay exact)."""

    columns: list[str]
    rows: list[tuple[Any, ...]]


def open_existing(path: str | os.PathLike[str], lock_timeout: float) -> Warehouse:
    """The warehouse at ``path``, which must already exist.

    Raises:
        NoWarehouse: nothing is stored at ``path``.
        NotAWarehouse: the file is not a DuckDB database.
    """
    p = Path(path)
    if not p.exists():
        raise NoWarehouse(
            f"no warehouse at {p}: pass --db (or set KLINES_DB), or run `klines ingest` first"
        )
    check_path(p)
    return Warehouse(p, lock_timeout=lock_timeout)


def run_query(path: str | os.PathLike[str], sql: str, lock_timeout: float = 120.0) -> QueryResult:
    """Run one SQL statement on a read-only connection and return every row.

    Raises:
        NoWarehouse, NotAWarehouse: see :func:`open_existing`.
        BadQuery: DuckDB refused the statement (syntax, unknown name, a write, a failure).
        WarehouseLocked: a writer held the file past ``lock_timeout``.
    """
    warehouse = open_existing(path, lock_timeout)
    with warehouse.connect(read_only=True) as con:
        try:
            with duckdb_errors(warehouse.path, query=True):
                cursor = con.execute(sql)
                columns = [d[0] for d in cursor.description or []]
                rows = [tuple(r) for r in cursor.fetchall()] if columns else []
        except BadQuery as exc:
            if exc.duckdb_error == "CatalogException" and _predates_views(con):
                raise BadQuery(
                    f"{exc} (this file predates the analyst views: "
                    "run `klines ingest` once to upgrade it)",
                    duckdb_error=exc.duckdb_error,
                ) from exc.__cause__
            raise
    return QueryResult(columns, rows)


def _predates_views(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the file is older than the analyst views and macros (migration 4)."""
    version = con.execute("SELECT max(version) FROM schema_migrations").fetchone()
    return bool(version) and (version[0] or 0) < 4
