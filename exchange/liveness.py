"""Liveness verdicts from a stream sample, and the Markdown report (pure, no Prefect).

:func:`cross_check` is the only I/O here (REST, through :class:`~exchange.rest.RestClient`).
:func:`build_report` turns measurements into checks, a verdict, a diagnosis and next
steps; :func:`render_report` turns that into Markdown. Zero events on a subscribed stream
is always a FAIL with a diagnosis; a window too short to see a candle close is
"NOT OBSERVED", never a failure.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .config import mask_secret
from .errors import ExchangeError
from .rest import RestClient
from .stream import ConnectionStats, SampleResult, StreamConfig, StreamStats, sample_streams
from .ws_events import USDM_MARKET_ROUTE, FieldMismatch, compare_with_rest

PASS, WARN, FAIL, NOT_OBSERVED, SKIP = "PASS", "WARN", "FAIL", "NOT OBSERVED", "SKIP"
CHECKS = (
    "connect",
    "subscribe",
    "events",
    "stall",
    "connection",
    "parse",
    "lag",
    "order",
    "buffer",
    "rest",
)
LAG_WARN_MS = 2000.0
BINANCE_MARKET_URL = "wss://fstream.binance.com/market"


@dataclass(frozen=True)
class Check:
    """One check of one stream."""

    name: str
    status: str
    detail: str


@dataclass(frozen=True)
class CandleCheck:
    """A closed candle seen on the stream, compared with REST."""

    open_time_ms: int
    mismatches: list[FieldMismatch] = field(default_factory=list)
    missing: bool = False  # REST has no such candle


@dataclass
class StreamReport:
    """The checks and numbers of one stream."""

    stream: str
    checks: list[Check]
    metrics: dict[str, Any]
    candles: list[CandleCheck] = field(default_factory=list)

    @property
    def status(self) -> str:
        return worst(c.status for c in self.checks)


@dataclass
class LivenessReport:
    """Everything the Markdown report and the warehouse rows are made from."""

    run_id: str
    started_at: datetime
    ws_url: str
    rest_url: str
    seconds: float
    api_key_masked: str | None
    versions: dict[str, str]
    clock_offset_ms: int | None
    streams: list[StreamReport]
    diagnosis: list[str]
    next_steps: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return worst(s.status for s in self.streams) if self.streams else FAIL

    @property
    def healthy(self) -> bool:
        return self.verdict in (PASS, WARN)


def worst(statuses: Any) -> str:
    """FAIL over WARN over PASS; NOT OBSERVED and SKIP count as PASS."""
    found = set(statuses)
    return FAIL if FAIL in found else WARN if WARN in found else PASS


# ---------------------------------------------------------------------- REST cross-check


def cross_check(client: RestClient, sample: SampleResult) -> dict[str, list[CandleCheck]]:
    """Fetch every closed candle seen on the streams over REST and compare field by field.

    Raises:
        ExchangeError: REST failed (the caller reports it as a failed check).
    """
    out: dict[str, list[CandleCheck]] = {}
    for s in sample.streams:
        checks = []
        for event in s.closed:
            page = client.klines_page(
                event.symbol, event.interval, event.open_time_ms, event.open_time_ms, 1
            )
            rows = _rows(page.body)
            row = next((r for r in rows if int(r[0]) == event.open_time_ms), None)
            if row is None:
                checks.append(CandleCheck(event.open_time_ms, missing=True))
            else:
                checks.append(CandleCheck(event.open_time_ms, compare_with_rest(event, row)))
        out[s.stream] = checks
    return out


def _rows(body: str) -> list[list[Any]]:
    return list(json.loads(body))


def clock_offset_ms(client: RestClient) -> int:
    """Exchange clock minus local clock, from ``/fapi/v1/time`` (midpoint of the call)."""
    before = time.time()
    server_ms = client.server_time_ms()
    return int(server_ms - (before + time.time()) / 2 * 1000)


def check_liveness(
    config: StreamConfig,
    client: RestClient,
    streams: list[str],
    seconds: float,
    *,
    run_id: str,
    versions: dict[str, str] | None = None,
) -> LivenessReport:
    """Sample the streams, cross-check their closed candles over REST, build the report.

    The plain composition of the steps the ``ws-liveness`` flow runs as tasks.
    """
    started = datetime.now(UTC)
    offset, rest_error = None, None
    try:
        offset = clock_offset_ms(client)
    except ExchangeError as exc:
        rest_error = str(exc)
    sample = run_sample(config, streams, seconds, offset or 0)
    candles = None
    if rest_error is None:
        try:
            candles = cross_check(client, sample)
        except ExchangeError as exc:
            rest_error = str(exc)
    key = client.config.api_key
    return build_report(
        sample,
        candles,
        rest_error,
        run_id=run_id,
        started_at=started,
        ws_url=config.base_url,
        rest_url=client.base_url,
        api_key_masked=mask_secret(key) if key else None,
        versions=versions or {},
        stall_after=config.stall_after,
        clock_offset_ms=offset,
    )


def run_sample(
    config: StreamConfig, streams: list[str], seconds: float, offset_ms: int = 0
) -> SampleResult:
    """Run :func:`~exchange.stream.sample_streams` on its own event loop, in a worker
    thread when this thread already runs one."""
    coro = sample_streams(config, streams, seconds, offset_ms)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


# ---------------------------------------------------------------------- verdicts


@dataclass(frozen=True)
class _Finding:
    category: str
    message: str
    next_step: str


def build_report(
    sample: SampleResult,
    candles: dict[str, list[CandleCheck]] | None,
    rest_error: str | None,
    *,
    run_id: str,
    started_at: datetime,
    ws_url: str,
    rest_url: str,
    api_key_masked: str | None,
    versions: dict[str, str],
    stall_after: float,
    clock_offset_ms: int | None,
) -> LivenessReport:
    """Checks per stream, the verdict, the diagnosis and the next steps."""
    legacy = not USDM_MARKET_ROUTE.served_by(ws_url)
    reports, findings = [], []
    for s in sample.streams:
        conn = sample.connections[s.connection]
        checks, found = _stream_checks(
            s, conn, sample.seconds, legacy, stall_after, candles, rest_error
        )
        reports.append(
            StreamReport(
                s.stream,
                checks,
                stream_metrics(s, conn, sample.seconds, candles),
                (candles or {}).get(s.stream, []),
            )
        )
        findings.extend((s.stream, f) for f in found)
    diagnosis, steps = _group(findings)
    notes = []
    if any(c.name == "rest" and c.status == NOT_OBSERVED for r in reports for c in r.checks):
        notes.append(
            f"No candle closed during the {sample.seconds:g} s window on some streams, so their "
            "REST cross-check was not observed (not a failure): sample longer than the "
            "interval (e.g. --seconds 90 for 1m) to cover a close."
        )
    if legacy:
        notes.append(
            f"{ws_url} has no /market route: since 2026-04-23 Binance serves kline streams "
            f"only under {BINANCE_MARKET_URL}."
        )
    return LivenessReport(
        run_id=run_id,
        started_at=started_at,
        ws_url=ws_url,
        rest_url=rest_url,
        seconds=sample.seconds,
        api_key_masked=api_key_masked,
        versions=versions,
        clock_offset_ms=clock_offset_ms,
        streams=reports,
        diagnosis=diagnosis,
        next_steps=steps,
        notes=notes,
    )


def _stream_checks(
    s: StreamStats,
    conn: ConnectionStats,
    seconds: float,
    legacy: bool,
    stall_after: float,
    candles: dict[str, list[CandleCheck]] | None,
    rest_error: str | None,
) -> tuple[list[Check], list[_Finding]]:
    checks: list[Check] = []
    found: list[_Finding] = []

    def add(name: str, status: str, detail: str, finding: _Finding | None = None) -> None:
        checks.append(Check(name, status, detail))
        if finding is not None:
            found.append(finding)

    if conn.failure_stage:
        finding = _connect_finding(conn)
        add("connect", FAIL, finding.message, finding)
        for name in CHECKS[1:]:
            add(name, SKIP, "no connection")
        return checks, found
    add("connect", PASS, f"connected in {conn.connect_ms or 0:.0f} ms")

    if s.ack == "rejected":
        msg = f"subscription rejected by the server: {s.ack_error}"
        add(
            "subscribe",
            FAIL,
            msg,
            _Finding(
                "rejected",
                msg,
                "Fix what the server's error names (stream names, number of streams per connection); the error text is quoted above.",
            ),
        )
        for name in CHECKS[2:]:
            add(name, SKIP, "not subscribed")
        return checks, found
    if s.ack != "ok":
        msg = "no reply to SUBSCRIBE"
        add(
            "subscribe",
            FAIL,
            msg,
            _Finding(
                "no-ack",
                msg,
                "Check that KLINES_WS_URL points at a Binance market-stream endpoint.",
            ),
        )
    else:
        add("subscribe", PASS, 'acknowledged ({"result": null})')

    rate = s.events / seconds if seconds else 0.0
    if s.events == 0:
        if legacy:
            msg = (
                f"subscribed but silent: the server acknowledged, then sent 0 events in "
                f"{seconds:g} s; the URL lacks the /market route, the likely cause"
            )
            step = f"Set KLINES_WS_URL={BINANCE_MARKET_URL} (klines are served only under /market since 2026-04-23) and rerun."
        else:
            msg = f"subscribed but silent: 0 events in {seconds:g} s"
            step = "Check that the symbol is trading (exchangeInfo) and the interval exists; compare with REST klines; rerun with a longer --seconds."
        add("events", FAIL, msg, _Finding("silent", msg, step))
    else:
        add(
            "events",
            PASS,
            f"{s.events} events, first after {s.first_event_s or 0:.2f} s, {rate:.2f}/s",
        )

    silence = s.silence_at_end_s
    if s.events and silence is not None and silence > stall_after:
        msg = f"stream stalled after {s.events} events: nothing for the last {silence:.1f} s (limit {stall_after:g} s)"
        add(
            "stall",
            FAIL,
            msg,
            _Finding(
                "stalled",
                msg,
                "The connection stayed open but events stopped: rerun; a long-running consumer must resubscribe or reconnect after this much silence and backfill over REST.",
            ),
        )
    elif s.events:
        add("stall", PASS, f"last event {silence or 0:.2f} s before the end")
    else:
        add("stall", SKIP, "no events")

    if conn.disconnects:
        text = "; ".join(conn.disconnects)
        if conn.reconnect_failure or len(conn.disconnects) > conn.reconnects:
            why = conn.reconnect_failure or "closed again after the one reconnect"
            msg = f"disconnected by the server mid-sample ({text}); {why}"
            add(
                "connection",
                FAIL,
                msg,
                _Finding(
                    "disconnected",
                    msg,
                    "The server keeps closing the connection: check the 10 messages/s inbound limit, pong replies and the 24 h age limit; rerun.",
                ),
            )
        else:
            msg = (
                f"disconnected by the server mid-sample ({text}); reconnected once and resubscribed"
            )
            add(
                "connection",
                WARN,
                msg,
                _Finding(
                    "disconnected",
                    msg,
                    "Expected at the 24 h age limit; otherwise check pongs and the 10 messages/s limit. Consumers must reconnect and backfill the gap over REST.",
                ),
            )
    else:
        add("connection", PASS, "no disconnect")

    if s.parse_failures:
        example = s.parse_examples[0] if s.parse_examples else ""
        msg = f"{s.parse_failures} frames could not be parsed (e.g. {example})"
        add(
            "parse",
            FAIL,
            msg,
            _Finding(
                "parse",
                msg,
                "The server sent frames that are not valid kline events: keep the examples, check the route and stream names, and do not store these events.",
            ),
        )
    else:
        add("parse", PASS if s.events else SKIP, "every frame parsed" if s.events else "no events")

    lags = list(s.lag_ms)
    if lags:
        p95 = _percentile(lags, 95)
        detail = f"lag E→receive p50 {_percentile(lags, 50):.0f} ms, p95 {p95:.0f} ms, max {max(lags):.0f} ms"
        if p95 > LAG_WARN_MS:
            add(
                "lag",
                WARN,
                detail,
                _Finding(
                    "lag",
                    "high lag between event time and receipt: " + detail,
                    "Check the local clock (NTP) and the network path; the report's clock offset shows the skew against the exchange.",
                ),
            )
        else:
            add("lag", PASS, detail)
    else:
        add("lag", SKIP, "no events")

    if s.out_of_order or s.duplicates:
        msg = f"{s.out_of_order} out-of-order and {s.duplicates} duplicate events"
        add(
            "order",
            WARN,
            msg,
            _Finding(
                "order",
                msg,
                "Deduplicate by (open_time, E) and order by E before using the events.",
            ),
        )
    else:
        add(
            "order",
            PASS if s.events else SKIP,
            "in order, no duplicates" if s.events else "no events",
        )

    if s.overflow:
        msg = f"{s.overflow} events dropped from a full buffer (consumer too slow)"
        add(
            "buffer",
            WARN,
            msg,
            _Finding("overflow", msg, "Raise the buffer size or make the consumer faster."),
        )
    else:
        add("buffer", PASS if s.events else SKIP, "no overflow" if s.events else "no events")

    if rest_error and s.closed:
        msg = f"REST cross-check failed: {rest_error}"
        add(
            "rest",
            FAIL,
            msg,
            _Finding("rest-error", msg, "Check KLINES_REST_URL and the network, then rerun."),
        )
    elif not s.closed:
        add("rest", NOT_OBSERVED, f"no candle closed within the {seconds:g} s window")
    else:
        checked = (candles or {}).get(s.stream, [])
        bad = [c for c in checked if c.missing or c.mismatches]
        if bad:
            parts = [_candle_text(c) for c in bad]
            msg = (
                f"REST/WS disagreement on {len(bad)} of {len(checked)} closed candles: "
                + "; ".join(parts)
            )
            add(
                "rest",
                FAIL,
                msg,
                _Finding(
                    "rest-mismatch",
                    msg,
                    "Do not store WebSocket candles without reconciling them with REST; keep this report with the listed candles.",
                ),
            )
        else:
            add("rest", PASS, f"{len(checked)} closed candles identical to REST, field by field")
    return checks, found


def _connect_finding(conn: ConnectionStats) -> _Finding:
    stage, detail, status = conn.failure_stage, conn.failure_detail, conn.failure_status
    if stage == "dns_tcp":
        return _Finding(
            "dns_tcp",
            f"DNS/TCP failure: {detail}",
            "Check the host and port in KLINES_WS_URL, DNS, and that outbound TCP to it is allowed (firewall, proxy).",
        )
    if stage == "tls":
        return _Finding(
            "tls",
            f"TLS failure: {detail}",
            "Check the scheme (wss:// for Binance, ws:// for a local simulator), the system CA certificates and any TLS-intercepting proxy.",
        )
    if stage == "timeout":
        return _Finding(
            "timeout",
            f"opening handshake timed out: {detail}",
            "Check the network path and proxies; rerun.",
        )
    if status == 451:
        step = "Binance refuses this location (HTTP 451): run from a location Binance serves."
    elif status == 403:
        step = "Forbidden (HTTP 403): the CDN/WAF blocks this IP or the path is wrong; check the URL and wait before retrying."
    else:
        step = "Check the URL path: kline streams are at <base>/ws and <base>/stream under /market."
    return _Finding(f"upgrade-{status}", f"HTTP upgrade refused: {detail}", step)


def _candle_text(c: CandleCheck) -> str:
    when = datetime.fromtimestamp(c.open_time_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")
    if c.missing:
        return f"{when} missing from REST"
    return f"{when}: " + ", ".join(f"{m.field} ws {m.ws} ≠ rest {m.rest}" for m in c.mismatches)


def _group(findings: list[tuple[str, _Finding]]) -> tuple[list[str], list[str]]:
    """One diagnosis line per category (streams listed), in order of first appearance."""
    order: dict[str, list[tuple[str, _Finding]]] = {}
    for stream, f in findings:
        order.setdefault(f.category, []).append((stream, f))
    diagnosis, steps = [], []
    for items in order.values():
        streams = [s for s, _ in items]
        shown = ", ".join(streams[:5]) + (
            f" and {len(streams) - 5} more" if len(streams) > 5 else ""
        )
        diagnosis.append(f"{shown}: {items[0][1].message}")
        if items[0][1].next_step not in steps:
            steps.append(items[0][1].next_step)
    return diagnosis, steps


def stream_metrics(
    s: StreamStats,
    conn: ConnectionStats,
    seconds: float,
    candles: dict[str, list[CandleCheck]] | None,
) -> dict[str, Any]:
    """The numbers of one stream, as stored in ``liveness_streams``."""
    lags = list(s.lag_ms)
    checked = (candles or {}).get(s.stream, [])
    return {
        "connect_ms": conn.connect_ms,
        "ack": s.ack,
        "ack_error": s.ack_error or None,
        "first_event_s": s.first_event_s,
        "events": s.events,
        "events_per_s": round(s.events / seconds, 3) if seconds else 0.0,
        "parse_failures": s.parse_failures,
        "lag_p50_ms": _percentile(lags, 50) if lags else None,
        "lag_p95_ms": _percentile(lags, 95) if lags else None,
        "lag_max_ms": max(lags) if lags else None,
        "out_of_order": s.out_of_order,
        "duplicates": s.duplicates,
        "overflow": s.overflow,
        "closed_seen": len(s.closed),
        "rest_mismatches": sum(1 for c in checked if c.missing or c.mismatches),
        "disconnects": len(conn.disconnects),
        "reconnects": conn.reconnects,
    }


def _percentile(values: list[float], pct: int) -> float:
    if len(values) == 1:
        return float(values[0])
    return float(statistics.quantiles(values, n=100, method="inclusive")[pct - 1])


# ---------------------------------------------------------------------- Markdown


def render_report(report: LivenessReport) -> str:
    """The report as Markdown: metadata, a summary table, verdict, diagnosis, details.

    Kept narrow enough for the Prefect UI's artifact page at 1,400 px: the summary has one
    row per stream and five columns (the checks that did not pass are named in one cell);
    every check's status and detail follow per stream.
    """
    r = report
    offset = (
        "unknown (REST time unavailable)"
        if r.clock_offset_ms is None
        else f"{r.clock_offset_ms:+d} ms (exchange − local)"
    )
    versions = ", ".join(f"{k} {v}" for k, v in r.versions.items())
    lines = [
        f"# WebSocket liveness: {r.verdict}",
        "",
        f"- **run:** `{r.run_id}`",
        f"- **time (UTC):** {r.started_at.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
        f"- **WebSocket URL:** `{r.ws_url}`",
        f"- **REST URL:** `{r.rest_url}`",
        f"- **streams:** {', '.join(f'`{s.stream}`' for s in r.streams)}",
        f"- **window:** {r.seconds:g} s",
        f"- **clock offset:** {offset}",
        f"- **API key:** {r.api_key_masked or 'not set (public market data needs none)'}",
        f"- **versions:** {versions}",
        "",
        "## Summary",
        "",
        "| stream | verdict | events | lag p95 | checks not passed |",
        "|---|---|---|---|---|",
    ]
    for s in r.streams:
        m = s.metrics
        rate = m.get("events_per_s")
        events = f"{_fmt(m.get('events'))}" + (f" ({_fmt(rate)}/s)" if rate is not None else "")
        lag = m.get("lag_p95_ms")
        lag_text = "–" if lag is None else f"{lag:.0f} ms"
        lines.append(
            f"| `{s.stream}` | **{s.status}** | {events} | {lag_text} | {_not_passed(s)} |"
        )
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
    for s in r.streams:
        m = s.metrics
        lines += ["", f"### `{s.stream}`: {s.status}", ""]
        lines += [f"- **{c.name}** {c.status}: {c.detail}" for c in s.checks]
        lines.append(
            "- numbers: "
            + ", ".join(f"{k} {_fmt(v)}" for k, v in m.items() if k not in ("ack_error",))
        )
        if s.candles:
            lines += ["", "| closed candle (UTC) | REST comparison |", "|---|---|"]
            for c in s.candles:
                when = datetime.fromtimestamp(c.open_time_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")
                text = (
                    "missing from REST"
                    if c.missing
                    else (
                        "identical"
                        if not c.mismatches
                        else ", ".join(
                            f"{x.field}: ws {x.ws} ≠ rest {x.rest}" for x in c.mismatches
                        )
                    )
                )
                lines.append(f"| {when} | {text} |")
    return "\n".join(lines) + "\n"


def _not_passed(stream: StreamReport) -> str:
    """``rest FAIL, lag WARN; 2 skipped``, or ``none`` when every check passed."""
    by_name = {c.name: c.status for c in stream.checks}
    statuses = [by_name.get(name, SKIP) for name in CHECKS]
    named = [f"{n} {st}" for n, st in zip(CHECKS, statuses, strict=True) if st not in (PASS, SKIP)]
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
