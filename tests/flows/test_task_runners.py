"""The scaling switches: KLINES_TASK_RUNNER (thread | dask) and KLINES_WAREHOUSE."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from prefect.task_runners import ThreadPoolTaskRunner
from prefect_dask import DaskTaskRunner

from flows.ingest import ingest_klines
from flows.settings import UnsupportedSetting, check_warehouse, select_task_runner
from simulator import Market, Simulator
from tests.conftest import STORED_SQL, truth_rows


def test_the_switch_selects_the_runner() -> None:
    assert isinstance(select_task_runner({}), ThreadPoolTaskRunner)
    assert select_task_runner({"KLINES_FETCH_WORKERS": "8"})._max_workers == 8
    assert isinstance(select_task_runner({"KLINES_TASK_RUNNER": "dask"}), DaskTaskRunner)
    remote = select_task_runner(
        {"KLINES_TASK_RUNNER": "dask", "KLINES_DASK_ADDRESS": "tcp://h:8786"}
    )
    assert remote.address == "tcp://h:8786"
    with pytest.raises(UnsupportedSetting, match="not one of thread, dask"):
        select_task_runner({"KLINES_TASK_RUNNER": "ray"})


def test_only_duckdb_is_an_available_warehouse() -> None:
    assert check_warehouse({}) == "duckdb"
    for kind in ("ducklake", "motherduck"):
        with pytest.raises(UnsupportedSetting, match="docs/scaling.md"):
            check_warehouse({"KLINES_WAREHOUSE": kind})


@pytest.mark.slow
def test_ingest_on_a_local_dask_cluster(sim: Simulator, market: Market, db_path: Path) -> None:
    runner = select_task_runner({"KLINES_TASK_RUNNER": "dask", "KLINES_DASK_WORKERS": "2"})
    on_dask = ingest_klines.with_options(task_runner=runner)
    summary = on_dask(
        symbols=["BTCUSDT", "ETHUSDT"],
        intervals=["1m", "1h"],
        start="2026-11-01T00:00:00Z",
        db=str(db_path),
        rest_url=sim.url,
    )
    assert summary["status"] == "ok"
    with duckdb.connect(str(db_path), read_only=True) as con:
        for symbol in ("BTCUSDT", "ETHUSDT"):
            for interval in ("1m", "1h"):
                stored = [tuple(r) for r in con.execute(STORED_SQL, [symbol, interval]).fetchall()]
                assert stored == truth_rows(market, symbol, interval, "2026-11-01T00:00:00")
