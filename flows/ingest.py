"""The ingest flow: REST klines (and archive files) of every market and kind -> closed
candles -> pandera -> idempotent DuckDB upsert."""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from prefect import flow, get_run_logger, runtime
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.futures import wait

from exchange.archive import ArchiveClient
from exchange.errors import InvalidInput, IpBanned
from exchange.intervals import Interval
from exchange.markets import DEFAULT_KIND, DEFAULT_MARKET, KindSpec, MarketSpec
from exchange.rest import ExchangeInfo, RestClient, rest_clients
from exchange.symbols import Selection, check_pairs, keep_top, pair_volumes, resolve
from pipeline.plan import (
    SOURCES,
    RunPlan,
    SeriesPlan,
    min_file_candles,
    plan_series,
    split_plans,
)
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
    ingest_archive_task,
    ingest_series_task,
    ingest_small_series_task,
    publish_run_artifacts,
)
from warehouse.network import check_network, claim_network
from warehouse.store import Warehouse, check_path

from .errors import IngestIncomplete
from .inputs import (
    check_range,
    parse_intervals,
    parse_kinds,
    parse_markets,
    parse_selection,
    parse_time,
    to_ms,
)
from .outcomes import reports_failures
from .runinfo import run_label
from .settings import Settings, select_task_runner

# Series needing one page each (a scheduled run's new candles) load in groups of this many:
# one task, one parse, one validation and one transaction per group and interval.
SMALL_GROUP = 25


@dataclass
class MarketRun:
    """One market and kind of a run: its client and archive (shared by the market's kinds),
    the exchange's facts, and its plan."""

    spec: MarketSpec
    kind: KindSpec
    client: RestClient
    archive: ArchiveClient | None
    source: str
    server_ms: int
    symbols: list[str]
    plan: RunPlan
    notes: list[str]


@flow(
    name="ingest-klines",
    task_runner=select_task_runner(),  # KLINES_TASK_RUNNER=thread|dask, read at import
    persist_result=False,
    validate_parameters=True,
)
@reports_failures
def ingest_klines(
    symbols: list[str] | None,
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
    market: str | list[str] | None = None,
    network: str | None = None,
    kind: str | list[str] | None = None,
) -> dict[str, object]:
    """Load closed klines of every (market, kind, symbol, interval) into the DuckDB warehouse.

    ``market`` is ``usdm`` (USDⓈ-M futures), ``coinm`` (COIN-M futures), ``spot``, or
    several (default ``KLINES_MARKET``, else usdm); ``network`` is ``mainnet`` or ``testnet`` (default ``KLINES_NETWORK``, else
    mainnet), and a warehouse file keeps the network it was created for. ``kind`` is
    ``trade`` (the default: table ``klines``), ``mark``, ``index`` or ``premium`` (mark,
    index and premium index prices, futures only: table ``price_klines``), or several;
    index prices are by pair (``BTCUSDT``, ``BTCUSD``), so ``symbols`` names pairs for it.
    ``symbols`` holds exact names (any listed contract) and shell-style patterns such as
    ``*USDT`` or ``1000*`` or ``ALL``, which select TRADING perpetuals (and delivery
    contracts with ``delivery``) of each market when the run starts; ``top`` keeps the selected symbols
    with the highest 24-hour quote volume. Without ``start`` each series resumes after its
    newest stored candle. ``source``: ``auto`` reads whole past days from the bulk archive
    when they hold at least a REST page of candles and REST for the rest; ``archive`` uses
    the archive for every whole past day; ``rest`` never touches the archive. Raises
    ``IngestIncomplete`` (the flow run fails) when a series failed or rows were rejected.
    """
    logger = get_run_logger()
    if source not in SOURCES:
        raise InvalidInput(f"--source {source!r}: use one of {', '.join(SOURCES)}")
    settings = Settings.from_env(
        network=network,
        market=market,
        db_path=db,
        rest_url=rest_url,
        archive_url=archive_url,
    )
    markets = parse_markets(settings.market)
    kinds = parse_kinds(DEFAULT_KIND if kind is None else kind, markets)
    selection, notes = parse_selection(symbols, delivery, top)
    ivs = parse_intervals(intervals, markets)
    start_at, end_at = parse_time(start, "--start"), parse_time(end, "--end")
    check_range(start_at, end_at, datetime.now(UTC))
    check_path(settings.db_path)
    for note in notes:
        logger.info(note)
    bounds = (to_ms(start_at) if start_at else None, to_ms(end_at) if end_at else None)

    warehouse = Warehouse(settings.db_path, lock_timeout=settings.lock_timeout, holder=run_label())
    if warehouse.path.exists():  # testnet and mainnet data never share a file
        with warehouse.connect(read_only=True) as con:
            check_network(con, settings.network, str(warehouse.path))
    with warehouse.session():  # the run's writes share one connection
        clients = rest_clients([settings.rest_config(m) for m in markets])
        runs = [
            run
            for m, client in zip(markets, clients, strict=True)
            for run in _prepare(
                m, kinds, client, settings, selection, ivs, bounds, reverify_gaps, source, warehouse
            )
        ]
        for run in runs:
            for note in run.notes:
                logger.info(note)
        with warehouse.connect() as con:
            claim_network(con, settings.network, str(warehouse.path))
        run_id = str(runtime.flow_run.id or uuid.uuid4())
        started = datetime.now(UTC)
        for run in runs:
            for where, gaps in run.plan.ledger:
                warehouse.record_gaps(
                    market=where.market,
                    symbol=where.symbol,
                    interval=where.interval,
                    start_ms=where.start_ms,
                    end_ms=where.end_ms,
                    gaps=gaps,
                    run_id=run_id,
                    kind=where.kind,
                )
        results = _load(runs, warehouse, run_id)
        for run in _per_market(runs):
            if any(r.status == "banned" and r.market == run.spec.name for r in results):
                _remember_ban(warehouse, run.client, "HTTP 418 during ingest")
        summary = _summarize(run_id, results, runs, notes)
        parameters = {
            "market": [m.name for m in markets],
            "kind": [k.name for k in kinds],
            "network": settings.network,
            "symbols": list(dict.fromkeys(s for run in runs for s in run.symbols)),
            "requested": [*selection.exact, *selection.patterns],
            "delivery": delivery,
            "top": top,
            "resolution": summary.selection,
            "intervals": ivs,
            "start": start,
            "end": end,
            "source": sorted({run.source for run in runs}),
        }
        _record_and_publish(warehouse, summary, parameters, started, runs)
        logger.info("ingest %s: %s", summary.status, counts_line(results))
        if summary.status != "ok":
            raise IngestIncomplete(problem_line(results), summary.as_dict())
        return summary.as_dict()


def _prepare(
    spec: MarketSpec,
    kinds: list[KindSpec],
    client: RestClient,
    settings: Settings,
    selection: Selection,
    intervals: list[str],
    bounds: tuple[int | None, int | None],
    reverify_gaps: bool,
    source: str,
    warehouse: Warehouse,
) -> list[MarketRun]:
    """Read one market's facts (exchangeInfo, clock, tickers for ``--top``) once, then for
    each kind resolve the symbols (pairs for kinds keyed by pair) and plan its series."""
    banned_until = warehouse.active_ban_ms(client.config.weight_key, int(time.time() * 1000))
    if banned_until is not None:
        raise IpBanned(banned_until, "remembered from an earlier run; no request was sent")
    chosen = []
    try:
        info, server_ms = client.exchange_info(), client.server_time_ms()
        volumes = None
        for kind in kinds:
            listing = _listing(info, kind, selection)
            resolved = resolve(selection, listing)
            if selection.top is not None:
                volumes = client.quote_volumes() if volumes is None else volumes
                ranked = pair_volumes(info, volumes) if listing is not info else volumes
                resolved = keep_top(resolved, selection.top, ranked, spec.path("ticker/24hr"))
            chosen.append((kind, listing, resolved))
    except IpBanned as exc:
        _remember_ban(warehouse, client, str(exc))
        raise
    archive_config = settings.archive_config(spec, source)
    if archive_config is None:
        source = "rest"  # no archive on this network, or REST points elsewhere than Binance
    archive = ArchiveClient(archive_config) if archive_config and source != "rest" else None
    runs = []
    for kind, listing, resolved in chosen:
        series = [(s, i) for s in resolved.symbols for i in intervals]
        plan = plan_series(
            spec.name,
            resolved.symbols,
            intervals,
            listing,
            server_ms,
            warehouse.stored_bounds(spec.name, series, kind.name),
            warehouse.gaps(spec.name, series, kind.name),
            *bounds,
            settings.lookback_candles,
            reverify_gaps,
            kind.name,
        )
        lead = [spec.name] if spec.name != DEFAULT_MARKET else []
        lead += [kind.name] if kind.name != DEFAULT_KIND else []
        prefix = f"{' '.join(lead)}: " if lead else ""
        notes = [prefix + note for note in resolved.notes]
        runs.append(
            MarketRun(spec, kind, client, archive, source, server_ms, resolved.symbols, plan, notes)
        )
    return runs


def _listing(info: ExchangeInfo, kind: KindSpec, selection: Selection) -> ExchangeInfo:
    """What ``kind``'s series are named by: the contracts, or their pairs for a kind keyed
    by pair (exact names checked to be pairs, with a one-line hint when they are not)."""
    if kind.key != "pair":
        return info
    check_pairs(selection.exact, info, kind.name)
    return info.by_pair()


def _per_market(runs: list[MarketRun]) -> list[MarketRun]:
    """One run per market (its kinds share the market's client and archive)."""
    return list({run.spec.name: run for run in runs}.values())


def _load(runs: list[MarketRun], warehouse: Warehouse, run_id: str) -> list[SeriesResult]:
    """Load every planned series of every market: those with archive files together (one
    task per market and kind), other large ones a task each, one-page ones in groups of
    one market and interval."""
    progress = BackfillProgress(
        sum(
            Interval.parse(p.interval).count(p.start_ms, p.end_ms)
            for run in runs
            for p in run.plan.fetch
        )
    )
    single, grouped = [], []
    for run in runs:
        client, server_ms = run.client, run.server_ms
        page_limit = client.config.page_limit
        split = split_plans(run.plan.fetch, page_limit, run.source, server_ms)
        if split.archive and run.archive is not None:
            grouped.append(
                ingest_archive_task.submit(
                    split.archive,
                    run.archive,
                    client,
                    warehouse,
                    run_id,
                    server_ms,
                    min_file_candles(run.source, page_limit),
                    progress,
                    _group_label([plan for plan, _ in split.archive]),
                )
            )
        single += [
            ingest_series_task.submit(p, client, warehouse, run_id, server_ms, progress)
            for p in split.rest
        ]
        small = split.small
        grouped += [
            ingest_small_series_task.submit(
                group, client, warehouse, run_id, server_ms, progress, _group_label(group)
            )
            for group in (small[k : k + SMALL_GROUP] for k in range(0, len(small), SMALL_GROUP))
        ]
    _follow([*single, *grouped], progress)
    return merge_results([f.result() for f in single] + [r for f in grouped for r in f.result()])


def _summarize(
    run_id: str, results: list[SeriesResult], runs: list[MarketRun], notes: list[str]
) -> IngestSummary:
    """The run's summary over every market, archive counts and notes included (the archive
    clients are closed)."""
    summary = IngestSummary(
        run_id=run_id,
        status=run_status(results),
        series=results,
        notes=notes,
        source="+".join(sorted({run.source for run in runs})),
        selection=[note for run in runs for note in run.notes],
    )
    for run in _per_market(runs):
        stats = run.client.stats
        summary.requests += stats.requests
        summary.weight += stats.weight
        for cause, n in stats.retries.items():
            summary.retries[cause] = summary.retries.get(cause, 0) + n
        if run.archive is None:
            continue
        run.archive.close()
        summary.archive_requests += run.archive.stats.requests
        summary.archive_bytes += run.archive.stats.bytes
        for cause, n in run.archive.stats.retries.items():
            key = f"archive {cause}"
            summary.retries[key] = summary.retries.get(key, 0) + n
        if run.archive.stats.corrupt:
            summary.notes.append(
                f"{run.archive.stats.corrupt} archive files failed verification twice "
                "(checksum mismatch or corrupt zip); their days were loaded over REST"
            )
    return summary


def _record_and_publish(
    warehouse: Warehouse,
    summary: IngestSummary,
    parameters: dict[str, object],
    started: datetime,
    runs: list[MarketRun],
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
        [{"run_id": summary.run_id, **r.as_row()} for r in summary.series],
    )
    completeness = [
        {"market": run.spec.name, "kind": run.kind.name, **row}
        for run in runs
        for row in warehouse.completeness(
            run.spec.name,
            [(p.symbol, p.interval, p.start_ms, p.end_ms) for p in run.plan.fetch],
            run.kind.name,
        )
    ]
    series = sorted(
        {
            (run.spec.name, p.symbol, p.interval, run.kind.name)
            for run in runs
            for p in run.plan.fetch
        }
    )
    server_ms = max(run.server_ms for run in runs)
    publish_run_artifacts(
        [r.as_row() for r in summary.series],
        f"ingest {summary.status}: {summary.requests} requests, weight {summary.weight}, "
        f"{summary.archive_requests} archive requests, retries {summary.retries or 'none'}",
        completeness,
        {
            "db_path": str(warehouse.path),
            "days": 14,
            "series": series,
            "now": datetime.fromtimestamp(server_ms / 1000, UTC),
            "key": coverage_key(runtime.deployment.name, series),  # one picture per deployment
        },
    )


def _group_label(group: list[SeriesPlan]) -> str:
    more = f"-and-{len(group) - 1}-more" if len(group) > 1 else ""
    return f"{group[0].label}{more}"


def _remember_ban(warehouse: Warehouse, client: RestClient, detail: str) -> None:
    """Store the ban's end on the local clock, so a run started during it sends nothing to
    that weight pool of that exchange."""
    until_local = client.budget.banned_until_ms - client.budget.server_offset_ms
    if until_local > 0:
        warehouse.record_ban(client.config.weight_key, until_local, detail)


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
        if pending and (line := progress.log_line()) is not None:
            get_run_logger().info("progress %s", line)
    progress.close()


logging.getLogger("klines").setLevel(logging.INFO)
