"""Progress of a long series moves page by page, not once per 200-page batch."""

from __future__ import annotations

import io
from pathlib import Path

from exchange.config import RestConfig
from exchange.rest import RestClient
from pipeline.plan import SeriesPlan
from pipeline.progress import BackfillProgress
from pipeline.series import ingest_series
from simulator import Simulator
from tests.conftest import NOW_MS, ms
from warehouse.store import Warehouse


def test_a_long_series_reports_every_page_it_fetches(sim: Simulator, db_path: Path) -> None:
    client = RestClient(RestConfig(base_url=sim.url, backoff_base=0.001, page_limit=99))
    plan = SeriesPlan("usdm", "BTCUSDT", "1m", ms("2026-11-01T00:00:00"), ms("2026-11-01T10:00:00"))
    calls: list[int] = []
    result = ingest_series(
        plan, client, Warehouse(db_path), run_id="r", server_ms=NOW_MS, progress=calls.append
    )
    assert result.status == "ok" and result.requests == 7  # 600 candles in pages of 99
    assert calls == [99] * 6 + [6]  # one report per page, every expected candle counted once


def test_the_progress_line_counts_to_the_total() -> None:
    stream = io.StringIO()
    progress = BackfillProgress(600, stream=stream)
    for n in [99] * 6 + [6]:
        progress(n)
    assert progress.fraction() == 1.0
    assert "600/600 candles" in progress.line()


def test_without_a_terminal_the_line_is_logged_every_so_often_not_drawn() -> None:
    stream = io.StringIO()  # not a terminal: nothing is drawn
    progress = BackfillProgress(600, stream=stream)
    progress(300)
    assert stream.getvalue() == ""
    assert progress.log_line(every_s=3600) is None  # not due yet
    line = progress.log_line(every_s=0)
    assert line is not None and "300/600 candles" in line and "/s" in line and "ETA" in line
