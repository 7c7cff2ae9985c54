"""The ingest flow: REST klines -> closed candles -> pandera -> idempotent DuckDB upsert."""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from prefect import flow, get_run_logger, runtime
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.futures import wait

from exchange.archive import ArchiveClient
from exchange.errors import InvalidInput, IpBanned
from exchange.intervals import Interval
from exchange.rest import ExchangeInfo, RestClient
from exchange.symbols import keep_top, resolve
from tasks.archive import SOURCES, archive_files_for
from tasks.charts import coverage_key
from tasks.ingest import (
    ingest_series_task,
    ingest_small_series_task,
    publish_run_artifacts,
)
from tasks.progress import BackfillProgress
from tasks.series import COUNTERS, SeriesPlan, SeriesResult, fits_one_page
from warehouse.gaps import CONFIRMED, Gap
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


@dataclass
class RunPlan:
    """What one run will fetch, and the ledger rows it can already write."""

    fetch: list[SeriesPlan] = field(default_factory=list)
    ledger: list[tuple[SeriesPlan, list[Gap]]] = field(default_factory=list)


def plan_series(
    symbols: list[str],
    intervals: list[str],
    info: ExchangeInfo,
    server_ms: int,
    bounds: dict[tuple[str, str], tuple[int, int] | None],
    ledger: dict[tuple[str, str], list[Gap]],
    start_ms: int | None,
    end_ms: int | None,
    lookback_candles: int,
    reverify_gaps: bool = False,
) -> RunPlan:
    """Decide each series' range and the gaps to account for.

    The range is the explicit start, else just after the newest stored candle, else
    ``lookback_candles`` back; it is bounded by the listing date, a delisted contract's
    delivery, and the still-open candle, which is never requested. A range that ends
    before a symbol's listing is bad input (``InvalidInput``). Holes the ledger
    lists as ``not_fetched`` or ``fetch_failed`` (and, with ``reverify_gaps``, confirmed
    ones) are fetched again; confirmed gaps are otherwise left alone.
    """
    plan = RunPlan()
    for symbol in symbols:
        listing = info.symbols[symbol]
        for name in intervals:
            interval = Interval.parse(name)
            stored = bounds.get((symbol, name))
            current_open = interval.floor(server_ms)
            if start_ms is not None:
                wanted = interval.ceil(start_ms)
            elif stored is not None:
                wanted = interval.add(stored[1], 1)
            else:
                wanted = interval.add(current_open, -lookback_candles)
            wanted_end = (
                current_open if end_ms is None else min(interval.ceil(end_ms), current_open)
            )
            listed = interval.floor(listing.onboard_ms)
            if end_ms is not None and wanted_end <= listed:
                raise InvalidInput(
                    f"the range ends before {symbol} was listed "
                    f"({datetime.fromtimestamp(listing.onboard_ms / 1000, UTC):%Y-%m-%d}): "
                    "pick an --end after that date, or leave it out"
                )
            first = max(wanted, listed)
            last = wanted_end
            delisted = not listing.is_perpetual or listing.status not in (
                "TRADING",
                "PENDING_TRADING",
            )
            if delisted:
                last = min(last, interval.ceil(listing.delivery_ms))
            main = SeriesPlan(MARKET, symbol, name, first, max(first, last))
            plan.fetch.append(main)

            def account(
                lo: int, hi: int, cause: str, detail: str, where: SeriesPlan = main
            ) -> None:
                if lo < hi:
                    gap = Gap(lo, hi, Interval.parse(where.interval).count(lo, hi), cause, detail)
                    plan.ledger.append((replace(where, start_ms=lo, end_ms=hi), [gap]))

            account(wanted, min(first, wanted_end), "before_listing", "before onboardDate")
            if delisted:
                account(
                    max(last, wanted), wanted_end, "after_delisting", f"status {listing.status}"
                )
            known = ledger.get((symbol, name), [])
            if stored is not None and not any(
                g.start_ms < main.start_ms and g.end_ms > stored[1] for g in known
            ):
                account(
                    interval.add(stored[1], 1),
                    main.start_ms,
                    "not_fetched",
                    "between stored candles",
                )
            if (
                stored is not None
                and main.end_ms < stored[0]
                and not any(g.end_ms > main.end_ms and g.start_ms < stored[0] for g in known)
            ):
                account(main.end_ms, stored[0], "not_fetched", "between stored candles")
            repair = ("not_fetched", "fetch_failed", *(CONFIRMED if reverify_gaps else ()))
            for gap in known:
                if gap.cause in repair and (
                    gap.end_ms <= main.start_ms or gap.start_ms >= main.end_ms
                ):
                    plan.fetch.append(SeriesPlan(MARKET, symbol, name, gap.start_ms, gap.end_ms))
    return plan


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
        logger.info("ingest %s: %s", summary.status, _counts(results))
        if summary.status != "ok":
            raise IngestIncomplete(_problem_line(results), summary.as_dict())
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
    small, large = _split_small(fetch, client, archive, source, server_ms)
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
    return _merge_results([f.result() for f in futures] + [r for f in grouped for r in f.result()])


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
        status=_overall(results),
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


def _split_small(
    plans: list[SeriesPlan],
    client: RestClient,
    archive: ArchiveClient | None,
    source: str,
    server_ms: int,
) -> tuple[list[SeriesPlan], list[SeriesPlan]]:
    """Plans that need one REST page and no archive file (loaded in groups), and the rest
    (one task each)."""
    limit = client.config.page_limit
    small, large = [], []
    for p in plans:
        one_page = fits_one_page(p, limit) and not (
            archive is not None and archive_files_for(p, source, server_ms, limit)
        )
        (small if one_page else large).append(p)
    return small, large


def _group_label(group: list[SeriesPlan]) -> str:
    first = group[0]
    more = f"-and-{len(group) - 1}-more" if len(group) > 1 else ""
    return f"{first.symbol}-{first.interval}{more}"


def _remember_ban(warehouse: Warehouse, client: RestClient, url: str, detail: str) -> None:
    """Store the ban's end on the local clock, so a run started during it sends nothing."""
    until_local = client.budget.banned_until_ms - client.budget.server_offset_ms
    if until_local > 0:
        warehouse.record_ban(url, until_local, detail)


def _merge_results(results: list[SeriesResult]) -> list[SeriesResult]:
    """One row per series: a repaired hole and the main range of a series add up."""
    merged: dict[tuple[str, str], SeriesResult] = {}
    for r in results:
        key = (r.symbol, r.interval)
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


def _overall(results: list[SeriesResult]) -> str:
    bad = [r for r in results if r.status in ("failed", "banned", "rejected-rows")]
    if not bad:
        return "ok"
    return "failed" if len(bad) == len(results) else "partial"


def _counts(results: list[SeriesResult]) -> str:
    total = {
        k: sum(getattr(r, k) for r in results)
        for k in ("fetched", "inserted", "updated", "rejected")
    }
    return ", ".join(f"{k} {v}" for k, v in total.items())


def _problem_line(results: list[SeriesResult]) -> str:
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


logging.getLogger("klines").setLevel(logging.INFO)
