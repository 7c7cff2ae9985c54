"""Errors raised by the warehouse, and the one place that maps DuckDB's errors to them.

The tree (``[R]`` retryable, ``[T]`` terminal: the markers of :mod:`exchange.errors`)::

    WarehouseError
    ├── NotAWarehouse (ValueError)       [T] the --db path exists but is not a DuckDB file: never touched
    ├── WarehouseUnwritable (ValueError) [T] the file or its folder cannot be created, opened or written
    ├── NoWarehouse (ValueError)         [T] a read-only command was pointed at a file that does not exist
    ├── BadQuery (ValueError)            [T] an analyst's SQL failed to parse, bind or run (or tried to write)
    └── WarehouseLocked                  [R] another process holds the file's lock (past the wait limit)

The ``ValueError`` branch is bad input: the command line exits with code 2.

:func:`map_duckdb_error` (and :func:`duckdb_errors`, its context manager) picks the most
specific of these for an error DuckDB raised, and leaves every other DuckDB error as it is
(a bug, or a failure nobody can name better than DuckDB). Like :mod:`warehouse.files`, this
module stays light: the command imports it before anything opens the file, so DuckDB is
looked up only once one of its errors is in hand.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from exchange.errors import KlinesError, Retryable, Terminal

from . import holder as _holder


class WarehouseError(KlinesError):
    """Base class of every error raised by :mod:`warehouse`."""


class NotAWarehouse(WarehouseError, ValueError, Terminal):
    """The path holds something that is not a DuckDB database."""

    @classmethod
    def at(cls, path: str | os.PathLike[str]) -> NotAWarehouse:
        """The error for a file at ``path`` that is not a DuckDB database."""
        return cls(
            f"--db {path} exists but is not a DuckDB database; it was left untouched: "
            "pass a new or existing .duckdb path"
        )


class WarehouseUnwritable(WarehouseError, ValueError, Terminal):
    """The database file or its folder cannot be created or written."""


class WarehouseLocked(WarehouseError, Retryable):
    """Another process kept the file locked; ``holder`` says who (its flow run or command
    when it is a klines process, else its executable and PID)."""

    cause = "locked"

    def __init__(self, message: str, *, path: str = "", holder: str = "") -> None:
        super().__init__(message)
        self.path = path
        self.holder = holder


class NoWarehouse(WarehouseError, ValueError, Terminal):
    """A command that only reads was given a path with no database file."""


class BadQuery(WarehouseError, ValueError, Terminal):
    """The SQL could not be run against the warehouse; the message is DuckDB's first line.

    ``duckdb_error`` is the name of DuckDB's exception (``CatalogException``,
    ``ParserException``, ``BinderException``...).
    """

    def __init__(self, message: str, *, duckdb_error: str = "") -> None:
        super().__init__(message)
        self.duckdb_error = duckdb_error


_LOCKED = ("could not set lock on file", "conflicting lock is held")
_NOT_DUCKDB = "not a valid duckdb database file"
_NAMED_FILE = re.compile(r'file "(?P<file>[^"]+)"')


def map_duckdb_error(
    exc: BaseException, path: str | os.PathLike[str] | None = None, *, query: bool = False
) -> BaseException:
    """The warehouse's error for ``exc``, an error DuckDB raised on the file at ``path``;
    ``exc`` itself when none fits better.

    Most specific first: the file's lock held by another process → :class:`WarehouseLocked`
    (naming the holder); a file that is not a DuckDB database → :class:`NotAWarehouse`;
    permission denied on the warehouse file → :class:`WarehouseUnwritable`; with ``query``
    (the statement is an analyst's SQL), any other DuckDB error of the statement (catalog,
    parser, binder, conversion, a write on a read-only file...) → :class:`BadQuery`.
    """
    duckdb = sys.modules.get("duckdb")
    if duckdb is None or not isinstance(exc, duckdb.Error):
        return exc  # not DuckDB's (DuckDB is not even loaded)
    text = str(exc)
    lowered = text.lower()
    named = _NAMED_FILE.search(text)
    file = path if path is not None else (named["file"] if named else "the warehouse")
    if isinstance(exc, duckdb.IOException):
        if any(marker in lowered for marker in _LOCKED):
            holder = _holder.describe(file, text)
            return WarehouseLocked(
                f"{file} is locked by another process ({holder}); "
                "let it finish or close that session and rerun",
                path=str(file),
                holder=holder,
            )
        if _NOT_DUCKDB in lowered:
            return NotAWarehouse.at(file)
        if "permission denied" in lowered and _names(named, file):
            return WarehouseUnwritable(
                f"--db {file} cannot be opened: permission denied; "
                "fix its permissions or use another path"
            )
    if query:
        first = text.split("\n", 1)[0].strip() or type(exc).__name__
        return BadQuery(f"bad SQL: {first}", duckdb_error=type(exc).__name__)
    return exc


@contextmanager
def duckdb_errors(
    path: str | os.PathLike[str] | None = None, *, query: bool = False
) -> Iterator[None]:
    """Raise the warehouse's own error (:func:`map_duckdb_error`) for a DuckDB error in the
    block, chained to DuckDB's."""
    try:
        yield
    except Exception as exc:
        mapped = map_duckdb_error(exc, path, query=query)
        if mapped is exc:
            raise
        raise mapped from exc


def _names(named: re.Match[str] | None, file: str | os.PathLike[str]) -> bool:
    """Whether the error is about the warehouse ``file`` (or its WAL), not another file
    (the target of an analyst's ``COPY``)."""
    if named is None:
        return True
    other = named["file"].removesuffix(".wal")
    return os.path.abspath(other) == os.path.abspath(file)
