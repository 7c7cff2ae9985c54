"""Turn raw ``/fapi/v1/klines`` response bodies into a typed batch, exactly.

The JSON is parsed inside DuckDB (``from_json``), which is several times faster
than building Python objects per row. Decimal strings are cast to DECIMAL
without ever passing through a binary float; a value that does not fit its
column exactly (too many decimal places, not a number) becomes NULL so that
validation rejects its row instead of storing a rounded value.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Callable, Sequence

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from .schema import PRICE_SCALE, QTY_SCALE, VALUE_FIELDS

_ENGINE: duckdb.DuckDBPyConnection | None = None
_ENGINE_GUARD = threading.Lock()


def _parser() -> duckdb.DuckDBPyConnection:
    """A fresh cursor on one in-memory database shared by this process's parsers.

    Opening an in-memory database costs about 20 ms, more than parsing a small page;
    a cursor on a shared one costs well under one.
    """
    global _ENGINE
    with _ENGINE_GUARD:
        if _ENGINE is None:
            # One thread: parsing runs beside the warehouse's writes (their own DuckDB); a
            # second pool of workers only contends for the same cores.
            _ENGINE = duckdb.connect(":memory:", config={"threads": 1})
        return _ENGINE.cursor()


def _exact_decimal(expr: str, sql_type: str, scale: int, plain: bool) -> str:
    # Casting to DECIMAL rounds silently; accept only plain decimal strings whose
    # extra places (beyond the column's scale) are zeros. The usual value (a point, at
    # most ``scale`` characters after it, no exponent) passes a check of its length and
    # the point's position, several times cheaper than the pattern, which judges the
    # others. ``plain``: the whole text has no ``e`` or ``E``, so no value has an exponent.
    short = f"strpos({expr}, '.') > 0 AND strlen({expr}) - strpos({expr}, '.') <= {scale}"
    if not plain:
        short += f" AND NOT contains({expr}, 'e') AND NOT contains({expr}, 'E')"
    pattern = rf"-?[0-9]+(\.[0-9]{{0,{scale}}}0*)?"
    return (
        f"CASE WHEN ({short}) OR regexp_full_match({expr}, '{pattern}') "
        f"THEN TRY_CAST({expr} AS {sql_type}) END"
    )


def _value_expr(index: int, sql: str, field: Callable[[int], str], plain: bool) -> str:
    expr = field(index)
    if sql == "BIGINT":
        return f"TRY_CAST({expr} AS BIGINT)"
    scale = PRICE_SCALE if sql.startswith("DECIMAL(18") else QTY_SCALE
    return _exact_decimal(expr, sql, scale, plain)


def _select(
    field: Callable[[int], str],
    time: Callable[[str], str],
    n_fields: str,
    plain: bool,
    keys: tuple[str, ...] = ("page", "row"),
) -> str:
    """The batch's columns from the 12 raw text fields (``field(i)`` is Binance's index i);
    ``plain``: the text has no exponent letter (:func:`_plain`)."""
    return ",\n".join(
        [
            *keys,
            f"{time(f'TRY_CAST({field(0)} AS BIGINT)')} AS open_time_ms",
            *(f"{_value_expr(f.index, f.sql, field, plain)} AS {f.name}" for f in VALUE_FIELDS[:5]),
            f"{time(f'TRY_CAST({field(6)} AS BIGINT)')} AS close_time_ms",
            *(f"{_value_expr(f.index, f.sql, field, plain)} AS {f.name}" for f in VALUE_FIELDS[5:]),
            f"{n_fields} AS n_fields",
        ]
    )


def _plain(texts: Sequence[str] | Sequence[bytes]) -> bool:
    """Whether no text has an ``e`` or ``E``: then no value has an exponent (one fast
    search of the raw text instead of two per value)."""
    if texts and isinstance(texts[0], bytes):
        return not any(b"e" in t or b"E" in t for t in texts)
    return not any("e" in t or "E" in t for t in texts)


def _json_sql(plain: bool) -> tuple[str, str]:
    select = _select(lambda i: f"k[{i + 1}]", lambda e: e, "len(k)::BIGINT", plain)
    # Fast path: rows as VARCHAR[]; a row that is not an array becomes NULL and is
    # recovered by the slow path, which keeps each row as JSON first.
    fast = f"""
SELECT {select} FROM (
    SELECT page, generate_subscripts(rows, 1) - 1 AS row, unnest(rows) AS k
    FROM (SELECT page, from_json(body, '[["VARCHAR"]]') AS rows FROM pages)
) ORDER BY page, row
"""
    slow = f"""
SELECT {select} FROM (
    SELECT page, row, CASE WHEN json_type(raw) = 'ARRAY' THEN from_json(raw, '["VARCHAR"]') END AS k
    FROM (
        SELECT page, generate_subscripts(rows, 1) - 1 AS row, unnest(rows) AS raw
        FROM (SELECT page, from_json(body, '["JSON"]') AS rows FROM pages)
    )
) ORDER BY page, row
"""
    return fast, slow


_JSON_SQL = {plain: _json_sql(plain) for plain in (True, False)}


def parse_pages(
    bodies: Sequence[str], con: duckdb.DuckDBPyConnection | None = None
) -> pd.DataFrame:
    """Parse klines response bodies (JSON arrays of 12-element rows) into one batch.

    Rows keep their order. Columns: ``page`` and ``row`` (where the row came from,
    see :func:`raw_row`), ``open_time_ms``, the value columns, ``close_time_ms`` and
    ``n_fields``; arrow-backed dtypes, decimals exact.
    """
    own = con is None
    con = con or _parser()
    try:
        pages = pa.table({"page": list(range(len(bodies))), "body": list(bodies)})  # noqa: F841
        fast, slow = _JSON_SQL[_plain(bodies)]
        table = con.sql(fast).to_arrow_table()
        if table.num_rows and table["n_fields"].null_count:
            table = con.sql(slow).to_arrow_table()
    finally:
        if own:
            con.close()
    return table.to_pandas(types_mapper=pd.ArrowDtype)


def raw_row(bodies: Sequence[str], page: int, row: int) -> str:
    """The row exactly as the exchange sent it, as JSON text (for the rejects table)."""
    return json.dumps(json.loads(bodies[page])[row], separators=(",", ":"))


# -- archive CSVs (data.binance.vision) ----------------------------------------------

# Newer futures files start with this header; older ones have none (fact sheet §6).
ARCHIVE_HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
    "taker_buy_volume,taker_buy_quote_volume,ignore"
)
# Spot archives moved to microseconds in 2025; normalise any time by magnitude.
_MICROS_ABOVE = 10**14
_CSV_COLUMNS = {f"c{i}": "VARCHAR" for i in range(12)}


def _ms_from_any(expr: str) -> str:
    return f"CASE WHEN {expr} > {_MICROS_ABOVE} THEN {expr} // 1000 ELSE {expr} END"


_CSV_SELECT = {
    plain: _select(
        lambda i: f"c{i}",
        _ms_from_any,
        "(" + " + ".join(f"(c{i} IS NOT NULL)::BIGINT" for i in range(12)) + ")",
        plain,
        keys=(),
    )
    for plain in (True, False)
}


def has_header(data: bytes) -> bool:
    """Whether an archive CSV starts with a header row (its first field is not a number)."""
    first = data[:64].split(b"\n", 1)[0].split(b",", 1)[0].strip()
    return bool(first) and not first.lstrip(b"-").isdigit()


def csv_rows(data: bytes) -> bytes:
    """The data rows of an archive CSV: header dropped, CRLF and blank lines removed,
    ending with exactly one newline (so the row count is the newline count)."""
    if has_header(data):
        data = data.split(b"\n", 1)[1] if b"\n" in data else b""
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
    data = data.strip(b"\n")
    if b"\n\n" in data:
        data = b"\n".join(line for line in data.split(b"\n") if line.strip())
    return data + b"\n" if data else b""


def parse_csv(files: Sequence[bytes], con: duckdb.DuckDBPyConnection | None = None) -> pd.DataFrame:
    """Parse archive CSVs (header or not, ms or µs times) into one batch.

    Same columns and exactness as :func:`parse_pages`: ``page`` is the file's index in
    ``files``, ``row`` the data row within it. Every field is read as text by DuckDB's CSV
    reader and then cast with the same exact DECIMAL rules as the REST bodies.
    """
    bodies = [csv_rows(f) for f in files]
    counts = np.fromiter((b.count(b"\n") for b in bodies), dtype="int64", count=len(bodies))
    own = con is None
    con = con or _parser()
    spool = None
    try:
        if counts.sum():
            # From a file, DuckDB reads natively; from bytes in memory, it reads through
            # Python (fsspec), holding the interpreter lock the download threads need.
            with tempfile.NamedTemporaryFile("wb", suffix=".csv", delete=False) as spool:
                spool.writelines(bodies)
            raw = con.read_csv(  # noqa: F841
                spool.name,
                header=False,
                sep=",",
                quotechar="",
                escapechar="",
                columns=_CSV_COLUMNS,
                null_padding=True,
                strict_mode=False,
                auto_detect=False,
            )
        else:
            raw = con.sql(  # noqa: F841
                "SELECT " + ", ".join(f"NULL::VARCHAR AS c{i}" for i in range(12)) + " LIMIT 0"
            )
        table = con.sql(f"SELECT {_CSV_SELECT[_plain(bodies)]} FROM raw").to_arrow_table()
    finally:
        if own:
            con.close()
        if spool is not None:
            os.unlink(spool.name)
    if table.num_rows != int(counts.sum()):
        raise ValueError(f"CSV reader saw {table.num_rows} rows, expected {int(counts.sum())}")
    page = np.repeat(np.arange(len(bodies), dtype="int64"), counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    row = np.arange(int(counts.sum()), dtype="int64") - starts
    table = table.add_column(0, "row", pa.array(row)).add_column(0, "page", pa.array(page))
    return table.to_pandas(types_mapper=pd.ArrowDtype)


def raw_csv_row(files: Sequence[bytes], page: int, row: int) -> str:
    """One archive row exactly as the file has it (for the rejects table)."""
    return csv_rows(files[page]).split(b"\n")[row].decode(errors="replace")
