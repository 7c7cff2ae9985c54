"""Prefect tasks for the ingest flow: thin wrappers with no retries of their own.

HTTP retries live in the client; a Prefect retry would re-fetch a whole
series. No task persists its result (they hold clients and DataFrames). Reading
exchangeInfo, the clock and the 24-hour tickers is no task: the flow does it itself, so
that an exchange it cannot reach fails the run in one line, not a task's traceback.
"""

from __future__ import annotations

from typing import Any

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from exchange.archive import ArchiveClient, ArchiveFile
from exchange.rest import RestClient
from pipeline.archive import ingest_archive
from pipeline.plan import SeriesPlan
from pipeline.results import Progress, SeriesResult
from pipeline.series import ingest_series, ingest_small_series
from warehouse.store import Warehouse

from .charts import publish_coverage_chart


@task(
    name="ingest-series",
    task_run_name="ingest-{plan.label}",
    cache_policy=NO_CACHE,
    persist_result=False,
)
def ingest_series_task(
    plan: SeriesPlan,
    client: RestClient,
    warehouse: Warehouse,
    run_id: str,
    server_ms: int,
    progress: Progress | None = None,
) -> SeriesResult:
    """Fetch, validate and upsert one series over REST (:func:`pipeline.series.ingest_series`)."""
    return ingest_series(
        plan,
        client,
        warehouse,
        run_id=run_id,
        server_ms=server_ms,
        workers=client.config.workers,
        progress=progress,
    )


@task(
    name="ingest-archive",
    task_run_name="ingest-archive-{label}",
    cache_policy=NO_CACHE,
    persist_result=False,
)
def ingest_archive_task(
    jobs: list[tuple[SeriesPlan, list[ArchiveFile]]],
    archive: ArchiveClient,
    client: RestClient,
    warehouse: Warehouse,
    run_id: str,
    server_ms: int,
    min_candles: int = 0,
    progress: Progress | None = None,
    label: str = "series",
) -> list[SeriesResult]:
    """Fetch, validate and upsert several series from archive files, together, and REST for
    what the archive lacks (:func:`pipeline.archive.ingest_archive`); one result per series."""
    return ingest_archive(
        jobs,
        archive,
        client,
        warehouse,
        run_id=run_id,
        server_ms=server_ms,
        min_candles=min_candles,
        progress=progress,
    )


@task(
    name="ingest-small-series",
    task_run_name="ingest-{label}",
    cache_policy=NO_CACHE,
    persist_result=False,
)
def ingest_small_series_task(
    plans: list[SeriesPlan],
    client: RestClient,
    warehouse: Warehouse,
    run_id: str,
    server_ms: int,
    progress: Progress | None = None,
    label: str = "series",
) -> list[SeriesResult]:
    """Fetch, validate and upsert several one-page series together
    (:func:`pipeline.series.ingest_small_series`); one result per series."""
    return ingest_small_series(
        plans,
        client,
        warehouse,
        run_id=run_id,
        server_ms=server_ms,
        workers=client.config.workers,
        progress=progress,
    )


@task(name="publish-run-artifacts", cache_policy=NO_CACHE, persist_result=False)
def publish_run_artifacts(
    summary_rows: list[dict[str, object]],
    description: str,
    completeness_rows: list[dict[str, object]],
    coverage: dict[str, Any],
) -> None:
    """The run's artifacts in one task: the summary table (``ingest-summary``), the
    completeness table (``ingest-completeness``) and the coverage picture
    (:func:`tasks.charts.publish_coverage_chart` with ``coverage`` as its arguments)."""
    publish_completeness(completeness_rows)
    try:  # the picture is a convenience: never fail a load because of it
        publish_coverage_chart.fn(**coverage)
    except Exception as exc:  # noqa: BLE001
        get_run_logger().warning("coverage chart not published: %s", exc)
    publish_summary(summary_rows, description)


def publish_summary(rows: list[dict[str, object]], description: str) -> None:
    """The run's per-series table as a Prefect artifact (key ``ingest-summary``)."""
    table = [{k: ("" if v is None else str(v)) for k, v in row.items()} for row in rows]
    create_table_artifact(key="ingest-summary", table=table, description=description)


def publish_completeness(rows: list[dict[str, object]]) -> None:
    """Expected, present and missing-by-cause candles per series of this run
    (artifact key ``ingest-completeness``)."""
    causes = sorted({k for row in rows for k in row if k.startswith("missing_")})
    table = [
        {**{k: str(v) for k, v in row.items()}, **{c: str(row.get(c, 0)) for c in causes}}
        for row in rows
    ]
    create_table_artifact(
        key="ingest-completeness",
        table=table,
        description="Candles expected in each series' range, present, and missing by cause "
        "(the gap ledger, table klines_gaps).",
    )
