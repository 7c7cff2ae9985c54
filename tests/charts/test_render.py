"""The PNG renderers: pure functions of their rows."""

from __future__ import annotations

import io
import struct
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from charts import render_coverage_png, render_liveness_png
from charts.coverage import coverage_grid

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def size(png: bytes) -> tuple[int, int]:
    assert png[:8] == PNG_MAGIC
    return struct.unpack(">II", png[16:24])


def coverage(days: int = 10) -> list[dict]:
    rows = []
    for symbol in ("BTCUSDT", "ETHUSDT"):
        for interval, expected in (("1m", 1440), ("1h", 24)):
            for k in range(days):
                present = expected - (20 if k == 3 and interval == "1m" else 0)
                rows.append(
                    {
                        "market": "usdm",
                        "symbol": symbol,
                        "interval": interval,
                        "day": date(2026, 10, 20) + timedelta(days=k),
                        "expected": expected,
                        "present": present,
                        "completeness": present / expected,
                    }
                )
    return rows


def test_coverage_png_is_a_small_picture() -> None:
    png = render_coverage_png(coverage(), title="Coverage")
    width, height = size(png)
    assert 300 < width < 1700 and 100 < height < 1100
    assert len(png) < 200_000


def test_coverage_png_scales_and_tolerates_missing_values() -> None:
    rows = coverage(60)
    rows[0]["completeness"] = None
    png = render_coverage_png(rows)
    assert size(png)[0] <= 18 * 90 + 10


def test_the_picture_has_one_column_per_day_of_the_window_grey_where_nothing_is_stored() -> None:
    rows = coverage(3)  # 2026-10-20 .. 10-22 stored
    series, days, grid = coverage_grid(rows, date(2026, 10, 9), date(2026, 10, 22))
    assert len(days) == 14 and (days[0], days[-1]) == (date(2026, 10, 9), date(2026, 10, 22))
    assert series == ["BTCUSDT 1m", "BTCUSDT 1h", "ETHUSDT 1m", "ETHUSDT 1h"]
    assert np.isnan(grid[:, :11]).all() and not np.isnan(grid[:, 11:]).any()
    _, days, _ = coverage_grid(rows[:1] + rows[2:3])  # a day no row covers is still a column
    assert days == [date(2026, 10, 20), date(2026, 10, 21), date(2026, 10, 22)]


def test_a_price_kind_is_a_row_of_its_own_named_by_its_kind() -> None:
    rows = coverage(1)[:1]
    rows += [{**rows[0], "kind": "mark"}, {**rows[0], "market": "coinm", "kind": "premium"}]
    series, _, _ = coverage_grid(rows)
    assert series == ["BTCUSDT 1m", "coinm premium BTCUSDT 1m", "mark BTCUSDT 1m"]


def test_coverage_png_needs_rows() -> None:
    with pytest.raises(ValueError, match="no coverage rows"):
        render_coverage_png([])


def test_liveness_png_from_datetimes_and_seconds() -> None:
    t0 = datetime(2026, 11, 2, tzinfo=UTC)
    times = [t0 + timedelta(seconds=s) for s in range(60)]
    rates = [2.0 if s % 10 else 0.0 for s in range(60)]
    lags = [None if r == 0 else 150 + s for s, r in enumerate(rates)]
    assert size(render_liveness_png(times, rates, lags))[0] > 300
    assert size(render_liveness_png(list(range(60)), rates, lags))[0] > 300


def test_liveness_png_checks_lengths() -> None:
    with pytest.raises(ValueError, match="equally long"):
        render_liveness_png([0.0, 1.0], [1.0], [1.0, 2.0])


def test_rendering_does_not_touch_pyplot() -> None:
    import sys

    render_coverage_png(coverage(2))
    assert "matplotlib.pyplot" not in sys.modules or io  # Agg canvas only
