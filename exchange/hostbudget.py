"""A host-wide ledger of REST request weight, shared by every process on one machine.

Binance counts request weight per IP, and every process on a host shares the host's IP
(two overlapping flow runs on one worker, the Dask worker processes of one machine). Each
:class:`~exchange.ratelimit.WeightBudget` given a :class:`HostLedger` keeps its window count
in one small file per REST host, so together they stay within ``share`` of the limit
instead of each using ``share`` until the ``X-MBX-USED-WEIGHT-*`` headers catch up.

- Every read-modify-write holds an exclusive ``flock`` on the file for a few microseconds.
  The kernel drops the lock when its holder dies, so a killed process never blocks the rest.
- The file holds one 52-byte record: the window (its length and number), the weight
  reserved in it, and the end of any 429 pause and 418 ban, with a CRC-32. A missing,
  truncated or corrupt file reads as empty, and the next write repairs it.
- Windows are numbered on the exchange's clock as each process estimates it
  (``WeightBudget.now_ms``, synced from ``/fapi/v1/time``). Processes that sync against the
  same server agree to within a few milliseconds; a process that finds the ledger one window
  ahead of its own clock counts its request in that later window. An entry more than a
  window ahead of a process's clock (written against another clock, e.g. a simulator frozen
  at another date on a reused port) is ignored. Processes must also agree on the window's
  length (each reads it from exchangeInfo): a count kept under another length is replaced.

A Prefect global concurrency limit with slot decay was the alternative: it costs an API
round trip per request, is not shared by two ``klines ingest`` runs that each start their
own temporary API, and decays like a leaky bucket rather than Binance's fixed windows.
POSIX only (``fcntl``), like the process work pool it serves.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import struct
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .errors import InvalidInput

log = logging.getLogger("klines.rest")

_MAGIC = b"KLWEIGHT"
_BODY = struct.Struct("<8s5q")  # magic, then the entry's five numbers
_CRC = struct.Struct("<I")  # CRC-32 of the body
RECORD_SIZE = _BODY.size + _CRC.size


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """What the ledger file holds; times are exchange epoch milliseconds."""

    window_ms: int
    window: int
    used: int
    paused_until_ms: int = 0
    banned_until_ms: int = 0

    def encode(self) -> bytes:
        body = _BODY.pack(
            _MAGIC,
            self.window_ms,
            self.window,
            self.used,
            self.paused_until_ms,
            self.banned_until_ms,
        )
        return body + _CRC.pack(zlib.crc32(body))

    @classmethod
    def decode(cls, data: bytes) -> LedgerEntry | None:
        """The entry in ``data``, or None when it is empty, truncated or corrupt."""
        if len(data) != RECORD_SIZE:
            return None
        body, (crc,) = data[: _BODY.size], _CRC.unpack(data[_BODY.size :])
        if crc != zlib.crc32(body):
            return None
        magic, window_ms, window, used, paused, banned = _BODY.unpack(body)
        if magic != _MAGIC or window_ms <= 0 or min(window, used, paused, banned) < 0:
            return None
        return cls(window_ms, window, used, paused, banned)


def ledger_name(weight_key: str) -> str:
    """The ledger's file name for a budget key (a weight pool and a REST host), e.g.
    ``futures@fapi.binance.com:443`` -> ``futures@fapi.binance.com_443.weight``."""
    return re.sub(r"[^a-z0-9.@-]", "_", weight_key.lower()) + ".weight"


class HostLedger:
    """One REST host's weight ledger file, shared by the processes of this machine.

    Args:
        path: the file; its directory is created (mode 0700) if missing.

    Raises:
        InvalidInput: the file cannot be created or opened.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._guard = threading.Lock()  # flock does not exclude threads sharing one fd
        self._file = self._open()
        self._pid = os.getpid()

    @classmethod
    def for_key(cls, directory: str | Path, weight_key: str) -> HostLedger:
        """The ledger in ``directory`` for a budget key (:attr:`RestConfig.weight_key`)."""
        return cls(Path(directory) / ledger_name(weight_key))

    @contextmanager
    def locked(self) -> Iterator[LedgerEntry | None]:
        """Hold the file's lock (against other processes and threads); yields its entry,
        None if it has none. Call :meth:`write` only inside."""
        with self._guard:
            if self._pid != os.getpid():  # forked: an inherited fd would share our lock
                self._file, self._pid = self._open(), os.getpid()
            fd = self._file.fileno()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                try:
                    data = os.pread(fd, RECORD_SIZE, 0)
                except OSError as exc:
                    log.warning("cannot read the weight ledger %s: %s", self.path, exc)
                    data = b""
                yield LedgerEntry.decode(data)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def write(self, entry: LedgerEntry) -> None:
        """Replace the entry (inside :meth:`locked`). A failed write is logged, not raised:
        the budget still holds the count in memory."""
        try:
            os.pwrite(self._file.fileno(), entry.encode(), 0)
        except OSError as exc:
            log.warning("cannot write the weight ledger %s: %s", self.path, exc)

    def _open(self) -> BinaryIO:
        """The file, created if missing; closed when this object is collected."""
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            return open(self.path, "r+b", buffering=0, opener=_create_rw)
        except OSError as exc:
            raise InvalidInput(
                f"cannot use the weight ledger {self.path} ({exc.strerror}): set "
                "KLINES_WEIGHT_LEDGER to a writable directory, or off"
            ) from None


def _create_rw(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_CREAT, 0o600)
