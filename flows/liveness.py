"""The ws-liveness flow: sample kline (and mark-price) streams, cross-check with REST, report.

The one composition of the liveness check: :mod:`liveness.probe` (as tasks), then the
pure :func:`liveness.diagnosis.build_report` and :func:`liveness.report.render_report`.
It chooses what :mod:`liveness` leaves to its caller, from each market's description
(:mod:`exchange.markets`): the streams (every symbol x interval's kline stream, and with
``mark_price`` every futures symbol's ``@markPrice@1s``), their host on the network, REST's
paths, the route rule (``MarketSpec.route``: ``/market`` on USDⓈ-M) and each stream's
cadence.
"""

from __future__ import annotations

import platform
import uuid
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, runtime

from exchange.config import mask_secret
from exchange.errors import ExchangeError, InvalidInput
from exchange.markets import MarketSpec
from exchange.rest import RestClient
from exchange.stream import StreamConfig
from exchange.ws_events import market_streams, required_route, update_period_s
from liveness.checks import FAIL, WARN
from liveness.diagnosis import MarketSample, build_report
from liveness.probe import SamplePlan
from liveness.report import LivenessReport, render_report
from tasks.liveness import (
    clock_offset_task,
    cross_check_task,
    publish_report_task,
    record_liveness_task,
    sample_streams_task,
)
from warehouse.network import check_network
from warehouse.store import Warehouse, check_path

from .errors import LivenessUnhealthy
from .inputs import (
    check_listed,
    check_seconds,
    check_ws_url_scope,
    parse_intervals,
    parse_markets,
    parse_symbols,
)
from .outcomes import reports_failures
from .runinfo import run_label
from .settings import Settings


def versions() -> dict[str, str]:
    """Python and the package versions the report names."""
    out = {"Python": platform.python_version()}
    for name in ("binance-klines-etl", "websockets", "prefect", "duckdb"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


@flow(name="ws-liveness", persist_result=False, validate_parameters=True)
@reports_failures
def ws_liveness(
    symbols: list[str],
    intervals: list[str],
    seconds: float = 30.0,
    report_path: str | None = None,
    db: str | None = None,
    ws_url: str | None = None,
    rest_url: str | None = None,
    market: str | list[str] | None = None,
    network: str | None = None,
    mark_price: bool = False,
) -> dict[str, Any]:
    """Diagnose the kline WebSocket streams of ``symbols`` x ``intervals`` on each market.

    ``market`` is ``usdm`` (USDⓈ-M futures), ``coinm`` (COIN-M futures), ``spot``, or
    several (default ``KLINES_MARKET``, else usdm): every symbol must be listed on each.
    ``network`` is ``mainnet`` or ``testnet`` (default ``KLINES_NETWORK``, else mainnet); a
    warehouse file keeps one network's runs. ``mark_price`` adds each symbol's
    ``@markPrice@1s`` stream (futures only). Every market's streams are sampled at the same
    time on its own host (``Settings.ws_url_for``) and its closed candles compared with its
    own REST API.

    Stores the run in DuckDB (``liveness_runs``, ``liveness_streams``), publishes the
    Markdown report as the ``ws-liveness`` artifact and, when asked, to ``report_path``.
    Raises ``LivenessUnhealthy`` (the run fails) when the verdict is FAIL.
    """
    logger = get_run_logger()
    settings = Settings.from_env(
        network=network,
        market=market,
        db_path=db,
        rest_url=rest_url,
        ws_url=ws_url,
    )
    markets = parse_markets(settings.market)
    syms, notes = parse_symbols(symbols)
    ivs = parse_intervals(intervals, markets)
    window = check_seconds(seconds)  # the URLs were checked by Settings.from_env
    check_ws_url_scope(settings.ws_url, markets)
    streams = {m: market_streams(m, syms, ivs, mark_price) for m in markets}
    check_path(settings.db_path)
    warehouse = Warehouse(settings.db_path, lock_timeout=settings.lock_timeout, holder=run_label())
    if warehouse.path.exists():  # testnet and mainnet runs never share a file
        with warehouse.connect(read_only=True) as con:
            check_network(con, settings.network, str(warehouse.path))
    for note in notes:
        logger.info(note)
    clients = {m: RestClient(settings.rest_config(m)) for m in markets}
    for m, client in clients.items():
        try:
            check_listed(syms, set(client.exchange_info().symbols), m.path("exchangeInfo"))
        except InvalidInput:
            raise
        except ExchangeError as exc:  # REST trouble is a finding of the check, not bad input
            logger.warning("%s symbols not checked against exchangeInfo: %s", m.title, exc)
    stall_after = min(5.0, window / 3)
    configs = {
        m: StreamConfig(
            base_url=settings.ws_url_for(m),
            open_timeout=settings.read_timeout,
            ack_timeout=min(5.0, settings.read_timeout),
            stall_after=stall_after,
        )
        for m in markets
    }
    run_id = str(runtime.flow_run.id or uuid.uuid4())
    started = datetime.now(UTC)

    clocks = {m: clock_offset_task(clients[m]) for m in markets}
    plans = [SamplePlan(configs[m], streams[m], clocks[m][0] or 0) for m in markets]
    samples = sample_streams_task(plans, window)
    parts = []
    for m, sample in zip(markets, samples, strict=True):
        offset, rest_error = clocks[m]
        candles = None
        if rest_error is None:
            candles, rest_error = cross_check_task(clients[m], sample)
        parts.append(
            MarketSample(
                market=m.name,
                title=m.title,
                ws_url=configs[m].base_url,
                rest_url=clients[m].base_url,
                sample=sample,
                candles=candles,
                rest_error=rest_error,
                clock_offset_ms=offset,
                required_route=required_route(m, settings.network),
                periods={name: update_period_s(m, name) for name in streams[m]},
                ws_setting=ws_setting(settings, m, markets),
            )
        )
    report = build_report(
        parts,
        run_id=run_id,
        started_at=started,
        network=settings.network,
        api_key_masked=mask_secret(settings.api_key) if settings.api_key else None,
        versions=versions(),
        stall_after=stall_after,
    )
    markdown = render_report(report)
    if report_path:
        path = Path(report_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(markdown, encoding="utf-8")
    count = sum(len(names) for names in streams.values())
    publish_report_task(
        markdown,
        f"ws-liveness {report.verdict}: {count} streams, "
        f"{', '.join(m.name for m in markets)} on the {settings.network}",
    )
    run_row, stream_rows = warehouse_rows(report, markdown, datetime.now(UTC))
    record_liveness_task(warehouse, settings.network, run_row, stream_rows)
    summary = summarize(report, report_path)
    logger.info("ws-liveness %s", report.verdict)
    if report.verdict == FAIL:
        raise LivenessUnhealthy(report.diagnosis[0] if report.diagnosis else "unhealthy", summary)
    if report.verdict == WARN:
        logger.warning("; ".join(report.diagnosis))
    return summary


def ws_setting(settings: Settings, market: MarketSpec, markets: list[MarketSpec]) -> str:
    """Where the user sets ``market``'s stream URL, as the advice names it: the variable of
    that market when the run has several or it was set so, else ``KLINES_WS_URL``."""
    if len(markets) > 1 or ("ws", market.name) in settings.urls:
        return f"KLINES_WS_URL_{market.name.upper()}"
    return "KLINES_WS_URL"


def warehouse_rows(
    report: LivenessReport, markdown: str, finished: datetime
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The ``liveness_runs`` row and the ``liveness_streams`` rows of a report.

    A run of several markets names them comma-separated in ``market``, and their URLs in
    the same order in ``ws_url`` and ``rest_url``.
    """
    offsets = [m.clock_offset_ms for m in report.markets if m.clock_offset_ms is not None]
    run = {
        "run_id": report.run_id,
        "flow_run_id": report.run_id,
        "started_at": report.started_at.isoformat(),
        "finished_at": finished.isoformat(),
        "market": ",".join(m.market for m in report.markets),
        "network": report.network,
        "ws_url": ", ".join(m.ws_url for m in report.markets),
        "rest_url": ", ".join(m.rest_url for m in report.markets),
        "seconds": float(report.seconds),
        "streams": len(report.streams),
        "verdict": report.verdict,
        "healthy": report.healthy,
        "clock_offset_ms": offsets[0] if offsets else None,
        "diagnosis": "\n".join(report.diagnosis),
        "report": markdown,
    }
    streams = [
        {
            "run_id": report.run_id,
            "market": m.market,
            "network": report.network,
            "stream": s.stream,
            "status": s.status,
            "failed_checks": [c.name for c in s.checks if c.status in (FAIL, WARN)],
            **s.metrics,
        }
        for m in report.markets
        for s in m.streams
    ]
    return run, streams


def summarize(report: LivenessReport, report_path: str | None) -> dict[str, Any]:
    """What the command line prints."""
    return {
        "run_id": report.run_id,
        "network": report.network,
        "markets": [m.market for m in report.markets],
        "verdict": report.verdict,
        "healthy": report.healthy,
        "diagnosis": report.diagnosis,
        "next_steps": report.next_steps,
        "report_path": report_path,
        "streams": [
            {"market": m.market, "stream": s.stream, "status": s.status, **s.metrics}
            for m in report.markets
            for s in m.streams
        ],
    }
