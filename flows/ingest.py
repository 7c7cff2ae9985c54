"""The ingest flow: REST klines -> closed candles -> pandera -> idempotent DuckDB upsert."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prefect import flow, get_run_logger, runtime

from exchange.intervals import Interval
from exchange.rest import ExchangeInfo, RestClient
from tasks.ingest import ingest_series_task, publish_summary, read_exchange_state
from tasks.series import SeriesPlan, SeriesResult
from warehouse.store import Warehouse, check_path

from .inputs import check_listed, check_range, parse_intervals, parse_symbols, parse_time, to_ms
from .runners import check_warehouse, select_task_runner
from .settings import Settings

MARKET = "usdm"


class IngestIncomplete(Exception):
    """The run finished but not everything loaded (failed series or rejected rows)."""

    def __init__(self, message: str, summary: dict[str, object]) -> None:
        super().__init__(message)
        self.summary = summary


@dataclass
class IngestSummary:
    run_id: str
    status: str
    series: list[SeriesResult] = field(default_factory=list)
    requests: int = 0
    weight: int = 0
    retries: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "requests": self.requests,
            "weight": self.weight,
            "retries": self.retries,
            "notes": self.notes,
            "series": [s.as_row() for s in self.series],
        }


def plan_series(
    symbols: list[str],
    intervals: list[str],
    info: ExchangeInfo,
    server_ms: int,
    newest: dict[tuple[str, str], int | None],
    start_ms: int | None,
    end_ms: int | None,
    lookback_candles: int,
) -> list[SeriesPlan]:
    """Decide each series' range: explicit start, else resume after the newest stored
    candle, else ``lookback_candles`` back; bounded by listing, delivery and the open candle."""
    plans = []
    for symbol in symbols:
        listing = info.symbols[symbol]
        for name in intervals:
            interval = Interval.parse(name)
            current_open = interval.floor(server_ms)  # the still-open candle: never requested
            if start_ms is not None:
                first = interval.ceil(start_ms)
            elif newest.get((symbol, name)) is not None:
                first = interval.add(int(newest[(symbol, name)] or 0), 1)
            else:
                first = interval.add(current_open, -lookback_candles)
            first = max(first, interval.floor(listing.onboard_ms))
            last = current_open if end_ms is None else min(end_ms, current_open)
            if not listing.is_perpetual or listing.status not in ("TRADING", "PENDING_TRADING"):
                last = min(last, interval.ceil(listing.delivery_ms))
            plans.append(SeriesPlan(MARKET, symbol, name, first, max(first, last)))
    return plans


@flow(
    name="ingest-klines",
    task_runner=select_task_runner(),  # KLINES_TASK_RUNNER=thread|dask, read at import
    persist_result=False,
    validate_parameters=True,
)
def ingest_klines(
    symbols: list[str],
    intervals: list[str],
    start: str | None = None,
    end: str | None = None,
    db: str | None = None,
    rest_url: str | None = None,
) -> dict[str, object]:
    """Load closed USD-M klines for every (symbol, interval) into the DuckDB warehouse.

    Without ``start`` each series resumes after its newest stored candle. Raises
    ``IngestIncomplete`` (the flow run fails) when a series failed or rows were rejected.
    """
    logger = get_run_logger()
    check_warehouse()
    settings = Settings.from_env(db_path=db, rest_url=rest_url)
    syms, notes = parse_symbols(symbols)
    ivs = parse_intervals(intervals)
    start_at, end_at = parse_time(start, "--start"), parse_time(end, "--end")
    check_range(start_at, end_at, datetime.now(UTC))
    check_path(settings.db_path)
    for note in notes:
        logger.info(note)

    client = RestClient(settings.rest_config())
    info, server_ms = read_exchange_state(client)
    check_listed(syms, set(info.symbols))
    warehouse = Warehouse(settings.db_path, lock_timeout=settings.lock_timeout)
    newest = (
        {} if start_at else warehouse.newest_open_times(MARKET, [(s, i) for s in syms for i in ivs])
    )
    plans = plan_series(
        syms,
        ivs,
        info,
        server_ms,
        newest,
        to_ms(start_at) if start_at else None,
        to_ms(end_at) if end_at else None,
        settings.lookback_candles,
    )
    run_id = str(runtime.flow_run.id or uuid.uuid4())
    started = datetime.now(UTC)
    futures = [ingest_series_task.submit(p, client, warehouse, run_id, server_ms) for p in plans]
    results: list[SeriesResult] = [f.result() for f in futures]

    summary = IngestSummary(
        run_id=run_id,
        status=_overall(results),
        series=results,
        requests=client.stats.requests,
        weight=client.stats.weight,
        retries=dict(client.stats.retries),
        notes=notes,
    )
    warehouse.record_run(
        {
            "run_id": run_id,
            "flow_run_id": run_id,
            "started_at": started.isoformat(),
            "finished_at": datetime.now(UTC).isoformat(),
            "status": summary.status,
            "parameters": json.dumps(
                {"symbols": syms, "intervals": ivs, "start": start, "end": end}
            ),
            "requests": summary.requests,
            "weight": summary.weight,
            "retries": json.dumps(summary.retries),
        },
        [{"run_id": run_id, "market": MARKET, **r.as_row()} for r in results],
    )
    publish_summary(
        [r.as_row() for r in results],
        f"ingest {summary.status}: {summary.requests} requests, weight {summary.weight}, "
        f"retries {summary.retries or 'none'}",
    )
    logger.info("ingest %s: %s", summary.status, _counts(results))
    if summary.status != "ok":
        raise IngestIncomplete(_problem_line(results), summary.as_dict())
    return summary.as_dict()


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
