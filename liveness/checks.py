"""The checks of one stream: one pure function per check (no I/O, no Prefect).

Each function takes literal measurements (the stats of :mod:`exchange.stream`, or the
small values below) and returns an :class:`Outcome`: the :class:`Check` shown in the
report and, when something is wrong, a :class:`Finding` (what was seen, and the key of
the advice in :data:`liveness.diagnosis.ADVICE`). :func:`stream_checks` runs them in the
report's order for one stream, skipping what a failed connection or subscription makes
meaningless.

Zero events on a subscribed stream is always a FAIL; a window in which no candle closes
makes the REST check NOT OBSERVED, never a failure. A mark-price stream has every check
but the REST one (it has no candles).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from exchange.stream import ConnectionStats, StreamStats
from exchange.ws_events import KLINE, MARK_PRICE, FieldMismatch, KlineEvent, compare_with_rest

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
# The checks each stream kind has, in the report's order.
CHECKS_BY_KIND: dict[str, tuple[str, ...]] = {
    KLINE: CHECKS,
    MARK_PRICE: tuple(name for name in CHECKS if name != "rest"),
}
LAG_WARN_MS = 2000.0  # a p95 lag above this is a WARN


@dataclass(frozen=True)
class Check:
    """One check of one stream: its name, PASS/WARN/FAIL/NOT OBSERVED/SKIP, and why."""

    name: str
    status: str
    detail: str


@dataclass(frozen=True)
class Finding:
    """Something wrong a check saw.

    Attributes:
        category: the diagnosis groups findings of this category into one line.
        message: what was seen, as the diagnosis line says it.
        advice: the key of the next step in :data:`liveness.diagnosis.ADVICE`.
    """

    category: str
    message: str
    advice: str


@dataclass(frozen=True)
class Outcome:
    """What one check function returns."""

    check: Check
    finding: Finding | None = None


@dataclass(frozen=True)
class CandleCheck:
    """A closed candle seen on the stream, compared with REST."""

    open_time_ms: int
    mismatches: list[FieldMismatch] = field(default_factory=list)
    missing: bool = False  # REST has no such candle


@dataclass(frozen=True)
class Lag:
    """Lag from an event's time ``E`` to its receipt, in ms."""

    p50: float
    p95: float
    max: float


def worst(statuses: Iterable[str]) -> str:
    """FAIL over WARN over PASS; NOT OBSERVED and SKIP count as PASS."""
    found = set(statuses)
    return FAIL if FAIL in found else WARN if WARN in found else PASS


def stall_limit(stall_after: float, period_s: float) -> float:
    """Seconds of silence at the end of the window that mean a stall, for a stream that sends
    every ``period_s``: ``stall_after``, but never less than two periods (spot's klines
    come every 2 s, a mark price every 1 or 3 s)."""
    return max(stall_after, 2 * period_s)


def lag_summary(lags_ms: Iterable[float]) -> Lag | None:
    """p50, p95 and max of the lag samples (inclusive percentiles); None without any."""
    values = list(lags_ms)
    if not values:
        return None
    return Lag(_percentile(values, 50), _percentile(values, 95), max(values))


def compare_candle(event: KlineEvent, rows: Sequence[Sequence[Any]]) -> CandleCheck:
    """A closed WebSocket candle against the REST rows fetched for its open time."""
    row = next((r for r in rows if int(r[0]) == event.open_time_ms), None)
    if row is None:
        return CandleCheck(event.open_time_ms, missing=True)
    return CandleCheck(event.open_time_ms, compare_with_rest(event, row))


def candle_time(open_time_ms: int) -> str:
    """A candle's open time as the report shows it: ``2026-11-02 00:07`` (UTC)."""
    return datetime.fromtimestamp(open_time_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


# ---------------------------------------------------------------------- one stream


def stream_checks(
    s: StreamStats,
    conn: ConnectionStats,
    *,
    seconds: float,
    stall_after: float,
    missing_route: str | None,
    candles: list[CandleCheck] | None,
    rest_error: str | None,
) -> list[Outcome]:
    """Every check of one stream, in the report's order.

    After a failed connection the other checks are SKIP ("no connection"); after a
    rejected subscription, those after it ("not subscribed").

    Args:
        s, conn: the stream's measurements and its connection's.
        seconds: the sampling window.
        stall_after: seconds without an event at the end of the window that mean a stall.
        missing_route: the path of the route the URL lacks (``RequiredRoute.path``),
            blamed for silence; None when the URL has it or the exchange has no such rule.
        candles: this stream's closed candles compared with REST (None: not fetched).
        rest_error: why REST could not be asked, if it could not.
    """
    names = CHECKS_BY_KIND[s.kind]
    connect = check_connect(conn)
    if connect.check.status == FAIL:
        return [connect, *(_skipped(name, "no connection") for name in names[1:])]
    subscribe = check_subscribe(s)
    if s.ack == "rejected":
        return [connect, subscribe, *(_skipped(name, "not subscribed") for name in names[2:])]
    others = (
        check_events(s, seconds, missing_route),
        check_stall(s, stall_after),
        check_connection(conn),
        check_parse(s),
        check_lag(s),
        check_order(s),
        check_buffer(s),
        check_rest(s, candles, rest_error, seconds),
    )
    by_name = {outcome.check.name: outcome for outcome in others}
    return [connect, subscribe, *(by_name[name] for name in names[2:])]


def _skipped(name: str, why: str) -> Outcome:
    return Outcome(Check(name, SKIP, why))


# ---------------------------------------------------------------------- the checks


def check_connect(conn: ConnectionStats) -> Outcome:
    """FAIL naming the stage (DNS/TCP, TLS, timeout, refused upgrade) that failed."""
    stage, detail, status = conn.failure_stage, conn.failure_detail, conn.failure_status
    if not stage:
        return Outcome(Check("connect", PASS, f"connected in {conn.connect_ms or 0:.0f} ms"))
    if stage == "dns_tcp":
        finding = Finding("dns_tcp", f"DNS/TCP failure: {detail}", "dns_tcp")
    elif stage == "tls":
        finding = Finding("tls", f"TLS failure: {detail}", "tls")
    elif stage == "timeout":
        finding = Finding("timeout", f"opening handshake timed out: {detail}", "timeout")
    else:
        advice = f"upgrade-{status}" if status in (403, 451) else "upgrade"
        finding = Finding(f"upgrade-{status}", f"HTTP upgrade refused: {detail}", advice)
    return Outcome(Check("connect", FAIL, finding.message), finding)


def check_subscribe(s: StreamStats) -> Outcome:
    """PASS when SUBSCRIBE was acknowledged; FAIL when rejected (quoting the server) or
    unanswered."""
    if s.ack == "rejected":
        msg = f"subscription rejected by the server: {s.ack_error}"
        return Outcome(Check("subscribe", FAIL, msg), Finding("rejected", msg, "rejected"))
    if s.ack != "ok":
        msg = "no reply to SUBSCRIBE"
        return Outcome(Check("subscribe", FAIL, msg), Finding("no-ack", msg, "no-ack"))
    return Outcome(Check("subscribe", PASS, 'acknowledged ({"result": null})'))


def check_events(s: StreamStats, seconds: float, missing_route: str | None) -> Outcome:
    """Events, time to the first one and rate; zero events is a FAIL, blamed on
    ``missing_route`` when the URL lacks the route the exchange requires."""
    if s.events:
        rate = s.events / seconds if seconds else 0.0
        return Outcome(
            Check(
                "events",
                PASS,
                f"{s.events} events, first after {s.first_event_s or 0:.2f} s, {rate:.2f}/s",
            )
        )
    if missing_route:
        msg = (
            f"subscribed but silent: the server acknowledged, then sent 0 events in "
            f"{seconds:g} s; the URL lacks the {missing_route} route, the likely cause"
        )
        return Outcome(Check("events", FAIL, msg), Finding("silent", msg, "silent-route"))
    msg = f"subscribed but silent: 0 events in {seconds:g} s"
    return Outcome(Check("events", FAIL, msg), Finding("silent", msg, "silent"))


def check_stall(s: StreamStats, stall_after: float) -> Outcome:
    """FAIL when events stopped: nothing for more than ``stall_after`` s before the end."""
    if not s.events:
        return Outcome(Check("stall", SKIP, "no events"))
    silence = s.silence_at_end_s
    if silence is not None and silence > stall_after:
        msg = f"stream stalled after {s.events} events: nothing for the last {silence:.1f} s (limit {stall_after:g} s)"
        return Outcome(Check("stall", FAIL, msg), Finding("stalled", msg, "stalled"))
    return Outcome(Check("stall", PASS, f"last event {silence or 0:.2f} s before the end"))


def check_connection(conn: ConnectionStats) -> Outcome:
    """A server disconnect the client reconnected from is a WARN; one it could not
    reconnect from, or a second one, is a FAIL."""
    if not conn.disconnects:
        return Outcome(Check("connection", PASS, "no disconnect"))
    text = "; ".join(conn.disconnects)
    if conn.reconnect_failure or len(conn.disconnects) > conn.reconnects:
        why = conn.reconnect_failure or "closed again after the one reconnect"
        msg = f"disconnected by the server mid-sample ({text}); {why}"
        finding = Finding("disconnected", msg, "reconnect-failed")
        return Outcome(Check("connection", FAIL, msg), finding)
    msg = f"disconnected by the server mid-sample ({text}); reconnected once and resubscribed"
    return Outcome(Check("connection", WARN, msg), Finding("disconnected", msg, "reconnected"))


def check_parse(s: StreamStats) -> Outcome:
    """FAIL when frames could not be parsed, quoting the first example."""
    if s.parse_failures:
        example = s.parse_examples[0] if s.parse_examples else ""
        msg = f"{s.parse_failures} frames could not be parsed (e.g. {example})"
        return Outcome(Check("parse", FAIL, msg), Finding("parse", msg, "parse"))
    if not s.events:
        return Outcome(Check("parse", SKIP, "no events"))
    return Outcome(Check("parse", PASS, "every frame parsed"))


def check_lag(s: StreamStats) -> Outcome:
    """Lag from ``E`` to receipt; a p95 above :data:`LAG_WARN_MS` is a WARN."""
    lag = lag_summary(s.lag_ms)
    if lag is None:
        return Outcome(Check("lag", SKIP, "no events"))
    detail = f"lag E→receive p50 {lag.p50:.0f} ms, p95 {lag.p95:.0f} ms, max {lag.max:.0f} ms"
    if lag.p95 > LAG_WARN_MS:
        msg = "high lag between event time and receipt: " + detail
        return Outcome(Check("lag", WARN, detail), Finding("lag", msg, "lag"))
    return Outcome(Check("lag", PASS, detail))


def check_order(s: StreamStats) -> Outcome:
    """Out-of-order (by ``E``) or duplicate events are a WARN."""
    if s.out_of_order or s.duplicates:
        msg = f"{s.out_of_order} out-of-order and {s.duplicates} duplicate events"
        return Outcome(Check("order", WARN, msg), Finding("order", msg, "order"))
    if not s.events:
        return Outcome(Check("order", SKIP, "no events"))
    return Outcome(Check("order", PASS, "in order, no duplicates"))


def check_buffer(s: StreamStats) -> Outcome:
    """Events dropped from a full buffer (a consumer too slow) are a WARN."""
    if s.overflow:
        msg = f"{s.overflow} events dropped from a full buffer (consumer too slow)"
        return Outcome(Check("buffer", WARN, msg), Finding("overflow", msg, "overflow"))
    if not s.events:
        return Outcome(Check("buffer", SKIP, "no events"))
    return Outcome(Check("buffer", PASS, "no overflow"))


def check_rest(
    s: StreamStats, candles: list[CandleCheck] | None, rest_error: str | None, seconds: float
) -> Outcome:
    """Every closed candle seen equals REST field by field; NOT OBSERVED when none closed
    in the window, FAIL when REST disagrees, lacks a candle or could not be asked."""
    if rest_error and s.closed:
        msg = f"REST cross-check failed: {rest_error}"
        return Outcome(Check("rest", FAIL, msg), Finding("rest-error", msg, "rest-error"))
    if not s.closed:
        return Outcome(
            Check("rest", NOT_OBSERVED, f"no candle closed within the {seconds:g} s window")
        )
    checked = candles or []
    bad = [c for c in checked if c.missing or c.mismatches]
    if not bad:
        return Outcome(
            Check("rest", PASS, f"{len(checked)} closed candles identical to REST, field by field")
        )
    msg = f"REST/WS disagreement on {len(bad)} of {len(checked)} closed candles: " + "; ".join(
        _candle_text(c) for c in bad
    )
    return Outcome(Check("rest", FAIL, msg), Finding("rest-mismatch", msg, "rest-mismatch"))


def _candle_text(c: CandleCheck) -> str:
    if c.missing:
        return f"{candle_time(c.open_time_ms)} missing from REST"
    return f"{candle_time(c.open_time_ms)}: " + ", ".join(
        f"{m.field} ws {m.ws} ≠ rest {m.rest}" for m in c.mismatches
    )


def _percentile(values: list[float], pct: int) -> float:
    if len(values) == 1:
        return float(values[0])
    return float(statistics.quantiles(values, n=100, method="inclusive")[pct - 1])
