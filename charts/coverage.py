"""The completeness heat map: one row per series, one column per UTC day."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

import numpy as np

from charts._figure import new_figure, to_png
from exchange.intervals import INTERVAL_NAMES
from exchange.markets import DEFAULT_KIND, DEFAULT_MARKET

# Steps, not a gradient: 98.6 % must not look like 100 %. Grey: nothing expected that day.
_BOUNDS = [0.0, 0.5, 0.9, 0.99, 0.999999, 1.000001]
_GREY = "#d9d9d9"
_STEP_COLOURS = ["#b2182b", "#ef8a62", "#fee08b", "#a6d96a", "#1a9850"]


def coverage_band(completeness: float | None) -> int:
    """The colour step of a completeness value (-1: nothing expected)."""
    if completeness is None or (isinstance(completeness, float) and math.isnan(completeness)):
        return -1
    return int(np.searchsorted(_BOUNDS, float(completeness), side="right"))


def coverage_grid(
    rows: Iterable[Mapping[str, Any]], first_day: date | None = None, last_day: date | None = None
) -> tuple[list[str], list[date], np.ndarray]:
    """The picture's row labels, its days (every UTC day from ``first_day`` to ``last_day``,
    default the rows' first and last) and its completeness grid (NaN: grey).

    Raises:
        ValueError: ``rows`` is empty.
    """
    rows = list(rows)
    if not rows:
        raise ValueError("no coverage rows to draw")
    series = sorted({_label(r) for r in rows}, key=_series_order)
    seen = sorted({_day(r["day"]) for r in rows})
    first, last = first_day or seen[0], last_day or seen[-1]
    days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
    grid = np.full((len(series), len(days)), np.nan)
    row_of = {s: i for i, s in enumerate(series)}
    col_of = {d: j for j, d in enumerate(days)}
    for r in rows:
        value = r.get("completeness")
        day = _day(r["day"])
        if (
            day in col_of
            and value is not None
            and not (isinstance(value, float) and math.isnan(value))
        ):
            grid[row_of[_label(r)], col_of[day]] = float(value)
    return series, days, grid


def render_coverage_png(
    rows: Iterable[Mapping[str, Any]],
    title: str = "Coverage",
    first_day: date | None = None,
    last_day: date | None = None,
) -> bytes:
    """A PNG heat map of ``completeness`` (0..1) by series (``symbol interval``) and ``day``.

    ``rows`` are rows of the ``coverage`` view as mappings with at least ``symbol``,
    ``interval``, ``day`` (a ``date``) and ``completeness``; ``expected``, ``present``,
    ``market`` and ``kind`` are used when present. One column per UTC day from ``first_day`` to
    ``last_day`` (default: the rows' first and last day), so a day no row covers is a grey
    column, not a missing one; grey (nothing stored or expected) has its own legend entry.
    Cells print the percentage when the grid is small.

    Raises:
        ValueError: ``rows`` is empty.
    """
    series, days, grid = coverage_grid(rows, first_day, last_day)

    width = min(18.0, 3.0 + 0.45 * len(days))
    height = min(12.0, 1.6 + 0.38 * len(series))
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.patches import Patch

    cmap = ListedColormap(_STEP_COLOURS).with_extremes(bad=_GREY)
    fig = new_figure(width, height)
    ax = fig.add_subplot()
    image = ax.imshow(
        np.ma.masked_invalid(grid),
        cmap=cmap,
        norm=BoundaryNorm(_BOUNDS, cmap.N),
        aspect="auto",
        interpolation="nearest",
    )
    ax.set_yticks(range(len(series)), series, fontsize=8)
    step = max(1, len(days) // 16)
    ax.set_xticks(
        range(0, len(days), step),
        [d.strftime("%m-%d") for d in days[::step]],
        fontsize=8,
        rotation=45,
        ha="right",
    )
    ax.set_xlabel("UTC day")
    whole = int(np.nansum(grid == 1.0))
    known = int(np.sum(~np.isnan(grid)))
    ax.set_title(f"{title}: {whole} of {known} series-days complete", fontsize=10)
    if len(series) * len(days) <= 60:  # numbers stay legible, drawing stays cheap
        for i in range(len(series)):
            for j in range(len(days)):
                if not np.isnan(grid[i, j]):
                    text = "100" if grid[i, j] == 1.0 else f"{100 * grid[i, j]:.1f}"
                    ax.text(j, i, text, ha="center", va="center", fontsize=7)
    bar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.01, ticks=[0.25, 0.7, 0.945, 0.995, 1.0])
    bar.ax.set_yticklabels(["< 50 %", "< 90 %", "< 99 %", "< 100 %", "100 %"])
    bar.set_label("share of expected candles stored", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    fig.legend(
        handles=[Patch(facecolor=_GREY, edgecolor="#999999", label=NOT_COVERED)],
        loc="outside lower right",
        fontsize=7,
        frameon=False,
    )
    return to_png(fig)


NOT_COVERED = "nothing stored or expected (before a series' first candle or after its last)"


_INTERVAL_ORDER = INTERVAL_NAMES


def _label(row: Mapping[str, Any]) -> str:
    """``BTCUSDT 1m``; markets other than USDⓈ-M and kinds other than trade lead:
    ``spot BTCUSDT 1m``, ``mark BTCUSDT 1m``."""
    market, kind = row.get("market"), row.get("kind")
    lead = [market] if market and market != DEFAULT_MARKET else []
    lead += [kind] if kind and kind != DEFAULT_KIND else []
    return " ".join([*lead, row["symbol"], row["interval"]])


def _series_order(label: str) -> tuple[str, int]:
    head, _, interval = label.rpartition(" ")
    rank = _INTERVAL_ORDER.index(interval) if interval in _INTERVAL_ORDER else 99
    return head, rank


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
