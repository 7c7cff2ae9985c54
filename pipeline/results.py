"""What a run did: one result per series, merged, and the run's verdict (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from exchange.markets import DEFAULT_KIND, DEFAULT_MARKET

if TYPE_CHECKING:
    from .plan import SeriesPlan


@dataclass
class SeriesResult:
    """What happened to one series in one run (one row of the summary table)."""

    symbol: str
    interval: str
    status: str = "ok"  # ok | rejected-rows | failed | banned | nothing-to-do
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    rejected: int = 0
    open_skipped: int = 0
    requests: int = 0
    weight: int = 0
    seconds: float = 0.0
    error: str = ""
    banned_until_ms: int = 0
    from_archive: int = 0  # of ``fetched``: candles read from archive files
    archive_files: int = 0
    archive_fallbacks: int = 0  # archive files that failed verification: loaded over REST
    market: str = DEFAULT_MARKET
    kind: str = DEFAULT_KIND  # trade, mark, index or premium (exchange.markets.KINDS)

    @classmethod
    def for_plan(cls, plan: SeriesPlan) -> SeriesResult:
        """An empty result for the series of ``plan``."""
        return cls(plan.symbol, plan.interval, market=plan.market, kind=plan.kind)

    @property
    def from_rest(self) -> int:
        return self.fetched - self.from_archive

    def as_row(self) -> dict[str, object]:
        """The summary's row: market and kind first, then the series and its counters."""
        row = {"market": self.market, "kind": self.kind, **asdict(self)}
        del row["banned_until_ms"]
        row["from_rest"] = self.from_rest
        return row

    def absorb(self, other: SeriesResult) -> None:
        """Add ``other``'s counters (a sub-range of the same series) to this result."""
        for name in COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        if other.status not in ("ok", "nothing-to-do", "rejected-rows"):
            self.status, self.error = other.status, other.error
            self.banned_until_ms = other.banned_until_ms


COUNTERS = (
    "fetched",
    "inserted",
    "updated",
    "rejected",
    "open_skipped",
    "requests",
    "weight",
    "from_archive",
    "archive_files",
    "archive_fallbacks",
)
Progress = Callable[[int], None]
"""Called with the number of expected candles a step has just accounted for."""


@dataclass
class IngestSummary:
    run_id: str
    status: str
    series: list[SeriesResult] = field(default_factory=list)
    requests: int = 0
    weight: int = 0
    retries: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    source: str = "auto"
    archive_requests: int = 0
    archive_bytes: int = 0
    selection: list[str] = field(default_factory=list)  # how each pattern (and --top) resolved

    def as_dict(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "requests": self.requests,
            "weight": self.weight,
            "retries": self.retries,
            "notes": self.notes,
            "selection": self.selection,
            "source": self.source,
            "archive_requests": self.archive_requests,
            "archive_bytes": self.archive_bytes,
            "series": [s.as_row() for s in self.series],
        }


def merge_results(results: list[SeriesResult]) -> list[SeriesResult]:
    """One row per series: a repaired hole and the main range of a series add up."""
    merged: dict[tuple[str, str, str, str], SeriesResult] = {}
    for r in results:
        key = (r.market, r.kind, r.symbol, r.interval)
        if key not in merged:
            merged[key] = r
            continue
        m = merged[key]
        for name in COUNTERS:
            setattr(m, name, getattr(m, name) + getattr(r, name))
        m.seconds = max(m.seconds, r.seconds)
        if r.status not in ("ok", "nothing-to-do") and m.status in ("ok", "nothing-to-do"):
            m.status, m.error = r.status, r.error
        elif m.status == "nothing-to-do":
            m.status = r.status
    return list(merged.values())


def run_status(results: list[SeriesResult]) -> str:
    bad = [r for r in results if r.status in ("failed", "banned", "rejected-rows")]
    if not bad:
        return "ok"
    return "failed" if len(bad) == len(results) else "partial"


def counts_line(results: list[SeriesResult]) -> str:
    total = {
        k: sum(getattr(r, k) for r in results)
        for k in ("fetched", "inserted", "updated", "rejected")
    }
    return ", ".join(f"{k} {v}" for k, v in total.items())


def problem_line(results: list[SeriesResult]) -> str:
    banned = [r for r in results if r.status == "banned"]
    if banned:
        return banned[0].error
    failed = [r for r in results if r.status == "failed"]
    rejected = [r for r in results if r.rejected]
    parts = []
    if failed:
        first = failed[0]
        parts.append(
            f"{len(failed)} series failed (first: {first.symbol} {first.interval}: {first.error})"
        )
    if rejected:
        n = sum(r.rejected for r in rejected)
        parts.append(f"{n} rows rejected by validation (see table klines_rejected)")
    return "; ".join(parts) + "; rerun to resume where it stopped"
