"""A request-weight budget shared by every REST call of one process.

Binance counts request weight per IP in fixed windows (2,400 per minute on
fapi, read from ``rateLimits`` in exchangeInfo). Before each request the
client reserves the request's weight from the weight table; the budget lets it
through only while the window's usage stays under ``share`` of the limit, and
otherwise waits for the next window. Every response's ``X-MBX-USED-WEIGHT-*``
header corrects the local count, so weight used by other processes on the same
IP is respected too.

Given a :class:`~exchange.hostbudget.HostLedger`, the count (and any 429 pause or 418
ban) is shared at once with every process on the host that uses the same ledger, and the
window's total across all of them stays within ``share`` of the limit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .errors import IpBanned
from .hostbudget import HostLedger, LedgerEntry


class WeightBudget:
    """Thread-safe weight accounting for one IP's fixed-window limit.

    Args:
        limit: weight allowed per window (exchangeInfo ``REQUEST_WEIGHT``).
        window_ms: window length in milliseconds.
        share: fraction of ``limit`` this process may use, in (0, 1].
        clock: returns the local time in seconds (injectable for tests).
        sleep: sleeps for the given seconds (injectable for tests).
        ledger: the host's shared ledger; None keeps the count in this process only.
    """

    def __init__(
        self,
        limit: int = 2400,
        window_ms: int = 60_000,
        share: float = 0.8,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        ledger: HostLedger | None = None,
    ) -> None:
        if not 0 < share <= 1:
            raise ValueError(f"weight share must be in (0, 1], got {share}")
        self.limit = limit
        self.window_ms = window_ms
        self.share = share
        self.server_offset_ms = 0
        self._clock = clock
        self._sleep = sleep
        self.ledger = ledger
        self._lock = threading.Lock()
        self._window = -1
        self._used = 0
        self._paused_until_ms = 0
        self._banned_until_ms = 0
        self.waited_seconds = 0.0

    def configure(self, limit: int, window_ms: int) -> None:
        """Adopt the limit and window that the exchange publishes."""
        with self._lock:
            self.limit, self.window_ms = limit, window_ms
            self._window = -1

    def sync_clock(self, server_ms: int, local_ms: int) -> None:
        """Record the server clock's offset, so windows align with the exchange's."""
        self.server_offset_ms = server_ms - local_ms

    def now_ms(self) -> int:
        """The exchange's current time as this process estimates it."""
        return int(self._clock() * 1000) + self.server_offset_ms

    @property
    def allowance(self) -> int:
        return max(1, int(self.limit * self.share))

    def acquire(self, weight: int) -> None:
        """Block until ``weight`` fits in the current window, then reserve it.

        Raises:
            IpBanned: a 418 ban is in force; nothing may be sent before it ends.
        """
        while True:
            with self._synced() as now:
                if self._banned_until_ms > now:
                    raise IpBanned(self._banned_until_ms)
                if self._paused_until_ms > now:
                    wait_ms = self._paused_until_ms - now
                elif self._used + weight <= self.allowance or self._used == 0:
                    self._used += weight
                    return
                else:
                    wait_ms = (self._window + 1) * self.window_ms - now
            wait = max(wait_ms, 1) / 1000 + 0.005
            self.waited_seconds += wait
            self._sleep(wait)

    def observe(self, used_weight: int) -> None:
        """Correct the count from an ``X-MBX-USED-WEIGHT-*`` header."""
        with self._lock:
            self._roll(self.now_ms())
            if used_weight <= self._used:
                return  # the usual case: nothing new, so the ledger is left alone
        with self._synced():
            self._used = max(self._used, used_weight)

    def pause(self, seconds: float) -> None:
        """Stop every request for ``seconds`` (after a 429) and use less from now on."""
        with self._synced() as now:
            self._paused_until_ms = max(self._paused_until_ms, now + int(seconds * 1000))
            self.share = max(0.1, self.share * 0.75)

    def ban(self, until_ms: int) -> None:
        """Record a 418 ban: :meth:`acquire` raises until ``until_ms``."""
        with self._synced():
            self._banned_until_ms = max(self._banned_until_ms, until_ms)

    @property
    def banned_until_ms(self) -> int:
        return self._banned_until_ms

    @contextmanager
    def _synced(self) -> Iterator[int]:
        """Hold the budget, and the host ledger if there is one; yields the exchange time.

        With a ledger, its count, pause and ban are merged in first (the larger of each),
        and the state is written back when the file differs from it.
        """
        with self._lock:
            now = self.now_ms()
            self._roll(now)
            if self.ledger is None:
                yield now
                return
            with self.ledger.locked() as entry:
                if entry is not None:
                    self._merge(entry, now)
                yield now
                state = LedgerEntry(
                    self.window_ms,
                    self._window,
                    self._used,
                    self._paused_until_ms,
                    self._banned_until_ms,
                )
                if state != entry:
                    self.ledger.write(state)

    def _merge(self, entry: LedgerEntry, now_ms: int) -> None:
        if entry.window * entry.window_ms > now_ms + entry.window_ms:
            return  # written against another clock (e.g. a simulator frozen at a later date)
        if entry.window_ms == self.window_ms:
            if entry.window == self._window + 1:  # another process's clock is a little ahead
                self._window, self._used = entry.window, entry.used
            elif entry.window == self._window:
                self._used = max(self._used, entry.used)
        self._paused_until_ms = max(self._paused_until_ms, entry.paused_until_ms)
        self._banned_until_ms = max(self._banned_until_ms, entry.banned_until_ms)

    def _roll(self, now_ms: int) -> None:
        window = now_ms // self.window_ms
        if window != self._window:
            self._window, self._used = window, 0
