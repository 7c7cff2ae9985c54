"""What the warehouse holds per symbol, read-only and light (no pandas): for ``klines symbols``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from exchange.intervals import INTERVAL_NAMES
from exchange.markets import DEFAULT_MARKET

from .files import check_readable, open_duckdb
from .holder import command_line, release

_HOLDINGS_SQL = """
SELECT symbol, interval, count(*), epoch_ms(max(open_time))
FROM klines WHERE market = ? AND list_contains(?::VARCHAR[], symbol)
GROUP BY symbol, interval
"""


@dataclass(frozen=True)
class Holding:
    """One symbol's stored candles: its intervals (shortest first), how many candles in
    all, and the open time of the newest one (any interval)."""

    intervals: tuple[str, ...]
    candles: int
    newest: datetime


def holdings(
    path: str | os.PathLike[str],
    symbols: list[str],
    market: str = DEFAULT_MARKET,
    lock_timeout: float = 120.0,
) -> dict[str, Holding]:
    """What the warehouse at ``path`` holds of each of ``symbols`` (absent: nothing stored).

    Nothing at ``path`` means nothing stored; the file is opened read-only, so a run that
    writes meanwhile waits until the one query is done.

    Raises:
        NotAWarehouse: ``path`` holds something that is not a DuckDB database.
        WarehouseLocked: a writer held the file past ``lock_timeout``.
    """
    if not Path(path).exists() or not symbols:
        return {}
    check_readable(path)
    con = open_duckdb(path, read_only=True, lock_timeout=lock_timeout, holder=command_line())
    try:
        rows = con.execute(_HOLDINGS_SQL, [market, symbols]).fetchall()
    except duckdb.CatalogException:
        return {}  # a file no run has written to yet
    finally:
        con.close()
        release(path)
    series: dict[str, list[tuple[str, int, int]]] = {}
    for symbol, interval, count, newest_ms in rows:
        series.setdefault(symbol, []).append((interval, int(count), int(newest_ms)))
    return {
        symbol: Holding(
            intervals=tuple(sorted((i for i, _, _ in found), key=INTERVAL_NAMES.index)),
            candles=sum(n for _, n, _ in found),
            newest=datetime.fromtimestamp(max(t for _, _, t in found) / 1000, UTC),
        )
        for symbol, found in series.items()
    }
