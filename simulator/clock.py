"""The simulator's clock: real time plus an offset, or frozen."""

from __future__ import annotations

import threading
import time


class SimClock:
    """Thread-safe millisecond clock that can be frozen and moved.

    When not frozen it reads ``time.time()`` plus an offset; ``advance`` moves it either
    way. ``unfreeze`` lets time run again from the frozen instant.
    """

    def __init__(self, frozen_ms: int | None = None) -> None:
        """Start frozen at ``frozen_ms``, or running at real time when ``None``."""
        self._lock = threading.Lock()
        self._offset_ms = 0
        self._frozen_ms = frozen_ms

    @staticmethod
    def _real_ms() -> int:
        return time.time_ns() // 1_000_000

    def now_ms(self) -> int:
        """Current simulated time in epoch milliseconds."""
        with self._lock:
            if self._frozen_ms is not None:
                return self._frozen_ms
            return self._real_ms() + self._offset_ms

    @property
    def frozen(self) -> bool:
        """Whether the clock is frozen."""
        return self._frozen_ms is not None

    def freeze(self, ms: int | None = None) -> int:
        """Freeze at ``ms`` (default: the current simulated time); returns the frozen time."""
        with self._lock:
            if ms is None:
                ms = (
                    self._frozen_ms
                    if self._frozen_ms is not None
                    else self._real_ms() + self._offset_ms
                )
            self._frozen_ms = int(ms)
            return self._frozen_ms

    def advance(self, ms: int) -> int:
        """Move the clock by ``ms`` (may be negative); returns the new time."""
        with self._lock:
            if self._frozen_ms is not None:
                self._frozen_ms += int(ms)
                return self._frozen_ms
            self._offset_ms += int(ms)
            return self._real_ms() + self._offset_ms

    def unfreeze(self) -> int:
        """Let time run again, continuing from the frozen instant; returns the current time."""
        with self._lock:
            if self._frozen_ms is not None:
                self._offset_ms = self._frozen_ms - self._real_ms()
                self._frozen_ms = None
            return self._real_ms() + self._offset_ms
