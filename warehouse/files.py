"""Opening the warehouse file, and the one transaction helper (no pandas: it stays light).

The only module that connects to the file. :func:`check_path` looks at a path without
touching it; :func:`open_duckdb` connects in UTC and, while another process holds DuckDB's
lock on the file, waits and retries with one log line instead of failing at once;
:func:`transaction` wraps every write of the warehouse (candles, gap ledger, run log,
migrations) in BEGIN ... COMMIT, or ROLLBACK when the body raises. Sharing a connection
among a process's writes is :mod:`warehouse.connection`'s job.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from . import holder as _holder
from .errors import NotAWarehouse, WarehouseLocked, WarehouseUnwritable, map_duckdb_error

log = logging.getLogger("klines.warehouse")

_DUCKDB_MAGIC = b"DUCK"
POLL_MAX_S = 0.25  # the longest pause between two tries while the file is locked
ANNOUNCE_AFTER_S = 0.5  # a waiting process says so once the file has stayed locked this long


def check_readable(path: str | os.PathLike[str]) -> Path:
    """Check that an existing ``path`` is a DuckDB file, without opening it.

    Raises:
        NotAWarehouse: the path is a directory or some other kind of file.
    """
    p = Path(path)
    if p.is_dir():
        raise NotAWarehouse(f"--db {p} is a directory, not a DuckDB file: pass a file path")
    with p.open("rb") as fh:
        header = fh.read(16)
    if header[8:12] != _DUCKDB_MAGIC:
        raise NotAWarehouse.at(p)
    return p


def check_path(path: str | os.PathLike[str]) -> Path:
    """Check that ``path`` is a DuckDB file (or can become one) without touching it.

    Raises:
        NotAWarehouse: the path exists and is not a DuckDB database.
        WarehouseUnwritable: the file or the folder it would go in is not writable.
    """
    p = Path(path)
    if p.exists():
        check_readable(p)
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


def open_duckdb(
    path: str | os.PathLike[str], read_only: bool, lock_timeout: float, holder: str | None = None
) -> duckdb.DuckDBPyConnection:
    """A connection to ``path`` in UTC, retried for up to ``lock_timeout`` seconds while
    another process holds the file.

    With ``holder`` (a flow run or command line), the process names itself in a note beside
    the file (:mod:`warehouse.holder`) for processes that find it locked; the caller calls
    :func:`warehouse.holder.release` after closing the connection. A wait is logged once the
    file has stayed locked for ``ANNOUNCE_AFTER_S``, naming the holder.

    Raises:
        WarehouseLocked: the file stayed locked for ``lock_timeout`` seconds.
        NotAWarehouse, WarehouseUnwritable: see :func:`~warehouse.errors.map_duckdb_error`.
    """
    started = time.monotonic()
    deadline = started + lock_timeout
    # A holder that lets go within a moment (one short write) is not worth a line, and by
    # the time its note is read it may be gone: name only holders that stay.
    announce_at = started + min(ANNOUNCE_AFTER_S, lock_timeout / 2)
    delay = 0.05
    announced = False
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:
            error = map_duckdb_error(exc, path)
            if not isinstance(error, WarehouseLocked):
                if error is exc:
                    raise
                raise error from exc
            if time.monotonic() >= deadline:
                raise WarehouseLocked(
                    f"{path} stayed locked by another process for {lock_timeout:.0f} s "
                    f"({error.holder}); let it finish or close that session "
                    "(analysts: see README, 'Querying while runs write') and rerun",
                    path=error.path,
                    holder=error.holder,
                ) from exc
            if not announced and time.monotonic() >= announce_at:
                log.warning(
                    "waiting for %s: locked by another process (%s); retrying for up to %.0f s",
                    path,
                    error.holder,
                    lock_timeout,
                )
                announced = True
            time.sleep(delay)
            delay = min(delay * 2, POLL_MAX_S)
            continue
        if holder is not None:
            _holder.claim(path, holder)  # names this process to waiters
        try:
            # config={"TimeZone": ...} at connect fails in duckdb 2.0.0 (icu not loaded
            # yet); SET after connecting works.
            con.execute("SET TimeZone = 'UTC'")
        except BaseException:
            con.close()
            if holder is not None:
                _holder.release(path)
            raise
        return con


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """One transaction around the block: COMMIT when it ends, ROLLBACK when it raises.

    The body's error is the one raised: a ROLLBACK that finds no transaction (a COMMIT that
    failed has already rolled back) does not replace it.
    """
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except duckdb.TransactionException:
            pass
        raise
