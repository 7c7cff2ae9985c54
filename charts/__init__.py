"""Pictures for the Prefect UI, rendered to PNG bytes (matplotlib, Agg; no Prefect, no I/O).

- :func:`render_coverage_png`: completeness of each series per UTC day (the ``coverage`` view).
- :func:`render_liveness_png`: WebSocket event rate and lag over a liveness sample.
"""

from __future__ import annotations

from charts.coverage import coverage_band, render_coverage_png
from charts.liveness import render_liveness_png

__all__ = ["coverage_band", "render_coverage_png", "render_liveness_png"]
