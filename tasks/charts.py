"""Publish charts as Prefect artifacts: a markdown artifact embedding the PNG as a data URI.

The Prefect UI renders the markdown artifact on the flow run's Artifacts tab (and, with a
key, on the Artifacts page with its history). Pictures are kept small (tens of KB).
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from prefect import task
from prefect.artifacts import Artifact, create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from charts import coverage_band, render_coverage_png
from exchange.intervals import INTERVAL_NAMES
from exchange.markets import DEFAULT_KIND, DEFAULT_MARKET
from warehouse.store import Warehouse

COVERAGE_KEY = "klines-coverage"
"""The prefix of the coverage artifacts' keys (:func:`coverage_key`)."""
_FINGERPRINT = "<!-- klines-coverage picture {} -->"


def coverage_key(deployment: str | None, series: list[tuple[str, ...]]) -> str:
    """The coverage artifact's key: one per deployment, else one per set of series.

    ``ingest-short`` and ``ingest-long`` cover different series, so each keeps its own
    picture and history (``klines-coverage-ingest-short``); a command-line run has no
    deployment and is keyed by what it loaded (``klines-coverage-btcusdt-ethusdt-1m-1h``,
    or ``klines-coverage-12-symbols-1m`` for many symbols; markets other than USDⓈ-M and
    kinds other than trade lead: ``klines-coverage-spot-btcusdt-1m``,
    ``klines-coverage-mark-btcusdt-1m``). ``series`` holds (market, symbol, interval) or
    (market, symbol, interval, kind). ``1M`` (a month) is ``1mo``, since keys are lowercase.
    """
    if deployment:
        return f"{COVERAGE_KEY}-{_slug(deployment)}"
    markets = sorted({s[0] for s in series} - {DEFAULT_MARKET})
    kinds = sorted({_kind(s) for s in series} - {DEFAULT_KIND})
    symbols = sorted({s[1] for s in series})
    intervals = sorted({s[2] for s in series}, key=_interval_rank)
    named = "-".join([*markets, *kinds, *(s.lower() for s in symbols)])
    if len(named) > 40:
        named = f"{len(symbols)}-symbols"
    shown = "-".join("1mo" if i == "1M" else i.lower() for i in intervals)
    return _slug(f"{COVERAGE_KEY}-{named}-{shown}")


def chart_markdown(png: bytes, title: str, caption: str = "", hidden: str = "") -> str:
    """Markdown showing ``png`` inline (``![title](data:image/png;base64,...)``); ``hidden``
    (an HTML comment) is kept in the text but not shown."""
    data = base64.b64encode(png).decode("ascii")
    text = f"### {title}\n\n![{title}](data:image/png;base64,{data})\n"
    text += f"\n{caption}\n" if caption else ""
    return text + (f"\n{hidden}\n" if hidden else "")


def publish_chart(
    png: bytes, key: str, title: str, caption: str = "", description: str = "", hidden: str = ""
) -> UUID:
    """Create a markdown artifact holding the picture; call inside a flow or task run.

    ``key`` must be lowercase letters, digits and dashes (Prefect's rule); ``description``
    (default: ``title``) is what the UI lists the artifact by.
    """
    return create_markdown_artifact(
        markdown=chart_markdown(png, title, caption, hidden),
        key=key,
        description=description or title,
    )


def coverage_rows(
    db_path: str,
    days: int = 14,
    series: list[tuple[str, ...]] | None = None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Rows of the ``coverage`` view for the ``days`` UTC days that end with ``now``'s (default:
    the local clock; the ingest flow passes the exchange's), optionally only some (market,
    symbol, interval[, kind]) series (trade when no kind is given). Opens the file
    read-write (applies migrations) briefly."""
    since = coverage_window(days, now)[0]
    with Warehouse(db_path).connect() as con:
        cur = con.execute(
            "SELECT market, kind, symbol, interval, day, expected, present, completeness "
            "FROM coverage WHERE day >= ? ORDER BY ALL",
            [since],
        )
        names = [d[0] for d in cur.description or []]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    if series is not None:
        wanted = {(s[0], s[1], s[2], _kind(s)) for s in series}
        rows = [r for r in rows if (r["market"], r["symbol"], r["interval"], r["kind"]) in wanted]
    return rows


def _name(row: dict[str, Any]) -> str:
    """``BTCUSDT 1m``, led by a kind other than trade: ``mark BTCUSDT 1m``."""
    kind = row.get("kind", DEFAULT_KIND)
    lead = "" if kind == DEFAULT_KIND else f"{kind} "
    return f"{lead}{row['symbol']} {row['interval']}"


def _kind(series: tuple[str, ...]) -> str:
    """The kind of a (market, symbol, interval[, kind]) series."""
    return series[3] if len(series) > 3 else DEFAULT_KIND


def coverage_window(days: int, now: datetime | None = None) -> tuple[date, date]:
    """The first and last UTC day of the ``days`` days that end today (today included)."""
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    return today - timedelta(days=days - 1), today


@task(name="publish-coverage-chart", cache_policy=NO_CACHE, persist_result=False)
def publish_coverage_chart(
    db_path: str,
    days: int = 14,
    series: list[tuple[str, ...]] | None = None,
    now: datetime | None = None,
    key: str = COVERAGE_KEY,
) -> UUID | None:
    """The completeness artifact (under ``key``, see :func:`coverage_key`): a series × day
    heat map of the last ``days`` UTC days, today included, and the days that are not
    complete.

    Drawing takes most of a second, so the picture is redrawn only when it would look
    different from the newest artifact under ``key`` (a cell changes colour, a day or a
    series is added, an incomplete day's counts move): a fingerprint of what it shows is
    kept in the markdown as an HTML comment, which the UI does not display. ``None`` if
    nothing is stored or the newest artifact already shows it.
    """
    rows = coverage_rows(db_path, days, series, now)
    if not rows:
        return None
    first, last = coverage_window(days, now)
    title = f"Coverage, last {days} UTC days"
    short = [r for r in rows if r["completeness"] is not None and r["completeness"] < 1]
    caption = (
        "All expected candles are stored."
        if not short
        else (
            "| series | day | present / expected |\n|---|---|---|\n"
            + "\n".join(
                f"| {_name(r)} | {r['day']} | {r['present']} / {r['expected']} |"
                for r in short[:20]
            )
            + ("\n\n(first 20 shown)" if len(short) > 20 else "")
        )
    )
    fingerprint = _FINGERPRINT.format(_look_digest(rows, title, caption, first))
    newest = Artifact.get(key)
    if newest is not None and fingerprint in str(newest.data or ""):
        return None
    png = render_coverage_png(rows, title=title, first_day=first, last_day=last)
    return publish_chart(
        png,
        key,
        "Coverage (share of expected candles stored)",
        caption,
        description=f"{_series_text(rows)}: share of expected candles stored per UTC day, "
        f"{first} to {last}",
        hidden=fingerprint,
    )


def _series_text(rows: list[dict[str, Any]]) -> str:
    """``BTCUSDT, ETHUSDT × 1m, 5m``, or ``12 symbols × 1m, 1h`` for many."""
    symbols = sorted({r["symbol"] for r in rows})
    intervals = sorted({r["interval"] for r in rows}, key=_interval_rank)
    named = ", ".join(symbols) if len(symbols) <= 4 else f"{len(symbols)} symbols"
    return f"{named} × {', '.join(intervals)}"


def _look_digest(rows: list[dict[str, Any]], title: str, caption: str, first: date) -> str:
    """What the coverage picture shows: each cell's colour band, the window, the title and
    the caption."""
    cells = sorted(
        (
            r["market"],
            r.get("kind", DEFAULT_KIND),
            r["symbol"],
            r["interval"],
            str(r["day"]),
            coverage_band(r["completeness"]),
        )
        for r in rows
    )
    return hashlib.sha256(repr((cells, str(first), title, caption)).encode()).hexdigest()[:16]


def _interval_rank(interval: str) -> int:
    return INTERVAL_NAMES.index(interval) if interval in INTERVAL_NAMES else len(INTERVAL_NAMES)


def _slug(text: str) -> str:
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9]", "-", text.lower())).strip("-")
