"""Progress of a long run: a terminal line on stderr (a log line every 20 s where there is
no terminal) and a Prefect progress artifact.

Series tasks report candles accounted for (:data:`pipeline.results.Progress`); the flow
thread polls :meth:`BackfillProgress.fraction` and updates the artifact.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


class BackfillProgress:
    """Thread-safe count of expected candles done out of ``total``.

    The terminal line (``\\r``-rewritten, on stderr) is drawn only when the stream is a
    terminal, at most every ``min_interval`` seconds.
    """

    def __init__(self, total: int, stream: TextIO | None = None, min_interval: float = 0.2) -> None:
        self.total = max(total, 0)
        self.done = 0
        self.started = time.monotonic()
        self._stream = stream if stream is not None else sys.stderr
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self._lock = threading.Lock()
        self._drawn = 0.0
        self._logged = self.started
        self._min_interval = min_interval

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        # In another process (a Dask worker) progress is not reported back.
        return (_silent, (self.total,))

    def __call__(self, candles: int) -> None:
        with self._lock:
            self.done = min(self.total, self.done + candles)
            now = time.monotonic()
            if self._tty and (now - self._drawn >= self._min_interval or self.done >= self.total):
                self._drawn = now
                self._stream.write("\r" + self.line())
                self._stream.flush()

    def fraction(self) -> float:
        return 1.0 if self.total == 0 else self.done / self.total

    def line(self, width: int = 30) -> str:
        """``[#########.....]  45.0%  1,234,567/2,743,200 candles  12,345/s  ETA 1m 02s``."""
        frac = self.fraction()
        filled = int(frac * width)
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate > 0 else 0
        return (
            f"[{'#' * filled}{'.' * (width - filled)}] {frac:6.1%}  "
            f"{self.done:,}/{self.total:,} candles  {rate:,.0f}/s  ETA {int(eta) // 60}m {int(eta) % 60:02d}s"
        )

    def log_line(self, every_s: float = 20.0) -> str | None:
        """The line, at most every ``every_s`` seconds, where no terminal draws it (a
        deployment's run log, a command whose output goes to a file); else None."""
        now = time.monotonic()
        if self._tty or now - self._logged < every_s:
            return None
        self._logged = now
        return self.line()

    def close(self) -> None:
        if self._tty and self.total:
            self._stream.write("\r" + self.line() + "\n")
            self._stream.flush()


def _silent(total: int) -> BackfillProgress:
    import io

    return BackfillProgress(total, stream=io.StringIO())
