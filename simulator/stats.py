"""Thread-safe request/response counters of the simulator."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class Stats:
    """Counters updated by the server thread and read by tests or ``GET /_sim/stats``."""

    def __init__(self) -> None:
        """Start with every counter at zero."""
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Zero every counter."""
        with self._lock:
            self._requests = 0
            self._by_path: Counter[str] = Counter()
            self._by_status: Counter[int] = Counter()
            self._weight = 0
            self._weight_by_pool: Counter[str] = Counter()
            self._max_window_weight = 0
            self._faults: Counter[str] = Counter()

    def record_request(self, path: str) -> None:
        """Count one request to ``path``."""
        with self._lock:
            self._requests += 1
            self._by_path[path] += 1

    def record_response(self, status: int) -> None:
        """Count one response with ``status``."""
        with self._lock:
            self._by_status[status] += 1

    def record_weight(self, weight: int, window_used: int, pool: str = "futures") -> None:
        """Add ``weight`` to the total weight charged; ``window_used`` is the client's
        weight in ``pool``'s current window after this charge."""
        with self._lock:
            self._weight += weight
            self._weight_by_pool[pool] += weight
            self._max_window_weight = max(self._max_window_weight, window_used)

    def record_fault(self, kind: str) -> None:
        """Count one injected fault of ``kind``."""
        with self._lock:
            self._faults[kind] += 1

    @property
    def requests(self) -> int:
        """Total requests received (control endpoints included)."""
        with self._lock:
            return self._requests

    @property
    def requests_by_path(self) -> dict[str, int]:
        """Requests per URL path."""
        with self._lock:
            return dict(self._by_path)

    @property
    def responses_by_status(self) -> dict[int, int]:
        """Responses per HTTP status (dropped connections are not responses)."""
        with self._lock:
            return dict(self._by_status)

    @property
    def weight_used_total(self) -> int:
        """Sum of request weight charged, all clients and windows."""
        with self._lock:
            return self._weight

    @property
    def weight_by_pool(self) -> dict[str, int]:
        """Weight charged per rate-limit pool (``futures``, ``spot``)."""
        with self._lock:
            return dict(self._weight_by_pool)

    @property
    def max_window_weight(self) -> int:
        """The most weight one client IP was charged in one window of one pool."""
        with self._lock:
            return self._max_window_weight

    @property
    def count_429(self) -> int:
        """Number of 429 responses."""
        with self._lock:
            return self._by_status[429]

    @property
    def count_418(self) -> int:
        """Number of 418 responses."""
        with self._lock:
            return self._by_status[418]

    @property
    def faults_injected(self) -> dict[str, int]:
        """Injected faults per kind."""
        with self._lock:
            return dict(self._faults)

    def snapshot(self) -> dict[str, Any]:
        """All counters as a JSON-ready dict."""
        with self._lock:
            return {
                "requests": self._requests,
                "requests_by_path": dict(self._by_path),
                "responses_by_status": {str(k): v for k, v in self._by_status.items()},
                "weight_used_total": self._weight,
                "weight_by_pool": dict(self._weight_by_pool),
                "max_window_weight": self._max_window_weight,
                "count_429": self._by_status[429],
                "count_418": self._by_status[418],
                "faults_injected": dict(self._faults),
            }
