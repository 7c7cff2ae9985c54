"""The liveness report: the :class:`LivenessReport` value and its Markdown (pure).

A report covers one network and one or more markets (:class:`MarketReport`), each with its
URLs, clock offset, route rule and streams. The Markdown is kept narrow enough for the
Prefect UI's artifact page at 1,400 px: metadata as a list (per market, nested), a summary
of five columns with one row per stream under each market's heading (the checks that did
not pass named in one cell), the verdict, the diagnosis, the next steps, then every
check's status and detail per stream, grouped by market.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from exchange.stream import ConnectionStats, StreamStats
from exchange.ws_events import KLINE, RequiredRoute

from .checks import (
    CHECKS_BY_KIND,
    FAIL,
    PASS,
    SKIP,
    WARN,
    CandleCheck,
    Check,
    candle_time,
    lag_summary,
    worst,
)


@dataclass
class StreamReport:
    """The checks and numbers of one stream (``kind``: kline or markPrice)."""

    stream: str
    checks: list[Check]
    metrics: dict[str, Any]
    candles: list[CandleCheck] = field(default_factory=list)
    kind: str = KLINE

    @property
    def status(self) -> str:
        """The worst of its checks."""
        return worst(c.status for c in self.checks)


@dataclass
class MarketReport:
    """One market of a run: where it was asked, its route rule, and its streams.

    Attributes:
        market, title: the market's name (``usdm``) and the report's name for it.
        ws_url, rest_url: the WebSocket base URL sampled and the REST base URL asked.
        clock_offset_ms: exchange clock minus local clock (None: unknown).
        route: the route rule its streams were judged with (None: no known rule).
        streams: one report per stream, in the order sampled.
    """

    market: str
    title: str
    ws_url: str
    rest_url: str
    clock_offset_ms: int | None
    route: RequiredRoute | None
    streams: list[StreamReport]


@dataclass
class LivenessReport:
    """Everything the Markdown report and the warehouse rows are made from."""

    run_id: str
    started_at: datetime
    network: str
    seconds: float
    api_key_masked: str | None
    versions: dict[str, str]
    markets: list[MarketReport]
    diagnosis: list[str]
    next_steps: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def streams(self) -> list[StreamReport]:
        """Every market's streams, market by market."""
        return [s for m in self.markets for s in m.streams]

    @property
    def verdict(self) -> str:
        """The worst stream's status; FAIL when there is no stream at all."""
        streams = self.streams
        return worst(s.status for s in streams) if streams else FAIL

    @property
    def healthy(self) -> bool:
        """PASS or WARN."""
        return self.verdict in (PASS, WARN)


def stream_metrics(
    s: StreamStats, conn: ConnectionStats, seconds: float, candles: list[CandleCheck] | None
) -> dict[str, Any]:
    """The numbers of one stream, as stored in ``liveness_streams``."""
    lag = lag_summary(s.lag_ms)
    return {
        "connect_ms": conn.connect_ms,
        "ack": s.ack,
        "ack_error": s.ack_error or None,
        "first_event_s": s.first_event_s,
        "events": s.events,
        "events_per_s": round(s.events / seconds, 3) if seconds else 0.0,
        "parse_failures": s.parse_failures,
        "lag_p50_ms": lag.p50 if lag else None,
        "lag_p95_ms": lag.p95 if lag else None,
        "lag_max_ms": lag.max if lag else None,
        "out_of_order": s.out_of_order,
        "duplicates": s.duplicates,
        "overflow": s.overflow,
        "closed_seen": len(s.closed),
        "rest_mismatches": sum(1 for c in candles or [] if c.missing or c.mismatches),
        "disconnects": len(conn.disconnects),
        "reconnects": conn.reconnects,
    }


def render_report(report: LivenessReport) -> str:
    """The report as Markdown: metadata, a summary table per market, verdict, diagnosis,
    details."""
    r = report
    versions = ", ".join(f"{k} {v}" for k, v in r.versions.items())
    lines = [
        f"# WebSocket liveness: {r.verdict}",
        "",
        f"- **run:** `{r.run_id}`",
        f"- **time (UTC):** {r.started_at.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
        f"- **network:** {r.network}",
        f"- **markets:** {', '.join(f'{m.title} (`{m.market}`)' for m in r.markets) or 'none'}",
        f"- **window:** {r.seconds:g} s",
        f"- **API key:** {r.api_key_masked or 'not set (public market data needs none)'}",
        f"- **versions:** {versions}",
    ]
    for m in r.markets:
        lines += [
            f"- **{m.title}** (`{m.market}`):",
            f"  - **WebSocket URL:** `{m.ws_url}`",
            f"  - **REST URL:** `{m.rest_url}`",
            f"  - **route rule:** {_route_text(m.route)}",
            f"  - **clock offset:** {_offset_text(m.clock_offset_ms)}",
            f"  - **streams:** {', '.join(f'`{s.stream}`' for s in m.streams) or 'none'}",
        ]
    lines += ["", "## Summary"]
    for m in r.markets:
        lines += [
            "",
            f"### {m.title} (`{m.market}`)",
            "",
            "| stream | verdict | events | lag p95 | checks not passed |",
            "|---|---|---|---|---|",
        ]
        lines += [_summary_row(s) for s in m.streams]
    lines += ["", f"## Verdict: {r.verdict}", ""]
    lines.append(
        "Healthy: every stream connected, was acknowledged and delivered events."
        if r.verdict == PASS
        else "Healthy, with warnings (see the diagnosis)."
        if r.verdict == WARN
        else "Unhealthy: see the diagnosis."
    )
    lines += ["", "## Diagnosis", ""]
    lines += [f"- {d}" for d in r.diagnosis] or ["- nothing wrong was seen"]
    lines += [f"- note: {n}" for n in r.notes]
    lines += ["", "## Next steps", ""]
    lines += [f"{i}. {step}" for i, step in enumerate(r.next_steps, 1)] or ["1. none"]
    lines += ["", "## Per-stream details"]
    for m in r.markets:
        lines += ["", f"### {m.title} (`{m.market}`)"]
        for s in m.streams:
            lines += ["", f"#### `{s.stream}`: {s.status}", ""]
            lines += [f"- **{c.name}** {c.status}: {c.detail}" for c in s.checks]
            lines.append(
                "- numbers: "
                + ", ".join(f"{k} {_fmt(v)}" for k, v in s.metrics.items() if k != "ack_error")
            )
            if s.candles:
                lines += ["", "| closed candle (UTC) | REST comparison |", "|---|---|"]
                lines += [
                    f"| {candle_time(c.open_time_ms)} | {_comparison(c)} |" for c in s.candles
                ]
    return "\n".join(lines) + "\n"


def _summary_row(s: StreamReport) -> str:
    m = s.metrics
    rate = m.get("events_per_s")
    events = f"{_fmt(m.get('events'))}" + (f" ({_fmt(rate)}/s)" if rate is not None else "")
    lag = m.get("lag_p95_ms")
    lag_text = "–" if lag is None else f"{lag:.0f} ms"
    return f"| `{s.stream}` | **{s.status}** | {events} | {lag_text} | {_not_passed(s)} |"


def _route_text(route: RequiredRoute | None) -> str:
    if route is None:
        return "none known (silence is not blamed on the URL)"
    when = f"since {route.since}" if route.since else "as on mainnet (assumed, unconfirmed)"
    return f"kline streams only under `{route.path}`, {when}: `{route.url}`"


def _offset_text(offset_ms: int | None) -> str:
    if offset_ms is None:
        return "unknown (REST time unavailable)"
    return f"{offset_ms:+d} ms (exchange − local)"


def _comparison(c: CandleCheck) -> str:
    if c.missing:
        return "missing from REST"
    if not c.mismatches:
        return "identical"
    return ", ".join(f"{x.field}: ws {x.ws} ≠ rest {x.rest}" for x in c.mismatches)


def _not_passed(stream: StreamReport) -> str:
    """``rest FAIL, lag WARN; 2 skipped``, or ``none`` when every check passed.

    The checks of the stream's kind that it lacks count as skipped.
    """
    names = CHECKS_BY_KIND[stream.kind]
    by_name = {c.name: c.status for c in stream.checks}
    statuses = [by_name.get(name, SKIP) for name in names]
    named = [f"{n} {st}" for n, st in zip(names, statuses, strict=True) if st not in (PASS, SKIP)]
    skipped = statuses.count(SKIP)
    text = ", ".join(named) or ("none" if not skipped else "")
    if skipped:
        text += f"{'; ' if text else ''}{skipped} skipped"
    return text


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)
