"""The gap ledger: every expected-but-absent candle range of a series, with its cause.

Causes:
    exchange_empty   the range was fetched and the exchange returned no candle (maintenance)
    rejected         the exchange returned candles that failed validation (see klines_rejected)
    before_listing   asked for, but before the symbol's onboardDate
    after_delisting  asked for, but at or after a contract's delivery/delisting
    not_fetched      a hole between stored candles that no run has asked for yet
    fetch_failed     a run tried and gave up (the error is in ``detail``)

A range fetched again replaces the ledger rows that start inside it, so the
ledger always describes the newest attempt. ``klines`` never receives a made-up
candle for a gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import numpy as np

from exchange.intervals import Interval

CAUSES = (
    "exchange_empty",
    "rejected",
    "before_listing",
    "after_delisting",
    "not_fetched",
    "fetch_failed",
)
CONFIRMED = ("exchange_empty", "before_listing", "after_delisting")


@dataclass(frozen=True)
class Gap:
    """Missing candles with open times in ``[start_ms, end_ms)``."""

    start_ms: int
    end_ms: int
    missing: int
    cause: str
    detail: str = ""


_STORED = """SELECT epoch_ms(open_time) AS t FROM klines
    WHERE market = ? AND symbol = ? AND interval = ?
      AND open_time >= epoch_ms(?::BIGINT) AT TIME ZONE 'UTC'
      AND open_time < epoch_ms(?::BIGINT) AT TIME ZONE 'UTC'"""


def find_missing(
    con: duckdb.DuckDBPyConnection,
    market: str,
    symbol: str,
    interval: Interval,
    start_ms: int,
    end_ms: int,
) -> list[tuple[int, int, int]]:
    """Runs of grid points in ``[start_ms, end_ms)`` with no stored candle, as
    ``(first missing open, open after the last missing, count)``."""
    stored = con.execute(_STORED, [market, symbol, interval.name, start_ms, end_ms]).fetchnumpy()[
        "t"
    ]
    return missing_runs(stored, interval, start_ms, end_ms)


def missing_runs(
    present_ms: np.ndarray, interval: Interval, start_ms: int, end_ms: int
) -> list[tuple[int, int, int]]:
    """Runs of grid points in ``[start_ms, end_ms)`` not in ``present_ms`` (epoch ms), as
    ``(first missing open, open after the last missing, count)``."""
    first = interval.ceil(start_ms)
    if first >= end_ms:
        return []
    if interval.ms is not None:
        grid = np.arange(first, end_ms, interval.ms, dtype="int64")
    else:  # calendar months are not evenly spaced: a short list
        points = [first]
        while (nxt := interval.add(points[-1], 1)) < end_ms:
            points.append(nxt)
        grid = np.array(points, dtype="int64")
    missing = np.flatnonzero(~np.isin(grid, np.asarray(present_ms, dtype="int64")))
    if not len(missing):
        return []
    breaks = np.flatnonzero(np.diff(missing) != 1) + 1
    runs = np.split(missing, breaks)
    return [(int(grid[r[0]]), interval.add(int(grid[r[-1]]), 1), len(r)) for r in runs]


def replace_gaps(
    con: duckdb.DuckDBPyConnection,
    *,
    market: str,
    symbol: str,
    interval: str,
    start_ms: int,
    end_ms: int,
    gaps: Sequence[Gap],
    run_id: str,
) -> None:
    """Make the ledger rows starting in ``[start_ms, end_ms)`` equal ``gaps``.

    A gap already known with the same start and cause keeps its ``first_seen_at``;
    ``verified_at`` becomes now. Call inside the caller's transaction.
    """
    key = "market = ? AND symbol = ? AND interval = ?"
    in_range = (
        "gap_start >= epoch_ms(?::BIGINT) AT TIME ZONE 'UTC' "
        "AND gap_start < epoch_ms(?::BIGINT) AT TIME ZONE 'UTC'"
    )
    if not gaps:
        con.execute(
            f"DELETE FROM klines_gaps WHERE {key} AND {in_range}",
            [market, symbol, interval, start_ms, end_ms],
        )
        return
    con.execute(
        """CREATE OR REPLACE TEMP TABLE new_gaps (
            gap_start BIGINT, gap_end BIGINT, missing BIGINT, cause VARCHAR, detail VARCHAR)"""
    )
    con.executemany(
        "INSERT INTO new_gaps VALUES (?, ?, ?, ?, ?)",
        [(g.start_ms, g.end_ms, g.missing, g.cause, g.detail) for g in gaps],
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE old_gaps AS
        SELECT epoch_ms(gap_start) AS gap_start, cause, first_seen_at FROM klines_gaps
        WHERE {key} AND {in_range}""",
        [market, symbol, interval, start_ms, end_ms],
    )
    con.execute(
        f"DELETE FROM klines_gaps WHERE {key} AND {in_range}",
        [market, symbol, interval, start_ms, end_ms],
    )
    con.execute(
        """INSERT INTO klines_gaps
        SELECT ?, ?, ?, epoch_ms(n.gap_start) AT TIME ZONE 'UTC', epoch_ms(n.gap_end) AT TIME ZONE 'UTC',
               n.missing, n.cause, n.detail, coalesce(o.first_seen_at, now()), now(), ?
        FROM new_gaps n LEFT JOIN old_gaps o ON o.gap_start = n.gap_start AND o.cause = n.cause""",
        [market, symbol, interval, run_id],
    )
    con.execute("DROP TABLE new_gaps")
    con.execute("DROP TABLE old_gaps")


def load_gaps(con: duckdb.DuckDBPyConnection, market: str, symbol: str, interval: str) -> list[Gap]:
    """Every ledger row of one series, oldest first."""
    rows = con.execute(
        """SELECT epoch_ms(gap_start), epoch_ms(gap_end), missing, cause, coalesce(detail, '')
        FROM klines_gaps WHERE market = ? AND symbol = ? AND interval = ? ORDER BY gap_start""",
        [market, symbol, interval],
    ).fetchall()
    return [Gap(int(a), int(b), int(n), c, d) for a, b, n, c, d in rows]
