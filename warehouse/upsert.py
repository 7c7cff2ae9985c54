"""The statements that write one batch into a candle table, inside the caller's transaction.

Used by :meth:`warehouse.candles.BulkWriter.write_series`, which registers the batch as
``staged_all`` (one row per candle, numbered by ``series``) and its series as
``batch_series`` (``series``, ``market``, ``kind``, ``symbol``, ``interval``, ``lo``,
``hi``). Every statement is built from the table's description
(:class:`warehouse.schema.KlineTable`: its series key and value columns), so trade candles
(``klines``) and price candles (``price_klines``, keyed by kind too) share one write path.
A series with nothing stored in its range gets a plain insert; the others are merged
candle by candle, the old values of a changed candle kept in ``klines_revisions``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .schema import TABLES, KlineTable


def stored_series(
    con: duckdb.DuckDBPyConnection, table: KlineTable, spans: list[tuple[int, int]]
) -> set[int]:
    """Series of ``batch_series`` with a stored candle opening in their ``[lo, hi)``."""
    lows = [lo for lo, hi in spans if hi > lo]
    if not lows:
        return set()
    rows = con.execute(
        f"""SELECT DISTINCT b.series FROM batch_series b JOIN {table.name} k
        ON {_match(table, "k", "b")}
        AND k.open_time >= epoch_ms(b.lo) AT TIME ZONE 'UTC'
        AND k.open_time < epoch_ms(b.hi) AT TIME ZONE 'UTC'
        WHERE k.open_time >= epoch_ms(?::BIGINT) AT TIME ZONE 'UTC'""",
        [min(lows)],
    ).fetchall()
    return {int(i) for (i,) in rows}


def insert_or_merge(
    con: duckdb.DuckDBPyConnection,
    table: KlineTable,
    keys: Sequence[dict[str, str]],
    staged: pa.Table,
    counts: Sequence[int],
    merged: set[int],
    source: str,
    run_id: str,
) -> tuple[list[int], list[int]]:
    """Write the candles of ``staged_all``: one plain insert for every series outside
    ``merged`` (nothing stored in its range), a merge per series in it; candles inserted
    and updated per series. ``keys[i]`` names series ``i`` (market, kind, symbol, interval).
    """
    con.execute(_sql(table.name).insert_new, [source, run_id, sorted(merged)])
    inserted = [0 if i in merged else int(c) for i, c in enumerate(counts)]
    updated = [0] * len(keys)
    for i in sorted(merged):
        con.register("staged", staged.filter(pc.equal(staged["series"], i)))
        inserted[i], updated[i] = _upsert_staged(con, table, keys[i], source, run_id)
        con.unregister("staged")
    return inserted, updated


def quarantine(
    con: duckdb.DuckDBPyConnection,
    keys: Sequence[dict[str, str]],
    rejected: Sequence[dict[str, Any]],
    source: str,
    run_id: str,
) -> None:
    """Keep rejected rows, exactly as received, in ``klines_rejected`` (with their kind)."""
    rejects = pd.DataFrame(  # noqa: F841 - read by the statement below
        {
            "market": [keys[r["series"]]["market"] for r in rejected],
            "kind": [keys[r["series"]]["kind"] for r in rejected],
            "symbol": [keys[r["series"]]["symbol"] for r in rejected],
            "interval": [keys[r["series"]]["interval"] for r in rejected],
            "open_time_ms": pd.array([r["open_time_ms"] for r in rejected], dtype="Int64"),
            "raw": [r["raw"] for r in rejected],
            "failed_checks": [list(r["failed_checks"]) for r in rejected],
        }
    )
    con.execute(
        """INSERT INTO klines_rejected BY NAME
        SELECT market, kind, symbol, interval, open_time_ms, raw, failed_checks,
               ?::VARCHAR AS source, ?::VARCHAR AS run_id, now() AS rejected_at
        FROM rejects""",
        [source, run_id],
    )


def _upsert_staged(
    con: duckdb.DuckDBPyConnection,
    table: KlineTable,
    key: dict[str, str],
    source: str,
    run_id: str,
) -> tuple[int, int]:
    """Merge ``staged`` into a range that already holds candles: (inserted, updated).

    Unchanged candles are left alone; a changed one is copied to ``klines_revisions``
    and updated; new keys go in as a plain insert (no conflict path).
    """
    sql = _sql(table.name)
    con.execute(sql.stage, [key[c] for c in table.series_keys])
    updated = _count(con, sql.revise, [key["kind"], run_id])
    if updated:
        con.execute(sql.update, [source, run_id])
    inserted = _count(con, sql.insert_staged, [source, run_id])
    con.execute("DROP TABLE stg")
    return inserted, updated


class _Statements:
    """The write statements of one table."""

    def __init__(self, table: KlineTable) -> None:
        values = table.values
        updated = (*values, "close_time")
        using = ", ".join((*table.series_keys, "open_time"))
        differs = " OR ".join(f"k.{c} IS DISTINCT FROM s.{c}" for c in updated)
        # Epoch ms → TIMESTAMPTZ per row: make_timestamptz(µs) is arithmetic, about 25×
        # cheaper than ``epoch_ms(x) AT TIME ZONE 'UTC'`` (an ICU conversion).
        self.insert_new = f"""INSERT INTO {table.name} BY NAME
SELECT {", ".join(f"b.{c}" for c in table.series_keys)},
       make_timestamptz(s.open_time_ms * 1000) AS open_time,
       {", ".join(f"s.{c}" for c in values)},
       make_timestamptz(s.close_time_ms * 1000) AS close_time,
       ?::VARCHAR AS source, now() AS ingested_at, ?::VARCHAR AS run_id
FROM staged_all s JOIN batch_series b USING (series)
WHERE NOT list_contains(?::BIGINT[], s.series)"""
        self.stage = f"""CREATE OR REPLACE TEMP TABLE stg AS
SELECT {", ".join(f"?::VARCHAR AS {c}" for c in table.series_keys)},
       make_timestamptz(open_time_ms * 1000) AS open_time,
       {", ".join(values)},
       make_timestamptz(close_time_ms * 1000) AS close_time
FROM staged"""
        self.revise = f"""INSERT INTO klines_revisions BY NAME
SELECT k.market, ?::VARCHAR AS kind, k.symbol, k.interval, k.open_time,
       {", ".join(f"k.{c}" for c in updated)},
       k.source, k.ingested_at, k.run_id, now() AS revised_at,
       ?::VARCHAR AS revised_by_run_id
FROM {table.name} k JOIN stg s USING ({using})
WHERE {differs}"""
        sets = ", ".join(f"{c} = s.{c}" for c in (*updated, "source", "ingested_at", "run_id"))
        self.update = f"""UPDATE {table.name} AS k SET {sets}
FROM (SELECT *, ?::VARCHAR AS source, now() AS ingested_at, ?::VARCHAR AS run_id FROM stg) s
WHERE {_match(table, "k", "s")} AND k.open_time = s.open_time AND ({differs})"""
        self.insert_staged = f"""INSERT INTO {table.name} BY NAME
SELECT s.*, ?::VARCHAR AS source, now() AS ingested_at, ?::VARCHAR AS run_id
FROM stg s ANTI JOIN {table.name} k USING ({using})"""


@cache
def _sql(name: str) -> _Statements:
    return _Statements(TABLES[name])


def _match(table: KlineTable, a: str, b: str) -> str:
    """``a`` and ``b`` name the same series of ``table``."""
    return " AND ".join(f"{a}.{c} = {b}.{c}" for c in table.series_keys)


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> int:
    row = con.execute(sql, params or []).fetchone()
    return int(row[0]) if row else 0
