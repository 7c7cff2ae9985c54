"""The pandera schema of each price kind, on literal rows: mark and index prices positive,
the premium index a small signed number, the candle invariants, no volume checks."""

from __future__ import annotations

import json

import pytest

from exchange.markets import KINDS
from warehouse.parse import parse_pages
from warehouse.schema import PRICE_KLINES_COLUMNS, batch_schema, table_of, validate_batch

T0 = 1_682_899_200_000  # 2023-05-01 00:00 UTC
MIN = 60_000


def price_row(o: str, h: str, lo: str, c: str, at: int = T0, **ignored: object) -> list:
    """A mark/index/premium row as Binance sends it: OHLC, then fields to ignore (zero
    volumes, a count of basic data in idx 8)."""
    row = [at, o, h, lo, c, "0", at + MIN - 1, "0", 60, "0", "0", "0"]
    for index, value in ignored.items():
        row[int(index.removeprefix("i"))] = value
    return row


def checked(kind: str, rows: list[list], interval: str = "1m") -> tuple[int, list[list[str]]]:
    result = validate_batch(parse_pages([json.dumps(rows)]), interval, kind)
    return len(result.valid), [sorted(c) for c in result.rejected["failed_checks"]]


@pytest.mark.parametrize("kind", ["mark", "index"])
def test_mark_and_index_prices_are_positive(kind: str) -> None:
    good = price_row("65000.12345678", "65010.5", "64990.00000001", "65001")
    assert checked(kind, [good]) == (1, [])
    assert checked(kind, [price_row("0", "1", "0", "1")]) == (
        0,
        [["low:greater_than(0)", "open:greater_than(0)"]],
    )
    negative = price_row("-1", "1", "-2", "1")
    assert "low:greater_than(0)" in checked(kind, [negative])[1][0]


def test_the_premium_index_may_be_zero_or_negative() -> None:
    rows = [
        price_row("0", "0", "0", "0"),
        price_row("-0.00042931", "0.00000001", "-0.00051", "-0.0003", T0 + MIN),
        price_row("0.00012", "0.0004", "-0.00001", "0.0002", T0 + 2 * MIN),
    ]
    assert checked("premium", rows) == (3, [])


def test_a_premium_index_of_one_or_more_is_no_premium_index() -> None:
    assert checked("premium", [price_row("1", "1", "1", "1")])[1] == [
        [f"{c}:within_plus_minus_1" for c in ("close", "high", "low", "open")]
    ]
    assert checked("premium", [price_row("-0.5", "0.99999999", "-0.99999999", "0")]) == (1, [])


@pytest.mark.parametrize("kind", ["mark", "index", "premium"])
def test_more_decimal_places_than_the_column_keeps_are_rejected_never_rounded(kind: str) -> None:
    nine = price_row("0.123456789", "0.2", "0.1", "0.15")
    assert checked(kind, [nine])[1] == [["open:not_nullable"]]
    trailing_zeros = price_row("0.1234567800", "0.2", "0.1", "0.15")
    assert checked(kind, [trailing_zeros]) == (1, [])


def test_high_and_low_bound_open_and_close() -> None:
    assert checked("premium", [price_row("0.0001", "0.00005", "-0.0001", "0")])[1] == [
        ["high_is_highest"]
    ]
    assert checked("premium", [price_row("-0.0002", "0.0001", "-0.0001", "0")])[1] == [
        ["low_is_lowest"]
    ]
    assert checked("mark", [price_row("100", "99", "98", "100")])[1] == [["high_is_highest"]]


def test_grid_and_close_time_rules_hold_for_price_kinds() -> None:
    off_grid = price_row("1", "1", "1", "1", T0 + 1)
    early_close = price_row("1", "1", "1", "1", T0 + MIN, i6=T0 + 2 * MIN)
    assert checked("mark", [off_grid])[1] == [["open_time_on_grid"]]
    assert checked("index", [early_close])[1] == [["close_time_is_next_open_minus_1ms"]]
    hourly = price_row("1", "1", "1", "1", T0, i6=T0 + 3_600_000 - 1)
    assert checked("mark", [hourly], "1h") == (1, [])


def test_volume_fields_are_neither_checked_nor_kept() -> None:
    """The exchange marks them "Ignore": whatever they hold, the row stands."""
    odd = price_row("2", "3", "1", "2", i5="n/a", i7="-5", i8=-1, i9="", i10="x")
    assert checked("mark", [odd]) == (1, [])
    assert not {"volume", "trades", "quote_volume"} & set(batch_schema("1m", "mark").columns)
    assert {"volume", "trades"} <= set(batch_schema("1m", "trade").columns)


def test_a_row_with_other_than_12_fields_is_rejected() -> None:
    assert checked("index", [price_row("1", "1", "1", "1")[:11]])[1] == [["n_fields:equal_to(12)"]]


@pytest.mark.parametrize("kind", ["mark", "index", "premium"])
def test_the_price_schema_and_the_price_klines_table_agree(kind: str) -> None:
    table = table_of(KINDS[kind])
    assert table.name == "price_klines" and table.has_kind
    ddl = dict(PRICE_KLINES_COLUMNS)
    schema = batch_schema("1m", kind).columns
    for name in table.values:
        assert ddl[name] == "DECIMAL(18,8) NOT NULL"
        assert str(schema[name].dtype) == "decimal128(18, 8)[pyarrow]"
