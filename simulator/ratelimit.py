"""Per-IP request-weight accounting, 429s and 418 bans, as on Binance."""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    """Outcome of :meth:`WeightLimiter.charge`.

    ``status`` is 200 (allowed, weight charged), 429 (over the limit) or 418 (banned);
    ``retry_after_s`` is set for 429/418 and ``ban_until_ms`` for 418.
    """

    status: int
    used: int
    retry_after_s: int = 0
    ban_until_ms: int = 0


@dataclass
class _Client:
    window: int = -1
    used: int = 0
    rejected: int = 0
    ban_until_ms: int = 0


class WeightLimiter:
    """Fixed windows aligned to the clock (``floor(now / window)``), counted per client IP.

    A request that would push the used weight above ``limit`` gets 429. The first
    over-limit request and ``ban_after`` more in the same window get 429; the next one
    gets 418 and bans the IP for ``ban_seconds``, during which every request gets 418.
    """

    def __init__(self, limit: int, window_s: float, ban_seconds: float, ban_after: int = 5) -> None:
        """Configure the budget ``limit`` per ``window_s`` seconds and the ban policy."""
        self.limit = limit
        self.window_ms = int(window_s * 1000)
        self.ban_ms = int(ban_seconds * 1000)
        self.ban_after = ban_after
        self._lock = threading.Lock()
        self._clients: dict[str, _Client] = {}

    def reset(self) -> None:
        """Forget every client's weight, rejections and ban."""
        with self._lock:
            self._clients.clear()

    def _client(self, ip: str, now_ms: int) -> _Client:
        c = self._clients.setdefault(ip, _Client())
        window = now_ms // self.window_ms
        if c.window != window:
            c.window, c.used, c.rejected = window, 0, 0
        return c

    def retry_after_s(self, now_ms: int) -> int:
        """Whole seconds (at least 1) until the current window ends."""
        end = (now_ms // self.window_ms + 1) * self.window_ms
        return max(1, -(-(end - now_ms) // 1000))

    def used(self, ip: str, now_ms: int) -> int:
        """Weight used by ``ip`` in the current window."""
        with self._lock:
            return self._client(ip, now_ms).used

    def banned_until(self, ip: str, now_ms: int) -> int:
        """End of the active ban of ``ip`` in ms, or 0 when not banned."""
        with self._lock:
            c = self._client(ip, now_ms)
            return c.ban_until_ms if c.ban_until_ms > now_ms else 0

    def ban(self, ip: str, now_ms: int) -> Verdict:
        """Ban ``ip`` now for the configured duration."""
        with self._lock:
            c = self._client(ip, now_ms)
            c.ban_until_ms = now_ms + self.ban_ms
            return self._banned(c, now_ms)

    def _banned(self, c: _Client, now_ms: int) -> Verdict:
        retry = max(1, -(-(c.ban_until_ms - now_ms) // 1000))
        return Verdict(418, c.used, retry, c.ban_until_ms)

    def refund(self, ip: str, weight: int, now_ms: int) -> None:
        """Give back ``weight`` charged to ``ip`` in the current window."""
        with self._lock:
            c = self._client(ip, now_ms)
            c.used = max(0, c.used - weight)

    def charge(self, ip: str, weight: int, now_ms: int) -> Verdict:
        """Admit (and charge) a request of ``weight`` from ``ip``, or reject it."""
        with self._lock:
            c = self._client(ip, now_ms)
            if c.ban_until_ms > now_ms:
                return self._banned(c, now_ms)
            if c.used + weight > self.limit:
                c.rejected += 1
                if c.rejected > self.ban_after + 1:
                    c.ban_until_ms = now_ms + self.ban_ms
                    return self._banned(c, now_ms)
                return Verdict(429, c.used, self.retry_after_s(now_ms))
            c.used += weight
            return Verdict(200, c.used)


@dataclass
class Pool:
    """One request-weight budget per IP, shared by a set of REST prefixes.

    Binance counts USDⓈ-M (``/fapi``) and COIN-M (``/dapi``) on one budget since 2026-06-30
    (pool ``futures``); spot (``/api``) has its own (pool ``spot``). Each pool has its own
    429s, bans, ``X-MBX-USED-WEIGHT-*`` header and ``rateLimits`` entry.
    """

    name: str
    limiter: WeightLimiter
    window_s: int

    @property
    def limit(self) -> int:
        """The weight allowed per window."""
        return self.limiter.limit

    def interval(self) -> tuple[str, int]:
        """(interval, intervalNum) of the window: MINUTE×1 for 60 s, else SECOND×n."""
        return ("MINUTE", 1) if self.window_s == 60 else ("SECOND", self.window_s)

    def header(self) -> str:
        """The lower-case used-weight header name, e.g. ``x-mbx-used-weight-1m``."""
        interval, num = self.interval()
        return f"x-mbx-used-weight-{num}{interval[0].lower()}"


POOL_OF_PREFIX = (("/fapi/", "futures"), ("/dapi/", "futures"), ("/api/", "spot"))


def pool_of(path: str) -> str:
    """The pool a REST path counts against (unknown paths: ``futures``)."""
    return next((pool for prefix, pool in POOL_OF_PREFIX if path.startswith(prefix)), "futures")
