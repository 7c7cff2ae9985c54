"""Fault injection settings of the simulator."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, fields
from typing import Any

FAULT_KINDS = ("500", "502", "503", "drop", "slow", "truncate", "html403")
SCRIPT_KINDS = (*FAULT_KINDS, "429", "418", "-1121", "bad-row")


@dataclass
class Faults:
    """What goes wrong, and how often. Deterministic given ``seed``.

    ``script`` entries are consumed first (one per klines request), then each klines
    request draws a fault from ``kinds`` with probability ``error_rate``. ``restricted``
    and ``waf_block`` apply to every Binance endpoint.
    """

    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    error_rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    slow_seconds: float = 30.0
    script: list[str] = field(default_factory=list)
    invalid_symbols: set[str] = field(default_factory=set)
    restricted: bool = False
    waf_block: bool = False
    seed: int = 1
    _rng: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._validate()
        self._rng = random.Random(self.seed)

    def _validate(self) -> None:
        bad = [k for k in self.kinds if k not in FAULT_KINDS]
        bad += [k for k in self.script if k not in SCRIPT_KINDS]
        if bad:
            raise ValueError(f"unknown fault kinds: {bad}")
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError("error_rate must be within [0, 1]")

    def reset(self) -> None:
        """Restore every field to its default and reseed the RNG."""
        self.update(**{f.name: _default(f) for f in fields(self) if f.init})

    def update(self, **changes: Any) -> None:
        """Set fields by name (JSON-friendly: lists are accepted for tuples and sets)."""
        names = {f.name for f in fields(self) if f.init}
        unknown = set(changes) - names
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        for name, value in changes.items():
            if name == "kinds":
                value = tuple(value)
            elif name == "script":
                value = [str(v) for v in value]
            elif name == "invalid_symbols":
                value = set(value)
            setattr(self, name, value)
        self._validate()
        if "seed" in changes:
            self._rng = random.Random(self.seed)

    def next_fault(self) -> str | None:
        """The fault for the next klines request, if any (consumes the script)."""
        if self.script:
            return self.script.pop(0)
        if self.error_rate > 0 and self.kinds and self._rng.random() < self.error_rate:
            return self._rng.choice(self.kinds)
        return None

    def latency_s(self) -> float:
        """Delay to add before a response, in seconds (never negative)."""
        if self.latency_ms <= 0 and self.latency_jitter_ms <= 0:
            return 0.0
        jitter = self._rng.uniform(-self.latency_jitter_ms, self.latency_jitter_ms)
        return max(0.0, self.latency_ms + jitter) / 1000.0

    def to_json(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict."""
        return {
            "latency_ms": self.latency_ms,
            "latency_jitter_ms": self.latency_jitter_ms,
            "error_rate": self.error_rate,
            "kinds": list(self.kinds),
            "slow_seconds": self.slow_seconds,
            "script": list(self.script),
            "invalid_symbols": sorted(self.invalid_symbols),
            "restricted": self.restricted,
            "waf_block": self.waf_block,
            "seed": self.seed,
        }


def _default(f: Any) -> Any:
    return f.default_factory() if callable(f.default_factory) else f.default
