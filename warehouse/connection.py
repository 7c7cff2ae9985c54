"""How this process shares its connection to the warehouse file among its writes.

Writes are short: one transaction per batch (:func:`warehouse.files.transaction`), and the
file is open only while writing. Outside a :meth:`WarehouseFile.session` every write opens
and closes it; inside one (a flow run), back-to-back writes share one connection that is
closed once writes pause for ``idle_s`` or after ``max_hold_s`` of holding it, so the lock
DuckDB puts on the file is still released between bursts. When another process holds it (a
second ingest, an analyst's session) the writer waits and retries with a log line instead
of failing at once (:func:`warehouse.files.open_duckdb`).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

import duckdb

from . import holder as _holder
from .errors import duckdb_errors
from .files import open_duckdb
from .migrations import apply_migrations

_HANDLES: dict[str, _FileHandle] = {}
_HANDLES_GUARD = threading.Lock()
# A session keeps the connection while writes follow each other closely, and lets the
# file go when they pause (idle) or after holding it this long, for at least
# RELEASE_GAP_S, so that a process polling for the lock (every POLL_MAX_S) gets in.
IDLE_S, MAX_HOLD_S, RELEASE_GAP_S = 0.25, 5.0, 0.4


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


# DuckDB keeps the blocks a writer wrote cached, about 50 MiB per million candles written,
# up to 80 % of the machine's memory by default: a year of 50 symbols' 1m candles took the
# ingest process over 2 GiB. Bounded, it evicts them (they are in the file); a load of
# 5 million candles ran as fast with 300 MB. Read-only connections (analysts') keep
# DuckDB's default.
WRITER_MEMORY_LIMIT = "256MB"


class WarehouseFile:
    """The warehouse's DuckDB file, as this process connects to it.

    The base of :class:`warehouse.store.Warehouse`, whose reads and writes
    (:mod:`warehouse.candles`, :mod:`warehouse.runlog`) all go through :meth:`connect`.

    Args:
        path: the database file; created with its folder on the first write.
        lock_timeout: seconds to keep retrying while another process holds the file.
        holder: how this process names itself to processes that find the file locked
            (its flow run; by default its command line).
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
        return (type(self), (str(self.path.resolve()), self.lock_timeout, self.holder))

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection in UTC; a writable one has every migration applied. DuckDB's errors
        in the block that the warehouse names better are raised as its own
        (:func:`~warehouse.errors.map_duckdb_error`).

        Outside a :meth:`session` a writable connection is used by one thread at a time in
        this process; inside one, every connection (read-only ones too) is a cursor of the
        session's, and writers run side by side.
        """
        with duckdb_errors(self.path), self._connection(read_only) as con:
            yield con

    @contextmanager
    def _connection(self, read_only: bool) -> Iterator[duckdb.DuckDBPyConnection]:
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
    def session(self, idle_s: float = IDLE_S, max_hold_s: float = MAX_HOLD_S) -> Iterator[Self]:
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
            con.execute(f"SET memory_limit = '{WRITER_MEMORY_LIMIT}'")
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
