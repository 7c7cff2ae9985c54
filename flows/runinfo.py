"""How a flow run names itself to other processes (a writer waiting for the DuckDB file)."""

from __future__ import annotations

from prefect import runtime


def run_label() -> str | None:
    """``flow run 'able-puma' of ingest-klines/ingest-short`` (the deployment when there is
    one); ``None`` outside a flow run."""
    name = runtime.flow_run.name
    if not name:
        return None
    flow, deployment = runtime.flow_run.flow_name, runtime.deployment.name
    return (
        f"flow run '{name}' of {flow}/{deployment}"
        if deployment
        else f"flow run '{name}' of {flow}"
    )
