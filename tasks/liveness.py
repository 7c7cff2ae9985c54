"""Prefect tasks of the ws-liveness flow: thin wrappers of :mod:`liveness.probe` and the
warehouse, with no retries of their own.

A retry would resample the streams and change what is being diagnosed; the REST client
retries its own requests. No task persists its result.
"""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from exchange.errors import ExchangeError
from exchange.rest import RestClient
from exchange.stream import SampleResult
from liveness.checks import CandleCheck
from liveness.probe import SamplePlan, clock_offset_ms, cross_check, run_samples
from warehouse.network import claim_network
from warehouse.store import Warehouse

ARTIFACT_KEY = "ws-liveness"


@task(name="exchange-clock", cache_policy=NO_CACHE, persist_result=False)
def clock_offset_task(client: RestClient) -> tuple[int | None, str | None]:
    """Exchange clock minus local clock in ms, or the REST error that prevented it."""
    try:
        return clock_offset_ms(client), None
    except ExchangeError as exc:
        return None, str(exc)


@task(name="sample-streams", cache_policy=NO_CACHE, persist_result=False)
def sample_streams_task(plans: list[SamplePlan], seconds: float) -> list[SampleResult]:
    """Subscribe and measure every plan's streams for ``seconds``, every market's host at
    the same time (its own event loop)."""
    return run_samples(plans, seconds)


@task(name="cross-check-rest", cache_policy=NO_CACHE, persist_result=False)
def cross_check_task(
    client: RestClient, sample: SampleResult
) -> tuple[dict[str, list[CandleCheck]] | None, str | None]:
    """Every closed candle seen, compared with REST; or the REST error."""
    try:
        return cross_check(client, sample), None
    except ExchangeError as exc:
        return None, str(exc)


@task(name="publish-liveness-report", cache_policy=NO_CACHE, persist_result=False)
def publish_report_task(markdown: str, description: str) -> None:
    """The report as a Prefect markdown artifact (key ``ws-liveness``)."""
    create_markdown_artifact(key=ARTIFACT_KEY, markdown=markdown, description=description)


@task(name="record-liveness", cache_policy=NO_CACHE, persist_result=False)
def record_liveness_task(
    warehouse: Warehouse, network: str, run: dict[str, object], streams: list[dict[str, object]]
) -> None:
    """One row in ``liveness_runs`` and one per stream in ``liveness_streams``, in a file
    that holds ``network``'s data (a new file is marked as holding it).

    Raises:
        NetworkMismatch: the file holds the other network's data.
    """
    with warehouse.connect() as con:
        claim_network(con, network, str(warehouse.path))
    warehouse.record_liveness(run, streams)
