"""Publish charts as Prefect artifacts: a markdown artifact embedding the PNG as a data URI.

The Prefect UI renders the markdown artifact on the flow run's Artifacts tab (and, with a
key, on the Artifacts page with its history). Pictures are kept small (tens of KB).
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from prefect import task
from prefect.artifacts import Artifact, create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from charts import coverage_band, render_coverage_png
from warehouse.store import Warehouse

COVERAGE_KEY = "klines-coverage"


def chart_markdown(png: bytes, title: str, caption: str = "") -> str:
    """Markdown showing ``png`` inline (``![title](data:image/png;base64,...)``)."""
    data = base64.b64encode(png).decode("ascii")
    text = f"### {title}\n\n![{title}](data:image/png;base64,{data})\n"
    return text + (f"\n{caption}\n" if caption else "")


def publish_chart(png: bytes, key: str, title: str, caption: str = "", tag: str = "") -> UUID:
    """Create a markdown artifact holding the picture; call inside a flow or task run.

    ``key`` must be lowercase letters, digits and dashes (Prefect's rule); ``tag`` is
    appended to the description.
    """
    return create_markdown_artifact(
        markdown=chart_markdown(png, title, caption),
        key=key,
        description=f"{title} {tag}".strip(),
    )


def coverage_rows(
    db_path: str,
    days: int = 14,
    series: list[tuple[str, str]] | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Rows of the ``coverage`` view for the ``days`` UTC days up to ``now`` (default: the
    local clock; the ingest flow passes the exchange's), optionally only some (symbol,
    interval) series. Opens the file read-write (applies migrations) briefly."""
    since = ((now or datetime.now(UTC)) - timedelta(days=days)).date()
    with Warehouse(db_path).connect() as con:
        cur = con.execute(
            "SELECT market, symbol, interval, day, expected, present, completeness "
            "FROM coverage WHERE day >= ? ORDER BY ALL",
            [since],
        )
        names = [d[0] for d in cur.description or []]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    if series is not None:
        wanted = set(series)
        rows = [r for r in rows if (r["symbol"], r["interval"]) in wanted]
    return rows


@task(name="publish-coverage-chart", cache_policy=NO_CACHE, persist_result=False)
def publish_coverage_chart(
    db_path: str,
    days: int = 14,
    series: list[tuple[str, str]] | None = None,
    now: datetime | None = None,
) -> UUID | None:
    """The completeness artifact (key ``klines-coverage``): a series × day heat map of the
    last ``days`` days and the days that are not complete.

    Drawing takes most of a second, so the picture is redrawn only when it would look
    different from the newest ``klines-coverage`` artifact (a cell changes colour, a day
    or a series is added, an incomplete day's counts move). ``None`` if nothing is stored
    or the newest artifact already shows it.
    """
    rows = coverage_rows(db_path, days, series, now)
    if not rows:
        return None
    title = f"Coverage, last {days} days"
    short = [r for r in rows if r["completeness"] is not None and r["completeness"] < 1]
    caption = (
        "All expected candles are stored."
        if not short
        else (
            "| series | day | present / expected |\n|---|---|---|\n"
            + "\n".join(
                f"| {r['symbol']} {r['interval']} | {r['day']} | {r['present']} / {r['expected']} |"
                for r in short[:20]
            )
            + ("\n\n(first 20 shown)" if len(short) > 20 else "")
        )
    )
    look = f"[{_look_digest(rows, title, caption)}]"
    newest = Artifact.get(COVERAGE_KEY)
    if newest is not None and (newest.description or "").endswith(look):
        return None
    png = render_coverage_png(rows, title=title)
    return publish_chart(
        png, COVERAGE_KEY, "Coverage (share of expected candles stored)", caption, look
    )


def _look_digest(rows: list[dict[str, Any]], title: str, caption: str) -> str:
    """What the coverage picture shows: each cell's colour band, the title and the caption."""
    cells = sorted(
        (r["market"], r["symbol"], r["interval"], str(r["day"]), coverage_band(r["completeness"]))
        for r in rows
    )
    return hashlib.sha256(repr((cells, title, caption)).encode()).hexdigest()[:16]
