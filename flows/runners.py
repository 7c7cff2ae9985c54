"""The configuration switches of the scaling paths (docs/scaling.md), read from the environment.

``KLINES_TASK_RUNNER`` selects where the ingest flow's per-series tasks run:

- ``thread`` (default): a bounded thread pool in the flow run's process
  (``KLINES_FETCH_WORKERS`` threads, default 4).
- ``dask``: a Dask cluster through prefect-dask (``pip install 'binance-klines-etl[dask]'``).
  ``KLINES_DASK_ADDRESS=tcp://scheduler:8786`` uses an existing cluster; without it a
  temporary local cluster of ``KLINES_DASK_WORKERS`` processes (default 2) is started per
  flow run. Each worker process rebuilds its own REST client, hence its own weight budget.

``KLINES_WAREHOUSE`` names the warehouse engine: only ``duckdb`` (one file, one writer at a
time) is implemented; ``ducklake`` and ``motherduck`` are documented but refused, because
their DuckDB 2.0 clients are not available to this project (docs/scaling.md).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

TASK_RUNNERS = ("thread", "dask")
WAREHOUSES = ("duckdb",)
_DOCUMENTED_WAREHOUSES = ("ducklake", "motherduck")


class UnsupportedSetting(ValueError):
    """A KLINES_* switch names an engine this installation cannot use."""


def select_task_runner(env: Mapping[str, str] | None = None) -> Any:
    """The Prefect task runner that ``KLINES_TASK_RUNNER`` selects.

    Raises:
        UnsupportedSetting: an unknown runner, or ``dask`` without prefect-dask installed.
    """
    env = os.environ if env is None else env
    kind = (env.get("KLINES_TASK_RUNNER") or "thread").strip().lower()
    if kind == "thread":
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=int(env.get("KLINES_FETCH_WORKERS") or 4))
    if kind == "dask":
        try:
            from prefect_dask import DaskTaskRunner
        except ImportError as exc:
            raise UnsupportedSetting(
                "KLINES_TASK_RUNNER=dask needs prefect-dask: install the extra "
                "(uv sync --extra dask, or pip install 'binance-klines-etl[dask]')"
            ) from exc
        address = env.get("KLINES_DASK_ADDRESS")
        if address:
            return DaskTaskRunner(address=address)
        workers = int(env.get("KLINES_DASK_WORKERS") or 2)
        return DaskTaskRunner(
            cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True}
        )
    raise UnsupportedSetting(f"KLINES_TASK_RUNNER={kind!r} is not one of {', '.join(TASK_RUNNERS)}")


def check_warehouse(env: Mapping[str, str] | None = None) -> str:
    """The warehouse engine that ``KLINES_WAREHOUSE`` selects (only ``duckdb`` works).

    Raises:
        UnsupportedSetting: a documented but unavailable engine, or an unknown one.
    """
    env = os.environ if env is None else env
    kind = (env.get("KLINES_WAREHOUSE") or "duckdb").strip().lower()
    if kind in WAREHOUSES:
        return kind
    if kind in _DOCUMENTED_WAREHOUSES:
        raise UnsupportedSetting(
            f"KLINES_WAREHOUSE={kind} is not available: its extension or service does not "
            "accept DuckDB 2.0 clients here (see docs/scaling.md); use duckdb"
        )
    raise UnsupportedSetting(f"KLINES_WAREHOUSE={kind!r} is not one of {', '.join(WAREHOUSES)}")
