"""The gap ledger: every expected-but-absent candle range of a series, with its cause.

Causes:
    exchange_empty   the range was fetched and the exchange returned no candle (maintenance)
    rejected         the exchange returned candles that failed validation (see klines_rejected)
    before_listing   asked for, but before the symbol's onboardDate
    after_delisting  asked for, but at or after a contract's delivery/delisting
    not_fetched      a hole between stored candles that no run has asked for yet
    fetch_failed     a run tried and gave up (the error is in ``detail``)

A range fetched again replaces the ledger rows that start inside it, so the
ledger always describes the newest attempt. No candle table ever receives a made-up
candle for a gap. Each kind of candle (trade, mark, index, premium) has its own ledger:
rows are keyed by market, kind, symbol, interval and gap start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from exchange.intervals import Interval
from exchange.markets import DEFAULT_KIND

from .schema import table_of

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


def find_missing(
    con: duckdb.DuckDBPyConnection,
    market: str,
    symbol: str,
    interval: Interval,
    start_ms: int,
    end_ms: int,
    kind: str = DEFAULT_KIND,
) -> list[tuple[int, int, int]]:
    """Runs of grid points in ``[start_ms, end_ms)`` with no stored ``kind`` candle, as
    ``(first missing open, open after the last missing, count)``."""
    table = table_of(kind)
    key = {"market": market, "kind": kind, "symbol": symbol, "interval": interval.name}
    sql = f"""SELECT epoch_ms(open_time) AS t FROM {table.name}
        WHERE {" AND ".join(f"{c} = ?" for c in table.series_keys)}
          AND open_time >= epoch_ms(?::BIGINT) AT TIME ZONE 'UTC'
          AND open_time < epoch_ms(?::BIGINT) AT TIME ZONE 'UTC'"""
    params = [*(key[c] for c in table.series_keys), start_ms, end_ms]
    stored = con.execute(sql, params).fetchnumpy()["t"]
    return missing_runs(stored, interval, start_ms, end_ms)


def missing_runs(
    present_ms: np.ndarray, interval: Interval, start_ms: int, end_ms: int
) -> list[tuple[int, int, int]]:
    """Runs of grid points in ``[start_ms, end_ms)`` not in ``present_ms`` (epoch ms), as
    ``(first missing open, open after the last missing, count)``."""
    first = interval.ceil(start_ms)
    if first >= end_ms:
        return []
    present = np.asarray(present_ms, dtype="int64")
    if interval.ms is not None:  # index each candle on the grid: linear, no sort
        step = interval.ms
        grid = np.arange(first, end_ms, step, dtype="int64")
        offsets = present - first
        offsets = offsets[(offsets >= 0) & (offsets % step == 0)] // step
        have = np.zeros(len(grid), dtype=bool)
        have[offsets[offsets < len(grid)]] = True
    else:  # calendar months are not evenly spaced: a short list
        points = [first]
        while (nxt := interval.add(points[-1], 1)) < end_ms:
            points.append(nxt)
        grid = np.array(points, dtype="int64")
        have = np.isin(grid, present)
    missing = np.flatnonzero(~have)
    if not len(missing):
        return []
    breaks = np.flatnonzero(np.diff(missing) != 1) + 1
    runs = np.split(missing, breaks)
    return [(int(grid[r[0]]), interval.add(int(grid[r[-1]]), 1), len(r)) for r in runs]


@dataclass(frozen=True)
class LedgerRange:
    """The ledger rows of one series that start in ``[start_ms, end_ms)`` should be ``gaps``."""

    market: str
    symbol: str
    interval: str
    start_ms: int
    end_ms: int
    gaps: Sequence[Gap] = ()
    kind: str = DEFAULT_KIND


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
    kind: str = DEFAULT_KIND,
) -> None:
    """Make the ledger rows of ``kind`` starting in ``[start_ms, end_ms)`` equal ``gaps``.

    A gap already known with the same start and cause keeps its ``first_seen_at``;
    ``verified_at`` becomes now. Call inside the caller's transaction.
    """
    replace_ledger(
        con, [LedgerRange(market, symbol, interval, start_ms, end_ms, gaps, kind)], run_id
    )


_IN_SPAN = """g.market = s.market AND g.kind = s.kind AND g.symbol = s.symbol
    AND g.interval = s.interval
    AND g.gap_start >= epoch_ms(s.lo) AT TIME ZONE 'UTC'
    AND g.gap_start < epoch_ms(s.hi) AT TIME ZONE 'UTC'"""


def replace_ledger(
    con: duckdb.DuckDBPyConnection, ranges: Sequence[LedgerRange], run_id: str
) -> None:
    """:func:`replace_gaps` for many ranges at once (a few statements in all)."""
    if len(ranges) == 1 and not ranges[0].gaps:  # the common case: one statement
        r = ranges[0]
        con.execute(
            """DELETE FROM klines_gaps WHERE market = ? AND kind = ? AND symbol = ?
            AND interval = ?
            AND gap_start >= epoch_ms(?::BIGINT) AT TIME ZONE 'UTC'
            AND gap_start < epoch_ms(?::BIGINT) AT TIME ZONE 'UTC'""",
            [r.market, r.kind, r.symbol, r.interval, r.start_ms, r.end_ms],
        )
        return
    spans = pa.table(
        {
            "market": [r.market for r in ranges],
            "kind": [r.kind for r in ranges],
            "symbol": [r.symbol for r in ranges],
            "interval": [r.interval for r in ranges],
            "lo": pa.array([r.start_ms for r in ranges], pa.int64()),
            "hi": pa.array([r.end_ms for r in ranges], pa.int64()),
        }
    )
    found = [(r, g) for r in ranges for g in r.gaps]
    new = pa.table(
        {
            "market": pa.array([r.market for r, _ in found], pa.string()),
            "kind": pa.array([r.kind for r, _ in found], pa.string()),
            "symbol": pa.array([r.symbol for r, _ in found], pa.string()),
            "interval": pa.array([r.interval for r, _ in found], pa.string()),
            "gap_start": pa.array([g.start_ms for _, g in found], pa.int64()),
            "gap_end": pa.array([g.end_ms for _, g in found], pa.int64()),
            "missing": pa.array([g.missing for _, g in found], pa.int64()),
            "cause": pa.array([g.cause for _, g in found], pa.string()),
            "detail": pa.array([g.detail for _, g in found], pa.string()),
        }
    )
    con.register("ledger_spans", spans)
    con.register("ledger_new", new)
    try:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE ledger_old AS
            SELECT g.market, g.kind, g.symbol, g.interval, epoch_ms(g.gap_start) AS gap_start,
                   g.cause,
                   g.first_seen_at
            FROM klines_gaps g JOIN ledger_spans s ON {_IN_SPAN}"""
        )
        con.execute(f"DELETE FROM klines_gaps g USING ledger_spans s WHERE {_IN_SPAN}")
        con.execute(
            """INSERT INTO klines_gaps BY NAME
            SELECT n.market, n.kind, n.symbol, n.interval,
                   epoch_ms(n.gap_start) AT TIME ZONE 'UTC' AS gap_start,
                   epoch_ms(n.gap_end) AT TIME ZONE 'UTC' AS gap_end, n.missing, n.cause,
                   n.detail, coalesce(o.first_seen_at, now()) AS first_seen_at,
                   now() AS verified_at, ?::VARCHAR AS run_id
            FROM ledger_new n
            LEFT JOIN ledger_old o USING (market, kind, symbol, interval, gap_start, cause)""",
            [run_id],
        )
        con.execute("DROP TABLE ledger_old")
    finally:
        con.unregister("ledger_spans")
        con.unregister("ledger_new")


def load_gaps(
    con: duckdb.DuckDBPyConnection,
    market: str,
    symbol: str,
    interval: str,
    kind: str = DEFAULT_KIND,
) -> list[Gap]:
    """Every ledger row of one series of ``kind``, oldest first."""
    rows = con.execute(
        """SELECT epoch_ms(gap_start), epoch_ms(gap_end), missing, cause, coalesce(detail, '')
        FROM klines_gaps WHERE market = ? AND kind = ? AND symbol = ? AND interval = ?
        ORDER BY gap_start""",
        [market, kind, symbol, interval],
    ).fetchall()
    return [Gap(int(a), int(b), int(n), c, d) for a, b, n, c, d in rows]
