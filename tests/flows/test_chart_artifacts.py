"""The coverage chart published as a markdown artifact the Prefect UI shows."""

from __future__ import annotations

import asyncio
import base64
import re
from pathlib import Path

import duckdb
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from charts import render_liveness_png
from simulator import Market
from tasks.charts import COVERAGE_KEY, publish_chart, publish_coverage_chart
from tests.analytics.fill import fill
from tests.conftest import NOW_MS, ms


async def _latest(key: str):
    async with get_client() as client:
        found = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
        )
        return max(found, key=lambda a: a.created) if found else None


def _png_in(markdown: str) -> bytes:
    data = re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)\)", markdown).group(1)
    return base64.b64decode(data)


def test_coverage_chart_is_an_artifact(db_path: Path) -> None:
    fill(db_path, Market(), "BTCUSDT", "1h", ms("2026-10-20T00:00:00"), NOW_MS, NOW_MS)

    @flow
    def report() -> object:
        return publish_coverage_chart(str(db_path), days=400)

    assert report() is not None
    artifact = asyncio.run(_latest(COVERAGE_KEY))
    assert artifact.type == "markdown"
    assert _png_in(artifact.data)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "All expected candles are stored." in artifact.data


def test_nothing_stored_publishes_nothing(tmp_path: Path) -> None:
    @flow
    def report() -> object:
        return publish_coverage_chart(str(tmp_path / "empty.duckdb"))

    assert report() is None


def test_a_liveness_picture_can_be_published_the_same_way() -> None:
    png = render_liveness_png(list(range(10)), [1.0] * 10, [100.0] * 10)

    @flow
    def liveness() -> None:
        publish_chart(png, "ws-liveness-test", "WebSocket liveness")

    liveness()
    assert _png_in(asyncio.run(_latest("ws-liveness-test")).data) == png


def test_the_picture_is_redrawn_only_when_it_would_look_different(db_path: Path) -> None:
    fill(db_path, Market(), "ETHUSDT", "1h", ms("2026-10-25T00:00:00"), NOW_MS, NOW_MS)

    @flow
    def report() -> object:
        return publish_coverage_chart(str(db_path), days=401)

    first = report()
    assert first is not None
    assert report() is None  # same picture: the newest artifact already shows it
    with duckdb.connect(str(db_path)) as con:
        con.execute("DELETE FROM klines WHERE open_time = '2026-10-26 05:00:00+00'")
    redrawn = report()
    assert redrawn is not None and redrawn != first
    artifact = asyncio.run(_latest(COVERAGE_KEY))
    assert "| ETHUSDT 1h | 2026-10-26 | 23 / 24 |" in artifact.data
