"""The run's verdict, diagnosis, next steps and notes, from the checks (pure).

:func:`build_report` runs :func:`liveness.checks.stream_checks` on every stream of every
market's sample (:class:`MarketSample`) and gathers what they found: one diagnosis line per
kind of finding and market (naming its streams), one next step per distinct advice, and
notes. Every advice text lives in :data:`ADVICE`.

The route rule is the caller's, per market (for USDⓈ-M futures,
:func:`exchange.ws_events.required_route` of its description); a market without such a rule
passes None, and silence is then never blamed on the URL's route.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from exchange.stream import SampleResult
from exchange.ws_events import RequiredRoute

from .checks import NOT_OBSERVED, CandleCheck, Finding, stall_limit, stream_checks
from .report import LivenessReport, MarketReport, StreamReport, stream_metrics

DEFAULT_WS_SETTING = "KLINES_WS_URL"
# Next steps by Finding.advice; {setting} names where the stream URL is set, {url}, {path},
# {since} and {under} come from the route rule.
ADVICE = {
    "dns_tcp": "Check the host and port in {setting}, DNS, and that outbound TCP to it is allowed (firewall, proxy).",
    "tls": "Check the scheme (wss:// for Binance, ws:// for a local simulator), the system CA certificates and any TLS-intercepting proxy.",
    "timeout": "Check the network path and proxies; rerun.",
    "upgrade-451": "Binance refuses this location (HTTP 451): run from a location Binance serves.",
    "upgrade-403": "Forbidden (HTTP 403): the CDN/WAF blocks this IP or the path is wrong; check the URL and wait before retrying.",
    "upgrade": "Check the URL path: kline streams are at <base>/ws and <base>/stream{under}.",
    "rejected": "Fix what the server's error names (stream names, number of streams per connection); the error text is quoted above.",
    "no-ack": "Check that {setting} points at a Binance market-stream endpoint.",
    "silent-route": "Set {setting}={url} (klines are served only under {path}{since}) and rerun.",
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
ASSUMED_ROUTE_NOTE = (
    "{ws_url} has no {path} route: Binance serves kline streams only under {url} (documented "
    "for mainnet; assumed on this network, unconfirmed)."
)
ASSUMED_SINCE = " on mainnet; assumed here, unconfirmed"
NOT_OBSERVED_NOTE = (
    "No candle closed during the {seconds:g} s window on some streams, so their REST "
    "cross-check was not observed (not a failure): sample longer than the interval "
    "(e.g. --seconds 90 for 1m) to cover a close."
)


@dataclass(frozen=True)
class MarketSample:
    """One market's part of a run: what was sampled where, and what REST said.

    Attributes:
        market, title: the market's name (``usdm``) and the report's name for it.
        ws_url, rest_url: the WebSocket base URL sampled, the REST base URL asked.
        sample: what :func:`liveness.probe.run_samples` measured on this market.
        candles: closed candles compared with REST, by stream (None: not fetched).
        rest_error: why REST could not be asked (the clock or the cross-check), if so.
        clock_offset_ms: exchange clock minus local clock (None: REST time unavailable).
        required_route: the route the exchange serves these streams under (None: no rule).
        periods: seconds between two events of a stream, by stream (a stall is at least
            two missed events; a stream not named here has no floor).
        ws_setting: where the user sets this market's WebSocket URL, named in the advice.
    """

    market: str
    title: str
    ws_url: str
    rest_url: str
    sample: SampleResult
    candles: dict[str, list[CandleCheck]] | None = None
    rest_error: str | None = None
    clock_offset_ms: int | None = None
    required_route: RequiredRoute | None = None
    periods: Mapping[str, float] = field(default_factory=dict)
    ws_setting: str = DEFAULT_WS_SETTING


def build_report(
    markets: Sequence[MarketSample],
    *,
    run_id: str,
    started_at: datetime,
    network: str,
    api_key_masked: str | None,
    versions: dict[str, str],
    stall_after: float,
) -> LivenessReport:
    """Checks per stream, the verdict, the diagnosis and the next steps of one run.

    Args:
        markets: each market's sample, REST comparison and facts, in the report's order.
        run_id, started_at, network, api_key_masked, versions: the report's metadata (the
            key already masked).
        stall_after: seconds of silence at the end of the window that mean a stall (at
            least two of a stream's periods, :func:`liveness.checks.stall_limit`).
    """
    sections, diagnosis, steps = [], [], []
    several = len(markets) > 1
    for m in markets:
        section, findings = _market_report(m, stall_after)
        sections.append(section)
        lines, advices = diagnose(findings, m.required_route, m.ws_setting)
        diagnosis += [f"[{m.title}] {line}" if several else line for line in lines]
        steps += [a for a in advices if a not in steps]
    seconds = max((m.sample.seconds for m in markets), default=0.0)
    notes_out = notes([s for section in sections for s in section.streams], seconds)
    notes_out += [note for m in markets if (note := route_note(m.ws_url, _missing(m)))]
    return LivenessReport(
        run_id=run_id,
        started_at=started_at,
        network=network,
        seconds=seconds,
        api_key_masked=api_key_masked,
        versions=versions,
        markets=sections,
        diagnosis=diagnosis,
        next_steps=steps,
        notes=notes_out,
    )


def _missing(m: MarketSample) -> RequiredRoute | None:
    """The route rule ``m``'s URL lacks, if it lacks it."""
    route = m.required_route
    return route if route and not route.served_by(m.ws_url) else None


def _market_report(
    m: MarketSample, stall_after: float
) -> tuple[MarketReport, list[tuple[str, Finding]]]:
    """One market's stream reports and the findings of their checks."""
    missing = _missing(m)
    reports, findings = [], []
    for s in m.sample.streams:
        conn = m.sample.connections[s.connection]
        own = (m.candles or {}).get(s.stream)
        outcomes = stream_checks(
            s,
            conn,
            seconds=m.sample.seconds,
            stall_after=stall_limit(stall_after, m.periods.get(s.stream, 0.0)),
            missing_route=missing.path if missing else None,
            candles=own,
            rest_error=m.rest_error,
        )
        reports.append(
            StreamReport(
                s.stream,
                [o.check for o in outcomes],
                stream_metrics(s, conn, m.sample.seconds, own),
                own or [],
                s.kind,
            )
        )
        findings += [(s.stream, o.finding) for o in outcomes if o.finding is not None]
    section = MarketReport(
        market=m.market,
        title=m.title,
        ws_url=m.ws_url,
        rest_url=m.rest_url,
        clock_offset_ms=m.clock_offset_ms,
        route=m.required_route,
        streams=reports,
    )
    return section, findings


def diagnose(
    findings: Sequence[tuple[str, Finding]],
    required_route: RequiredRoute | None,
    ws_setting: str = DEFAULT_WS_SETTING,
) -> tuple[list[str], list[str]]:
    """The diagnosis lines and next steps of one market's ``(stream, finding)`` pairs.

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
        step = advice(first, required_route, ws_setting)
        if step not in steps:
            steps.append(step)
    return diagnosis, steps


def advice(
    finding: Finding, required_route: RequiredRoute | None, ws_setting: str = DEFAULT_WS_SETTING
) -> str:
    """The next step for one finding, with the route rule and the URL's setting filled in."""
    route = required_route
    since = "" if route is None else f" since {route.since}" if route.since else ASSUMED_SINCE
    return ADVICE[finding.advice].format(
        setting=ws_setting,
        url=route.url if route else "",
        path=route.path if route else "",
        since=since,
        under=f" under {route.path}" if route else "",
    )


def notes(streams: Sequence[StreamReport], seconds: float) -> list[str]:
    """The note of a window too short to see a candle close on some stream."""
    if any(c.name == "rest" and c.status == NOT_OBSERVED for s in streams for c in s.checks):
        return [NOT_OBSERVED_NOTE.format(seconds=seconds)]
    return []


def route_note(ws_url: str, missing_route: RequiredRoute | None) -> str | None:
    """The note of a URL that lacks the route the exchange requires (``missing_route``)."""
    if missing_route is None:
        return None
    r = missing_route
    template = MISSING_ROUTE_NOTE if r.since else ASSUMED_ROUTE_NOTE
    return template.format(ws_url=ws_url, path=r.path, since=r.since, url=r.url)
