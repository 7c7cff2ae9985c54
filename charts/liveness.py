"""The liveness picture: kline events per second and their lag over one sample."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np

from charts._figure import new_figure, to_png


def render_liveness_png(
    times: Sequence[datetime | float],
    events_per_second: Sequence[float],
    lag_ms: Sequence[float | None],
    title: str = "WebSocket liveness",
) -> bytes:
    """A PNG of two stacked panels sharing the time axis: event rate (events/s) and lag (ms).

    ``times`` are the sample points, as datetimes or as seconds since the sample started;
    ``lag_ms`` is the event time's delay behind the local clock (``None`` where no event
    arrived in that bucket). The lag panel draws the median and 95th percentile as lines.

    Raises:
        ValueError: the three sequences differ in length or are empty.
    """
    n = len(times)
    if n == 0 or len(events_per_second) != n or len(lag_ms) != n:
        raise ValueError("times, events_per_second and lag_ms must be non-empty and equally long")
    if isinstance(times[0], datetime):
        start = times[0]
        x = np.array([(t - start).total_seconds() for t in times])  # type: ignore[operator]
        xlabel = f"seconds since {start:%Y-%m-%d %H:%M:%S} UTC"
    else:
        x = np.asarray(times, dtype=float)
        xlabel = "seconds since the sample started"
    rate = np.asarray(events_per_second, dtype=float)
    lag = np.array([np.nan if v is None else float(v) for v in lag_ms])

    fig = new_figure(8.0, 4.2)
    top, bottom = fig.subplots(2, 1, sharex=True)
    top.step(x, rate, where="post", color="#2166ac", linewidth=1.2)
    top.fill_between(x, rate, step="post", alpha=0.2, color="#2166ac")
    top.set_ylabel("events / s", fontsize=8)
    silent = int(np.sum(rate == 0))
    top.set_title(
        f"{title}: {rate.sum():.0f} events in {x[-1] - x[0]:.0f} s"
        + (f", {silent} silent buckets" if silent else ""),
        fontsize=10,
    )
    bottom.plot(x, lag, marker=".", markersize=3, linewidth=0.8, color="#b2182b")
    if np.any(~np.isnan(lag)):
        p50, p95 = np.nanpercentile(lag, [50, 95])
        bottom.axhline(
            p50, color="#444444", linestyle="--", linewidth=0.8, label=f"median {p50:.0f} ms"
        )
        bottom.axhline(
            p95, color="#999999", linestyle=":", linewidth=0.8, label=f"p95 {p95:.0f} ms"
        )
        bottom.legend(fontsize=7, loc="upper right")
    bottom.set_ylabel("lag (ms)", fontsize=8)
    bottom.set_xlabel(xlabel, fontsize=8)
    for ax in (top, bottom):
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    return to_png(fig)
