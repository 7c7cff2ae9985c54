"""Every batch passes the pandera schema; failing rows are split off with check names."""

from __future__ import annotations

import json
from decimal import Decimal

import pandas as pd
import pytest

from warehouse.parse import parse_csv, parse_pages, raw_row
from warehouse.schema import validate_batch

T0 = 1_682_899_200_000  # 2023-05-01 00:00 UTC, on every grid up to 1d
GOOD = [
    T0,
    "5.414",
    "5.422",
    "5.413",
    "5.418",
    "58915.0",
    T0 + 59_999,
    "319130.2315",
    624,
    "32215.5",
    "174505.3714",
    "0",
]


def row(**changes: object) -> list:
    names = [
        "open_time",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "close_time",
        "quote_volume",
        "trades",
        "taker_base",
        "taker_quote",
        "ignore",
    ]
    values = dict(zip(names, GOOD, strict=True))
    values.update(changes)
    return [values[n] for n in names]


def failed(rows: list[list], interval: str = "1m") -> list[list[str]]:
    batch = parse_pages([json.dumps(rows)])
    return [list(c) for c in validate_batch(batch, interval).rejected["failed_checks"]]


def test_a_good_row_passes() -> None:
    batch = parse_pages([json.dumps([GOOD])])
    checked = validate_batch(batch, "1m")
    assert len(checked.valid) == 1 and checked.rejected.empty


@pytest.mark.parametrize(
    ("changes", "check"),
    [
        ({"open": "0"}, "open:greater_than(0)"),
        ({"low": "-1", "open": "5.414"}, "low:greater_than(0)"),
        ({"volume": "-0.1"}, "volume:greater_than_or_equal_to(0)"),
        ({"trades": -1}, "trades:greater_than_or_equal_to(0)"),
        ({"high": "5.410"}, "high_is_highest"),
        ({"low": "5.420", "high": "5.430"}, "low_is_lowest"),
        ({"taker_base": "58915.1"}, "taker_base_within_volume"),
        ({"taker_quote": "319130.2316"}, "taker_quote_within_quote_volume"),
        ({"open_time": T0 + 1, "close_time": T0 + 60_000}, "open_time_on_grid"),
        ({"close_time": T0 + 60_000}, "close_time_is_next_open_minus_1ms"),
        ({"close": "5.418000001"}, "close:not_nullable"),  # 9 places: never rounded
        ({"close": "abc"}, "close:not_nullable"),
    ],
)
def test_each_invariant_rejects_the_row_and_names_the_check(changes: dict, check: str) -> None:
    assert check in failed([row(**changes)])[0]


def test_a_row_with_too_few_fields_is_rejected() -> None:
    assert "n_fields:equal_to(12)" in failed([GOOD[:11]])[0]


def test_duplicate_and_out_of_order_open_times_reject_the_later_rows() -> None:
    second = row(open_time=T0 + 60_000, close_time=T0 + 119_999)
    batch = parse_pages([json.dumps([GOOD, second, GOOD, second])])
    checked = validate_batch(batch, "1m")
    assert checked.valid["open_time_ms"].tolist() == [T0, T0 + 60_000]
    assert all("open_time_strictly_increasing" in c for c in checked.rejected["failed_checks"])


def test_the_valid_rest_of_a_batch_survives_a_bad_row() -> None:
    bad = row(open_time=T0 + 60_000, close_time=T0 + 119_999, high="1")
    checked = validate_batch(parse_pages([json.dumps([GOOD, bad])]), "1m")
    assert checked.valid["open_time_ms"].tolist() == [T0]
    assert checked.rejected["open_time_ms"].tolist() == [T0 + 60_000]


def test_a_row_that_is_not_an_array_is_rejected_and_its_raw_text_kept() -> None:
    bodies = [json.dumps([GOOD, {"unexpected": 1}])]
    checked = validate_batch(parse_pages(bodies), "1m")
    rejected = checked.rejected.iloc[0]
    assert raw_row(bodies, int(rejected["page"]), int(rejected["row"])) == '{"unexpected":1}'


@pytest.mark.parametrize(
    ("interval", "open_ms", "close_ms", "ok"),
    [
        ("1w", 1_698_624_000_000, 1_699_228_799_999, True),  # Mon 2023-10-30 .. Sun 2023-11-05
        ("1w", 1_698_710_400_000, 1_699_315_199_999, False),  # a Tuesday
        ("1M", 1_706_745_600_000, 1_709_251_199_999, True),  # Feb 2024, a leap month
        ("1M", 1_706_745_600_000, 1_709_337_599_999, False),  # 30-day "February"
        ("1M", 1_706_832_000_000, 1_709_337_599_999, False),  # 2024-02-02: not a month start
    ],
)
def test_weeks_and_months_are_checked_on_their_calendar_grid(
    interval: str, open_ms: int, close_ms: int, ok: bool
) -> None:
    assert (failed([row(open_time=open_ms, close_time=close_ms)], interval) == []) is ok


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("5.41800000", "5.41800000"),  # the column's places
        ("5.4180000000", "5.41800000"),  # more places, all zeros
        ("5", "5.00000000"),
        ("1234567890", "1234567890.00000000"),
        ("-0.5", "-0.50000000"),
        ("5.418000001", None),  # a ninth place that is not zero: never rounded
        ("5.4e-9", None),  # an exponent hides places
        ("54180e-4", None),
        ("5.4E2", None),
        ("5.41 8", None),
        ("1_000", None),
        ("", None),
    ],
)
def test_a_decimal_is_stored_exactly_or_not_at_all_from_json_and_csv(
    text: str, stored: str | None
) -> None:
    """REST bodies and archive CSVs share the rule: a value with places the column cannot
    keep parses as NULL (and validation rejects the row) instead of being rounded."""
    csv = ",".join(str(v) for v in row(open=text)).encode() + b"\n"
    # Alone, and beside a value with an exponent (then every value is checked for one).
    exponent = row(open_time=T0 + 60_000, close_time=T0 + 119_999, open="5.4e1")
    csv_too = csv + ",".join(str(v) for v in exponent).encode() + b"\n"
    for batch in (
        parse_pages([json.dumps([row(open=text)])]),
        parse_pages([json.dumps([row(open=text), exponent])]),
        parse_csv([csv]),
        parse_csv([csv_too]),
    ):
        got = batch["open"].iloc[0]
        assert (None if pd.isna(got) else got) == (None if stored is None else Decimal(stored))
