"""Turn raw ``/fapi/v1/klines`` response bodies into a typed batch, exactly.

The JSON is parsed inside DuckDB (``from_json``), which is several times faster
than building Python objects per row. Decimal strings are cast to DECIMAL
without ever passing through a binary float; a value that does not fit its
column exactly (too many decimal places, not a number) becomes NULL so that
validation rejects its row instead of storing a rounded value.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import duckdb
import pandas as pd
import pyarrow as pa

from .schema import PRICE_SCALE, QTY_SCALE, VALUE_FIELDS


def _exact_decimal(expr: str, sql_type: str, scale: int) -> str:
    # Casting to DECIMAL rounds silently; accept only plain decimal strings whose
    # extra places (beyond the column's scale) are zeros.
    pattern = rf"-?[0-9]+(\.[0-9]{{0,{scale}}}0*)?"
    return (
        f"CASE WHEN regexp_full_match({expr}, '{pattern}') THEN TRY_CAST({expr} AS {sql_type}) END"
    )


def _value_expr(index: int, sql: str) -> str:
    expr = f"k[{index + 1}]"
    if sql == "BIGINT":
        return f"TRY_CAST({expr} AS BIGINT)"
    scale = PRICE_SCALE if sql.startswith("DECIMAL(18") else QTY_SCALE
    return _exact_decimal(expr, sql, scale)


_SELECT = ",\n".join(
    [
        "page",
        "row",
        "TRY_CAST(k[1] AS BIGINT) AS open_time_ms",
        *(f"{_value_expr(f.index, f.sql)} AS {f.name}" for f in VALUE_FIELDS[:5]),
        "TRY_CAST(k[7] AS BIGINT) AS close_time_ms",
        *(f"{_value_expr(f.index, f.sql)} AS {f.name}" for f in VALUE_FIELDS[5:]),
        "len(k)::BIGINT AS n_fields",
    ]
)
# Fast path: rows as VARCHAR[]; a row that is not an array becomes NULL and is
# recovered by the slow path, which keeps each row as JSON first.
_FAST_SQL = f"""
SELECT {_SELECT} FROM (
    SELECT page, generate_subscripts(rows, 1) - 1 AS row, unnest(rows) AS k
    FROM (SELECT page, from_json(body, '[["VARCHAR"]]') AS rows FROM pages)
) ORDER BY page, row
"""
_SLOW_SQL = f"""
SELECT {_SELECT} FROM (
    SELECT page, row, CASE WHEN json_type(raw) = 'ARRAY' THEN from_json(raw, '["VARCHAR"]') END AS k
    FROM (
        SELECT page, generate_subscripts(rows, 1) - 1 AS row, unnest(rows) AS raw
        FROM (SELECT page, from_json(body, '["JSON"]') AS rows FROM pages)
    )
) ORDER BY page, row
"""


def parse_pages(
    bodies: Sequence[str], con: duckdb.DuckDBPyConnection | None = None
) -> pd.DataFrame:
    """Parse klines response bodies (JSON arrays of 12-element rows) into one batch.

    Rows keep their order. Columns: ``page`` and ``row`` (where the row came from,
    see :func:`raw_row`), ``open_time_ms``, the value columns, ``close_time_ms`` and
    ``n_fields``; arrow-backed dtypes, decimals exact.
    """
    own = con is None
    con = con or duckdb.connect()
    try:
        pages = pa.table({"page": list(range(len(bodies))), "body": list(bodies)})  # noqa: F841
        table = con.sql(_FAST_SQL).to_arrow_table()
        if table.num_rows and table["n_fields"].null_count:
            table = con.sql(_SLOW_SQL).to_arrow_table()
    finally:
        if own:
            con.close()
    return table.to_pandas(types_mapper=pd.ArrowDtype)


def raw_row(bodies: Sequence[str], page: int, row: int) -> str:
    """The row exactly as the exchange sent it, as JSON text (for the rejects table)."""
    return json.dumps(json.loads(bodies[page])[row], separators=(",", ":"))
