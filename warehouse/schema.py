"""The one schema module: column types of the candle tables and the pandera
schema every batch must pass before it is written.

Two tables, one per shape of candle (a kind's ``table``, :mod:`exchange.markets`):
``klines`` (trade candles: prices, volumes, trades) and ``price_klines`` (mark, index and
premium index candles: prices only, keyed by kind too). Prices keep up to 8 decimal places
(``DECIMAL(18,8)``, stored as 64-bit integers; Binance's mark, index and premium index
prices have 8, fact sheet §1.2); volumes keep up to 12 places with 26 integer digits
(``DECIMAL(38,12)``), enough for a daily quote volume of 16+ significant digits. A value
with more places than its column keeps is not rounded: it is parsed as NULL and the row is
rejected, so nothing is ever stored inexactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import pandas as pd
import pandera.pandas as pa
import pyarrow as pyarrow

from exchange.intervals import Interval
from exchange.markets import DEFAULT_KIND, KINDS, KindSpec

PRICE_SCALE, PRICE_WIDTH = 8, 18
QTY_SCALE, QTY_WIDTH = 12, 38
PRICE_SQL = f"DECIMAL({PRICE_WIDTH},{PRICE_SCALE})"
QTY_SQL = f"DECIMAL({QTY_WIDTH},{QTY_SCALE})"


@dataclass(frozen=True)
class Field:
    """One kline value: its name, its index in Binance's 12-element row, its SQL type."""

    name: str
    index: int
    sql: str


PRICE_FIELDS = ("open", "high", "low", "close")
QTY_FIELDS = ("volume", "quote_volume", "taker_buy_base_volume", "taker_buy_quote_volume")
# Binance's row order: open time, o, h, l, c, v, close time, quote volume, trades,
# taker buy base, taker buy quote, ignore (fact sheet §1.1).
VALUE_FIELDS: tuple[Field, ...] = (
    Field("open", 1, PRICE_SQL),
    Field("high", 2, PRICE_SQL),
    Field("low", 3, PRICE_SQL),
    Field("close", 4, PRICE_SQL),
    Field("volume", 5, QTY_SQL),
    Field("quote_volume", 7, QTY_SQL),
    Field("trades", 8, "BIGINT"),
    Field("taker_buy_base_volume", 9, QTY_SQL),
    Field("taker_buy_quote_volume", 10, QTY_SQL),
)
VALUE_COLUMNS: tuple[str, ...] = tuple(f.name for f in VALUE_FIELDS)
KEY_COLUMNS = ("market", "symbol", "interval", "open_time")
# Every column of the ``klines`` table, in order, with its SQL type.
KLINES_COLUMNS: tuple[tuple[str, str], ...] = (
    ("market", "VARCHAR NOT NULL"),
    ("symbol", "VARCHAR NOT NULL"),
    ("interval", "VARCHAR NOT NULL"),
    ("open_time", "TIMESTAMPTZ NOT NULL"),
    *((f.name, f.sql + " NOT NULL") for f in VALUE_FIELDS[:5]),
    ("close_time", "TIMESTAMPTZ NOT NULL"),
    *((f.name, f.sql + " NOT NULL") for f in VALUE_FIELDS[5:]),
    ("source", "VARCHAR NOT NULL"),
    ("ingested_at", "TIMESTAMPTZ NOT NULL"),
    ("run_id", "VARCHAR NOT NULL"),
)

# Every column of the ``price_klines`` table, in order: no volumes (the exchange sends none).
PRICE_KLINES_COLUMNS: tuple[tuple[str, str], ...] = (
    ("market", "VARCHAR NOT NULL"),
    ("kind", "VARCHAR NOT NULL"),
    ("symbol", "VARCHAR NOT NULL"),  # the pair for kinds keyed by pair (index)
    ("interval", "VARCHAR NOT NULL"),
    ("open_time", "TIMESTAMPTZ NOT NULL"),
    ("close_time", "TIMESTAMPTZ NOT NULL"),
    *((name, PRICE_SQL + " NOT NULL") for name in PRICE_FIELDS),
    ("source", "VARCHAR NOT NULL"),
    ("ingested_at", "TIMESTAMPTZ NOT NULL"),
    ("run_id", "VARCHAR NOT NULL"),
)


@dataclass(frozen=True)
class KlineTable:
    """One candle table: its name, the columns naming a series (``open_time`` completes
    the primary key) and the value columns a batch writes (``close_time`` aside)."""

    name: str
    series_keys: tuple[str, ...]
    values: tuple[str, ...]
    columns: tuple[tuple[str, str], ...]

    @property
    def has_kind(self) -> bool:
        """Whether rows name their kind (a table holding several kinds)."""
        return "kind" in self.series_keys


TABLES: dict[str, KlineTable] = {
    "klines": KlineTable("klines", ("market", "symbol", "interval"), VALUE_COLUMNS, KLINES_COLUMNS),
    "price_klines": KlineTable(
        "price_klines", ("market", "kind", "symbol", "interval"), PRICE_FIELDS, PRICE_KLINES_COLUMNS
    ),
}


def table_of(kind: str | KindSpec) -> KlineTable:
    """The table that stores ``kind``'s candles (the kind's ``table``)."""
    spec = kind if isinstance(kind, KindSpec) else KINDS[kind]
    return TABLES[spec.table]


_PRICE = pd.ArrowDtype(pyarrow.decimal128(PRICE_WIDTH, PRICE_SCALE))
_QTY = pd.ArrowDtype(pyarrow.decimal128(QTY_WIDTH, QTY_SCALE))
_INT = pd.ArrowDtype(pyarrow.int64())


def _frame_check(name: str, error: str):
    """A vectorised row-wise check; rows with a NULL operand pass (NOT NULL reports them)."""

    def decorate(fn):
        return pa.Check(lambda df: fn(df).fillna(True).astype(bool), name=name, description=error)

    return decorate


@cache
def batch_schema(interval_name: str, kind_name: str = DEFAULT_KIND) -> pa.DataFrameSchema:
    """The pandera schema for one batch of one series of ``interval_name`` candles of
    ``kind_name`` (trade, mark, index, premium).

    The batch has ``open_time_ms`` and ``close_time_ms`` (epoch ms) and the value
    columns of :data:`VALUE_FIELDS`, in arrow-backed dtypes so decimals stay exact; a batch
    of several series numbers them in a ``series`` column. What the kind's description
    says decides the checks: prices are positive unless the kind is ``signed`` (the premium
    index: zero and negative values are real), then within ``max_abs``; volumes, trades and
    taker volumes are checked only for kinds that have them (the others' are ignored and
    not stored).
    """
    kind = KINDS[kind_name]
    interval = Interval.parse(interval_name)
    columns = {
        "open_time_ms": pa.Column(_INT, pa.Check.ge(0), nullable=False),
        "close_time_ms": pa.Column(_INT, nullable=False),
        "n_fields": pa.Column(_INT, pa.Check.eq(12), nullable=False),
        # Several series in one batch: rows of one series share a number here.
        "series": pa.Column(_INT, nullable=False, required=False),
    }
    for name in PRICE_FIELDS:
        columns[name] = pa.Column(_PRICE, _value_checks(kind), nullable=False)
    checks = [
        _frame_check("high_is_highest", "high >= max(open, close, low)")(
            lambda d: (d["high"] >= d["open"]) & (d["high"] >= d["close"]) & (d["high"] >= d["low"])
        ),
        _frame_check("low_is_lowest", "low <= min(open, close)")(
            lambda d: (d["low"] <= d["open"]) & (d["low"] <= d["close"])
        ),
    ]
    if kind.has_volume:
        columns["trades"] = pa.Column(_INT, pa.Check.ge(0), nullable=False)
        for name in QTY_FIELDS:
            columns[name] = pa.Column(_QTY, pa.Check.ge(0), nullable=False)
        checks += [
            _frame_check("taker_base_within_volume", "taker_buy_base_volume <= volume")(
                lambda d: d["taker_buy_base_volume"] <= d["volume"]
            ),
            _frame_check(
                "taker_quote_within_quote_volume", "taker_buy_quote_volume <= quote_volume"
            )(lambda d: d["taker_buy_quote_volume"] <= d["quote_volume"]),
        ]
    checks += [
        _frame_check("open_time_on_grid", f"open_time on the {interval.name} grid")(
            lambda d: _on_grid(d["open_time_ms"], interval)
        ),
        _frame_check("close_time_is_next_open_minus_1ms", "close_time = next open - 1 ms")(
            lambda d: d["close_time_ms"] == _next_open(d["open_time_ms"], interval) - 1
        ),
        _frame_check("open_time_strictly_increasing", "unique, strictly increasing open_time")(
            _strictly_increasing
        ),
    ]
    return pa.DataFrameSchema(columns, checks=checks, strict="filter", coerce=False)


def _value_checks(kind: KindSpec) -> list[pa.Check]:
    """Checks of one price column of ``kind``: positive, or for a signed kind (a rate such
    as the premium index) strictly within ``±max_abs``."""
    checks = [] if kind.signed else [pa.Check.gt(0)]
    if kind.max_abs is not None:
        bound = kind.max_abs
        checks.append(
            pa.Check(
                lambda s: (s > -bound) & (s < bound),
                name=f"within_plus_minus_{bound}",
                description=f"a small signed number: -{bound} < value < {bound}",
            )
        )
    return checks


def _strictly_increasing(d: pd.DataFrame) -> pd.Series:
    """Each row opens after every earlier row of its series (the batch, or its ``series``)."""
    open_ms = d["open_time_ms"]
    if "series" not in d:
        return open_ms > open_ms.cummax().shift(1).fillna(-1)
    by = d["series"]
    return open_ms > open_ms.groupby(by).cummax().groupby(by).shift(1).fillna(-1)


def _on_grid(open_ms: pd.Series, interval: Interval) -> pd.Series:
    if interval.ms is not None:
        ms = open_ms.fillna(0).astype("int64")
        return (ms - interval.offset_ms) % interval.ms == 0
    ts = pd.to_datetime(open_ms.astype("int64"), unit="ms", utc=True)
    on_grid = (ts.dt.day == 1) & (ts == ts.dt.normalize())
    return pd.Series(on_grid.to_numpy(), index=open_ms.index)


def _next_open(open_ms: pd.Series, interval: Interval) -> pd.Series:
    if interval.ms is not None:
        return open_ms + interval.ms
    ts = pd.to_datetime(open_ms.astype("int64"), unit="ms", utc=True)
    nxt = (ts.dt.normalize() + pd.offsets.MonthBegin(1)).astype("int64") // 1_000
    return pd.Series(nxt.to_numpy(), index=open_ms.index).astype(_INT)


@dataclass
class Validated:
    """A batch split into rows that may be stored and rows that must be quarantined."""

    valid: pd.DataFrame
    rejected: pd.DataFrame  # the batch's columns plus ``failed_checks`` (list of names)


def validate_batch(
    batch: pd.DataFrame, interval_name: str, kind_name: str = DEFAULT_KIND
) -> Validated:
    """Validate one batch of ``kind_name`` candles; invalid rows are split off with the
    names of their failed checks.

    Raises:
        pandera.errors.SchemaErrors: the batch's structure is wrong (a bug, not bad data).
    """
    schema = batch_schema(interval_name, kind_name)
    try:
        schema.validate(batch, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        if cases["index"].isna().any():
            raise
        frame_level = cases["schema_context"] == "DataFrameSchema"
        label = (
            cases["check"]
            .astype(str)
            .where(frame_level, cases["column"].astype(str) + ":" + cases["check"].astype(str))
        )
        per_row = (
            pd.DataFrame({"index": cases["index"].astype("int64"), "check": label})
            .drop_duplicates()
            .groupby("index")["check"]
            .agg(sorted)
        )
        rejected = batch.loc[per_row.index].copy()
        rejected["failed_checks"] = per_row.to_numpy()
        return Validated(batch.drop(index=per_row.index), rejected)
    return Validated(batch, batch.iloc[0:0].assign(failed_checks=pd.Series(dtype=object)))
