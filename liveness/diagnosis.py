"""The run's verdict, diagnosis, next steps and notes, from the checks (pure).

:func:`build_report` runs :func:`liveness.checks.stream_checks` on every stream of a
sample and gathers what they found: one diagnosis line per kind of finding (naming its
streams), one next step per distinct advice, and notes. Every advice text lives in
:data:`ADVICE`.

The route rule is the caller's (for USDⓈ-M futures,
:data:`exchange.ws_events.USDM_MARKET_ROUTE`); an exchange without such a rule passes
None, and silence is then never blamed on the URL's route.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from exchange.stream import SampleResult
from exchange.ws_events import RequiredRoute

from .checks import NOT_OBSERVED, CandleCheck, Finding, stream_checks
from .report import LivenessReport, StreamReport, stream_metrics

# Next steps by Finding.advice; {url}, {path}, {since} and {under} come from the route rule.
ADVICE = {
    "dns_tcp": "Check the host and port in KLINES_WS_URL, DNS, and that outbound TCP to it is allowed (firewall, proxy).",
    "tls": "Check the scheme (wss:// for Binance, ws:// for a local simulator), the system CA certificates and any TLS-intercepting proxy.",
    "timeout": "Check the network path and proxies; rerun.",
    "upgrade-451": "Binance refuses this location (HTTP 451): run from a location Binance serves.",
    "upgrade-403": "Forbidden (HTTP 403): the CDN/WAF blocks this IP or the path is wrong; check the URL and wait before retrying.",
    "upgrade": "Check the URL path: kline streams are at <base>/ws and <base>/stream{under}.",
    "rejected": "Fix what the server's error names (stream names, number of streams per connection); the error text is quoted above.",
    "no-ack": "Check that KLINES_WS_URL points at a Binance market-stream endpoint.",
    "silent-route": "Set KLINES_WS_URL={url} (klines are served only under {path} since {since}) and rerun.",
    "silent": "Check that the symbol is trading (exchangeInfo) and the interval exists; compare with REST klines; rerun with a longer --seconds.",
    "stalled": "The connection stayed open but events stopped: rerun; a long-running consumer must resubscribe or reconnect after this much silence and backfill over REST.",
    "reconnect-failed": "The server keeps closing the connection: check the 10 messages/s inbound limit, pong replies and the 24 h age limit; rerun.",
    "reconnected": "Expected at the 24 h age limit; otherwise check pongs and the 10 messages/s limit. Consumers must reconnect and backfill the gap over REST.",
    "parse": "The server sent frames that are not valid kline events: keep the examples, check the route and stream names, and do not store these events.",
    "lag": "Check the local clock (NTP) and the network path; the report's clock offset shows the skew against the exchange.",
    "order": "Deduplicate by (open_time, E) and order by E before using the events.",
    "overflow": "Raise the buffer size or make the consumer faster.",
    "rest-error": "Check KLINES_REST_URL and the network, then rerun.",
    "rest-mismatch": "Do not store WebSocket candles without reconciling them with REST; keep this report with the listed candles.",
}
MISSING_ROUTE_NOTE = (
    "{ws_url} has no {path} route: since {since} Binance serves kline streams only under {url}."
)
NOT_OBSERVED_NOTE = (
    "No candle closed during the {seconds:g} s window on some streams, so their REST "
    "cross-check was not observed (not a failure): sample longer than the interval "
    "(e.g. --seconds 90 for 1m) to cover a close."
)


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
    required_route: RequiredRoute | None,
) -> LivenessReport:
    """Checks per stream, the verdict, the diagnosis and the next steps of one sample.

    Args:
        sample: what :func:`liveness.probe.run_sample` measured.
        candles: closed candles compared with REST, by stream (None: not fetched).
        rest_error: why REST could not be asked (the clock or the cross-check), if so.
        run_id, started_at, rest_url, api_key_masked, versions, clock_offset_ms: the
            report's metadata (the key already masked).
        ws_url: the WebSocket base URL sampled.
        stall_after: seconds of silence at the end of the window that mean a stall.
        required_route: the route the exchange serves these streams under (None: no rule).
    """
    missing = required_route if required_route and not required_route.served_by(ws_url) else None
    reports, findings = [], []
    for s in sample.streams:
        conn = sample.connections[s.connection]
        own = (candles or {}).get(s.stream)
        outcomes = stream_checks(
            s,
            conn,
            seconds=sample.seconds,
            stall_after=stall_after,
            missing_route=missing.path if missing else None,
            candles=own,
            rest_error=rest_error,
        )
        checks = [o.check for o in outcomes]
        reports.append(
            StreamReport(
                s.stream,
                checks,
                stream_metrics(s, conn, sample.seconds, own),
                own or [],
                s.kind,
            )
        )
        findings += [(s.stream, o.finding) for o in outcomes if o.finding is not None]
    diagnosis, steps = diagnose(findings, required_route)
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
        notes=notes(reports, sample.seconds, ws_url, missing),
    )


def diagnose(
    findings: Sequence[tuple[str, Finding]], required_route: RequiredRoute | None
) -> tuple[list[str], list[str]]:
    """The diagnosis lines and next steps of ``(stream, finding)`` pairs.

    One line per finding category, in order of first appearance, naming up to five of its
    streams (``a, b, c, d, e and 2 more``) with the first finding's message; one next step
    per distinct advice, in the same order.
    """
    groups: dict[str, list[tuple[str, Finding]]] = {}
    for stream, finding in findings:
        groups.setdefault(finding.category, []).append((stream, finding))
    diagnosis, steps = [], []
    for items in groups.values():
        streams = [stream for stream, _ in items]
        shown = ", ".join(streams[:5]) + (
            f" and {len(streams) - 5} more" if len(streams) > 5 else ""
        )
        first = items[0][1]
        diagnosis.append(f"{shown}: {first.message}")
        step = advice(first, required_route)
        if step not in steps:
            steps.append(step)
    return diagnosis, steps


def advice(finding: Finding, required_route: RequiredRoute | None) -> str:
    """The next step for one finding, with the route rule filled in."""
    route = required_route
    return ADVICE[finding.advice].format(
        url=route.url if route else "",
        path=route.path if route else "",
        since=route.since if route else "",
        under=f" under {route.path}" if route else "",
    )


def notes(
    streams: Sequence[StreamReport],
    seconds: float,
    ws_url: str,
    missing_route: RequiredRoute | None,
) -> list[str]:
    """Notes under the diagnosis: a window too short to see a candle close, and a URL
    that lacks the route the exchange requires (``missing_route``)."""
    out = []
    if any(c.name == "rest" and c.status == NOT_OBSERVED for s in streams for c in s.checks):
        out.append(NOT_OBSERVED_NOTE.format(seconds=seconds))
    if missing_route:
        r = missing_route
        out.append(MISSING_ROUTE_NOTE.format(ws_url=ws_url, path=r.path, since=r.since, url=r.url))
    return out
