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
from tasks.charts import COVERAGE_KEY, coverage_key, publish_chart, publish_coverage_chart
from tests.analytics.fill import fill
from tests.conftest import NOW, NOW_MS, ms


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
    assert artifact.description.startswith("BTCUSDT × 1h: share of expected candles stored per ")
    assert not re.search(r"[0-9a-f]{12}", artifact.description)  # no bare fingerprint shown
    assert re.search(r"<!-- klines-coverage picture [0-9a-f]{16} -->", artifact.data)


def test_each_deployment_or_set_of_series_has_its_own_coverage_key() -> None:
    btc = [("usdm", "BTCUSDT", "1m")]
    assert coverage_key("ingest-short", btc) == "klines-coverage-ingest-short"
    assert coverage_key("ingest-long", btc) == "klines-coverage-ingest-long"
    pairs = [("ETHUSDT", "1M"), ("BTCUSDT", "1h"), ("BTCUSDT", "1m"), ("ETHUSDT", "1h")]
    series = [("usdm", s, i) for s, i in pairs]
    assert coverage_key(None, series) == "klines-coverage-btcusdt-ethusdt-1m-1h-1mo"
    many = [("usdm", f"COIN{i:02d}USDT", "1m") for i in range(12)]
    assert coverage_key(None, many) == "klines-coverage-12-symbols-1m"
    assert coverage_key(None, [*btc, ("spot", "BTCUSDT", "1m")]) == (
        "klines-coverage-spot-btcusdt-1m"
    )
    prices = [("usdm", "BTCUSDT", "1m", "trade"), ("usdm", "BTCUSDT", "1m", "mark")]
    assert coverage_key(None, prices) == "klines-coverage-mark-btcusdt-1m"


def test_two_keys_keep_two_pictures(db_path: Path) -> None:
    fill(db_path, Market(), "BTCUSDT", "1h", ms("2026-10-30T00:00:00"), NOW_MS, NOW_MS)
    fill(db_path, Market(), "BTCUSDT", "1d", ms("2026-10-20T00:00:00"), NOW_MS, NOW_MS)

    @flow
    def report() -> None:
        for interval in ("1h", "1d"):
            publish_coverage_chart(
                str(db_path), 14, [("usdm", "BTCUSDT", interval)], NOW, key=f"test-cov-{interval}"
            )

    report()
    hourly, daily = (asyncio.run(_latest(f"test-cov-{i}")) for i in ("1h", "1d"))
    assert hourly.description.startswith("BTCUSDT × 1h: ")
    assert daily.description.startswith("BTCUSDT × 1d: ")


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
