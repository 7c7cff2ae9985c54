"""The ws-liveness flow: sample kline streams, cross-check with REST, publish a report.

The one composition of the liveness check: :mod:`liveness.probe` (as tasks), then the
pure :func:`liveness.diagnosis.build_report` and :func:`liveness.report.render_report`.
It chooses what :mod:`liveness` leaves to its caller: the streams (every symbol x
interval's kline stream) and the route rule (USDⓈ-M futures' ``/market``).
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
from exchange.rest import RestClient
from exchange.stream import StreamConfig
from exchange.ws_events import USDM_MARKET_ROUTE, RequiredRoute, stream_name
from liveness.checks import FAIL, WARN
from liveness.diagnosis import build_report
from liveness.report import LivenessReport, render_report
from tasks.liveness import (
    clock_offset_task,
    cross_check_task,
    publish_report_task,
    record_liveness_task,
    sample_streams_task,
)
from warehouse.store import Warehouse, check_path

from .errors import LivenessUnhealthy
from .inputs import check_listed, check_seconds, parse_intervals, parse_symbols
from .outcomes import reports_failures
from .runinfo import run_label
from .settings import Settings

# The USDⓈ-M futures streams are served only under /market (binance-api.md §5.1).
REQUIRED_ROUTE: RequiredRoute | None = USDM_MARKET_ROUTE


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
) -> dict[str, Any]:
    """Diagnose the kline WebSocket streams of ``symbols`` x ``intervals``.

    Stores the run in DuckDB (``liveness_runs``, ``liveness_streams``), publishes the
    Markdown report as the ``ws-liveness`` artifact and, when asked, to ``report_path``.
    Raises ``LivenessUnhealthy`` (the run fails) when the verdict is FAIL.
    """
    logger = get_run_logger()
    settings = Settings.from_env(db_path=db, rest_url=rest_url, ws_url=ws_url)
    syms, notes = parse_symbols(symbols)
    ivs = parse_intervals(intervals)
    window = check_seconds(seconds)  # the URLs were checked by Settings.from_env
    check_path(settings.db_path)
    for note in notes:
        logger.info(note)
    client = RestClient(settings.rest_config())
    try:
        check_listed(syms, set(client.exchange_info().symbols))
    except InvalidInput:
        raise
    except ExchangeError as exc:  # REST trouble is a finding of the check, not bad input
        logger.warning("symbols not checked against exchangeInfo: %s", exc)
    streams = [stream_name(s, i) for s in syms for i in ivs]
    config = StreamConfig(
        base_url=settings.ws_url,
        open_timeout=settings.read_timeout,
        ack_timeout=min(5.0, settings.read_timeout),
        stall_after=min(5.0, window / 3),
    )
    run_id = str(runtime.flow_run.id or uuid.uuid4())
    started = datetime.now(UTC)

    offset, rest_error = clock_offset_task(client)
    sample = sample_streams_task(config, streams, window, offset or 0)
    candles = None
    if rest_error is None:
        candles, rest_error = cross_check_task(client, sample)
    report = build_report(
        sample,
        candles,
        rest_error,
        run_id=run_id,
        started_at=started,
        ws_url=settings.ws_url,
        rest_url=settings.rest_url,
        api_key_masked=mask_secret(settings.api_key) if settings.api_key else None,
        versions=versions(),
        stall_after=config.stall_after,
        clock_offset_ms=offset,
        required_route=REQUIRED_ROUTE,
    )
    markdown = render_report(report)
    if report_path:
        path = Path(report_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(markdown, encoding="utf-8")
    publish_report_task(markdown, f"ws-liveness {report.verdict}: {len(streams)} streams")
    warehouse = Warehouse(settings.db_path, lock_timeout=settings.lock_timeout, holder=run_label())
    run_row, stream_rows = warehouse_rows(report, markdown, datetime.now(UTC))
    record_liveness_task(warehouse, run_row, stream_rows)
    summary = summarize(report, report_path)
    logger.info("ws-liveness %s", report.verdict)
    if report.verdict == FAIL:
        raise LivenessUnhealthy(report.diagnosis[0] if report.diagnosis else "unhealthy", summary)
    if report.verdict == WARN:
        logger.warning("; ".join(report.diagnosis))
    return summary


def warehouse_rows(
    report: LivenessReport, markdown: str, finished: datetime
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The ``liveness_runs`` row and the ``liveness_streams`` rows of a report."""
    run = {
        "run_id": report.run_id,
        "flow_run_id": report.run_id,
        "started_at": report.started_at.isoformat(),
        "finished_at": finished.isoformat(),
        "ws_url": report.ws_url,
        "rest_url": report.rest_url,
        "seconds": float(report.seconds),
        "streams": len(report.streams),
        "verdict": report.verdict,
        "healthy": report.healthy,
        "clock_offset_ms": report.clock_offset_ms,
        "diagnosis": "\n".join(report.diagnosis),
        "report": markdown,
    }
    streams = [
        {
            "run_id": report.run_id,
            "stream": s.stream,
            "status": s.status,
            "failed_checks": [c.name for c in s.checks if c.status in (FAIL, WARN)],
            **s.metrics,
        }
        for s in report.streams
    ]
    return run, streams


def summarize(report: LivenessReport, report_path: str | None) -> dict[str, Any]:
    """What the command line prints."""
    return {
        "run_id": report.run_id,
        "verdict": report.verdict,
        "healthy": report.healthy,
        "diagnosis": report.diagnosis,
        "next_steps": report.next_steps,
        "report_path": report_path,
        "streams": [{"stream": s.stream, "status": s.status, **s.metrics} for s in report.streams],
    }
