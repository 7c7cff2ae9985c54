"""Fill a warehouse with the simulator's truth through the warehouse's own write path."""

from __future__ import annotations

import json
from pathlib import Path

from simulator import Market
from warehouse.parse import parse_pages
from warehouse.schema import validate_batch
from warehouse.store import Warehouse

PAGE = 1000


def fill(
    db: Path,
    market: Market,
    symbol: str,
    interval: str,
    start_ms: int,
    end_ms: int,
    now_ms: int,
    kind: str = "trade",
    market_name: str = "usdm",
) -> int:
    """Store every closed candle of one series of ``kind`` on ``market_name`` with
    ``start_ms <= open < end_ms``."""
    rows = market.closed_klines(
        symbol, interval, start_ms, end_ms, now_ms, market=market_name, kind=kind
    )
    warehouse = Warehouse(db)
    for first in range(0, len(rows), PAGE):
        page = parse_pages([json.dumps(rows[first : first + PAGE])])
        checked = validate_batch(page, interval, kind)
        assert checked.rejected.empty
        warehouse.write_batch(
            kind=kind,
            market=market_name,
            symbol=symbol,
            interval=interval,
            valid=checked.valid,
            rejected=[],
            source="rest",
            run_id="test-fill",
        )
    return len(rows)
