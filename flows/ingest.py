"""The ingest flow: REST klines -> closed candles -> pandera -> idempotent DuckDB upsert."""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import UTC, datetime

from prefect import flow, get_run_logger, runtime
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.futures import wait

from exchange.archive import ArchiveClient
from exchange.errors import InvalidInput, IpBanned
from exchange.intervals import Interval
from exchange.rest import RestClient
from exchange.symbols import keep_top, resolve
from pipeline.plan import SOURCES, RunPlan, SeriesPlan, plan_series, split_small
from pipeline.progress import BackfillProgress
from pipeline.results import (
    IngestSummary,
    SeriesResult,
    counts_line,
    merge_results,
    problem_line,
    run_status,
)
from tasks.charts import coverage_key
from tasks.ingest import (
    ingest_series_task,
    ingest_small_series_task,
    publish_run_artifacts,
)
from warehouse.store import Warehouse, check_path

from .errors import IngestIncomplete
from .inputs import check_range, parse_intervals, parse_selection, parse_time, to_ms
from .outcomes import reports_failures
from .runinfo import run_label
from .runners import check_warehouse, select_task_runner
from .settings import Settings

MARKET = "usdm"
# Series needing one page each (a scheduled run's new candles) load in groups of this many:
# one task, one parse, one validation and one transaction per group and interval.
SMALL_GROUP = 25


@flow(
    name="ingest-klines",
    task_runner=select_task_runner(),  # KLINES_TASK_RUNNER=thread|dask, read at import
    persist_result=False,
    validate_parameters=True,
)
@reports_failures
def ingest_klines(
    symbols: list[str],
    intervals: list[str],
    start: str | None = None,
    end: str | None = None,
    db: str | None = None,
    rest_url: str | None = None,
    reverify_gaps: bool = False,
    source: str = "auto",
    archive_url: str | None = None,
    delivery: bool = False,
    top: int | None = None,
) -> dict[str, object]:
    """Load closed USD-M klines for every (symbol, interval) into the DuckDB warehouse.

    ``symbols`` holds exact names (any listed contract) and shell-style patterns such as
    ``*USDT`` or ``1000*`` or ``ALL``, which select TRADING perpetuals (and delivery
    contracts with ``delivery``) when the run starts; ``top`` keeps the selected symbols
    with the highest 24-hour quote volume. Without ``start`` each series resumes after its
    newest stored candle. ``source``:
    ``auto`` reads whole past days from the bulk archive (``KLINES_ARCHIVE_URL``) when they
    hold at least a REST page of candles and REST for the rest; ``archive`` uses the archive
    for every whole past day; ``rest`` never touches the archive. Raises
    ``IngestIncomplete`` (the flow run fails) when a series failed or rows were rejected.
    """
    logger = get_run_logger()
    check_warehouse()
    if source not in SOURCES:
        raise InvalidInput(f"--source {source!r}: use one of {', '.join(SOURCES)}")
    settings = Settings.from_env(db_path=db, rest_url=rest_url, archive_url=archive_url)
    selection, notes = parse_selection(symbols, delivery, top)
    ivs = parse_intervals(intervals)
    start_at, end_at = parse_time(start, "--start"), parse_time(end, "--end")
    check_range(start_at, end_at, datetime.now(UTC))
    check_path(settings.db_path)
    for note in notes:
        logger.info(note)

    warehouse = Warehouse(settings.db_path, lock_timeout=settings.lock_timeout, holder=run_label())
    with warehouse.session():  # the run's writes share one connection
        banned_until = warehouse.active_ban_ms(settings.rest_url, int(time.time() * 1000))
        if banned_until is not None:
            raise IpBanned(banned_until, "remembered from an earlier run; no request was sent")
        client = RestClient(settings.rest_config())
        try:
            info, server_ms = client.exchange_info(), client.server_time_ms()
            resolved = resolve(selection, info)
            if selection.top is not None:
                resolved = keep_top(resolved, selection.top, client.quote_volumes())
        except IpBanned as exc:
            _remember_ban(warehouse, client, settings.rest_url, str(exc))
            raise
        syms = resolved.symbols
        for note in resolved.notes:
            logger.info(note)
        series = [(s, i) for s in syms for i in ivs]
        plan = plan_series(
            MARKET,
            syms,
            ivs,
            info,
            server_ms,
            warehouse.stored_bounds(MARKET, series),
            warehouse.gaps(MARKET, series),
            to_ms(start_at) if start_at else None,
            to_ms(end_at) if end_at else None,
            settings.lookback_candles,
            reverify_gaps,
        )
        run_id = str(runtime.flow_run.id or uuid.uuid4())
        started = datetime.now(UTC)
        for where, gaps in plan.ledger:
            warehouse.record_gaps(
                market=MARKET,
                symbol=where.symbol,
                interval=where.interval,
                start_ms=where.start_ms,
                end_ms=where.end_ms,
                gaps=gaps,
                run_id=run_id,
            )
        if source == "auto" and not settings.archive_url_chosen():
            # REST points at another host (a proxy, the simulator): do not mix in Binance's
            # own archive unless KLINES_ARCHIVE_URL says where that host's archive is.
            source = "rest"
        archive = ArchiveClient(settings.archive_config()) if source != "rest" else None
        results = _load(plan.fetch, client, archive, source, warehouse, run_id, server_ms)
        if any(r.status == "banned" for r in results):
            _remember_ban(warehouse, client, settings.rest_url, "HTTP 418 during ingest")
        summary = _summarize(run_id, results, client, archive, source, notes)
        summary.selection = resolved.notes
        parameters = {
            "symbols": syms,
            "requested": [*selection.exact, *selection.patterns],
            "delivery": delivery,
            "top": top,
            "resolution": resolved.notes,
            "intervals": ivs,
            "start": start,
            "end": end,
            "source": source,
        }
        _record_and_publish(warehouse, summary, parameters, started, plan, series, server_ms)
        logger.info("ingest %s: %s", summary.status, counts_line(results))
        if summary.status != "ok":
            raise IngestIncomplete(problem_line(results), summary.as_dict())
        return summary.as_dict()


def _load(
    fetch: list[SeriesPlan],
    client: RestClient,
    archive: ArchiveClient | None,
    source: str,
    warehouse: Warehouse,
    run_id: str,
    server_ms: int,
) -> list[SeriesResult]:
    """Load every planned series: large ones a task each, one-page ones in groups."""
    progress = BackfillProgress(
        sum(Interval.parse(p.interval).count(p.start_ms, p.end_ms) for p in fetch)
    )
    small, large = split_small(
        fetch, client.config.page_limit, source if archive else "rest", server_ms
    )
    futures = [
        ingest_series_task.submit(
            p, client, warehouse, run_id, server_ms, archive, source, progress
        )
        for p in large
    ]
    grouped = [
        ingest_small_series_task.submit(
            group, client, warehouse, run_id, server_ms, progress, _group_label(group)
        )
        for group in (small[k : k + SMALL_GROUP] for k in range(0, len(small), SMALL_GROUP))
    ]
    _follow([*futures, *grouped], progress)
    return merge_results([f.result() for f in futures] + [r for f in grouped for r in f.result()])


def _summarize(
    run_id: str,
    results: list[SeriesResult],
    client: RestClient,
    archive: ArchiveClient | None,
    source: str,
    notes: list[str],
) -> IngestSummary:
    """The run's summary, archive counts and notes included (the archive client is closed)."""
    summary = IngestSummary(
        run_id=run_id,
        status=run_status(results),
        series=results,
        requests=client.stats.requests,
        weight=client.stats.weight,
        retries=dict(client.stats.retries),
        notes=notes,
        source=source,
    )
    if archive is not None:
        archive.close()
        summary.archive_requests = archive.stats.requests
        summary.archive_bytes = archive.stats.bytes
        summary.retries.update({f"archive {k}": v for k, v in archive.stats.retries.items()})
        if archive.stats.corrupt:
            summary.notes.append(
                f"{archive.stats.corrupt} archive files failed verification twice "
                "(checksum mismatch or corrupt zip); their days were loaded over REST"
            )
    return summary


def _record_and_publish(
    warehouse: Warehouse,
    summary: IngestSummary,
    parameters: dict[str, object],
    started: datetime,
    plan: RunPlan,
    series: list[tuple[str, str]],
    server_ms: int,
) -> None:
    """Append the run to the run log and publish its artifacts."""
    warehouse.record_run(
        {
            "run_id": summary.run_id,
            "flow_run_id": summary.run_id,
            "started_at": started.isoformat(),
            "finished_at": datetime.now(UTC).isoformat(),
            "status": summary.status,
            "parameters": json.dumps(parameters),
            "requests": summary.requests,
            "weight": summary.weight,
            "retries": json.dumps(summary.retries),
        },
        [{"run_id": summary.run_id, "market": MARKET, **r.as_row()} for r in summary.series],
    )
    publish_run_artifacts(
        [r.as_row() for r in summary.series],
        f"ingest {summary.status}: {summary.requests} requests, weight {summary.weight}, "
        f"{summary.archive_requests} archive requests, retries {summary.retries or 'none'}",
        warehouse.completeness(
            MARKET, [(p.symbol, p.interval, p.start_ms, p.end_ms) for p in plan.fetch]
        ),
        {
            "db_path": str(warehouse.path),
            "days": 14,
            "series": series,
            "now": datetime.fromtimestamp(server_ms / 1000, UTC),
            "key": coverage_key(runtime.deployment.name, series),  # one picture per deployment
        },
    )


def _group_label(group: list[SeriesPlan]) -> str:
    first = group[0]
    more = f"-and-{len(group) - 1}-more" if len(group) > 1 else ""
    return f"{first.symbol}-{first.interval}{more}"


def _remember_ban(warehouse: Warehouse, client: RestClient, url: str, detail: str) -> None:
    """Store the ban's end on the local clock, so a run started during it sends nothing."""
    until_local = client.budget.banned_until_ms - client.budget.server_offset_ms
    if until_local > 0:
        warehouse.record_ban(url, until_local, detail)


def _follow(futures: list, progress: BackfillProgress, every_s: float = 1.0) -> None:
    """Wait for the series tasks, keeping the progress artifact current (runs of 10,000
    candles or more: shorter ones end before the UI would show it move)."""
    if progress.total < 10_000:
        wait(futures)
        return
    artifact_id = create_progress_artifact(
        progress=0.0,
        key="ingest-progress",
        description=f"Share of the run's {progress.total:,} candles fetched, in percent "
        "(updated every second)",
    )
    pending = list(futures)
    while pending:
        pending = list(wait(pending, timeout=every_s).not_done)
        update_progress_artifact(artifact_id, progress=round(100 * progress.fraction(), 1))
    progress.close()


logging.getLogger("klines").setLevel(logging.INFO)
