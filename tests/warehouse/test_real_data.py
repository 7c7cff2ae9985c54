"""Real Binance data round-trips exactly: strings in, the same decimals out."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import STORED_SQL, real_data
from warehouse.parse import parse_pages
from warehouse.schema import validate_batch
from warehouse.store import Warehouse

MONTHS = (
    "ALGOUSDT-1m-2024-02",
    "AVAXUSDT-1m-2026-07",
    "FILUSDT-1m-2023-04",
    "FILUSDT-1m-2023-05",
    "FILUSDT-1m-2023-06",
    "NEARUSDT-1m-2023-05",
)


def csv_rows(path: Path) -> list[list]:
    """A data.binance.vision CSV as REST-shaped rows (ints for times and trades)."""
    with path.open() as fh:
        rows = list(csv.reader(fh))
    if not rows[0][0].isdigit():  # newer files have a header row
        rows = rows[1:]
    return [[int(r[0]), *r[1:6], int(r[6]), r[7], int(r[8]), *r[9:]] for r in rows]


def values(row: list) -> tuple:
    return (
        int(row[0]),
        *(Decimal(row[i]) for i in (1, 2, 3, 4, 5)),
        int(row[6]),
        Decimal(row[7]),
        int(row[8]),
        Decimal(row[9]),
        Decimal(row[10]),
    )


@pytest.mark.parametrize("month", MONTHS)
def test_futures_archive_months_round_trip_exactly(month: str, tmp_path: Path) -> None:
    path = real_data(f"futures-um-klines-1m/{month}.csv")
    rows = csv_rows(path)
    bodies = [json.dumps(rows[i : i + 1500]) for i in range(0, len(rows), 1500)]
    checked = validate_batch(parse_pages(bodies), "1m")
    assert checked.rejected.empty and len(checked.valid) == len(rows)
    warehouse = Warehouse(tmp_path / "real.duckdb")
    symbol = path.stem.split("-")[0]
    warehouse.write_batch(
        market="usdm",
        symbol=symbol,
        interval="1m",
        valid=checked.valid,
        rejected=[],
        source="archive",
        run_id="test",
    )
    with warehouse.connect(read_only=True) as con:
        stored = con.execute(STORED_SQL, [symbol, "1m"]).fetchall()
    assert [tuple(r) for r in stored] == [values(r) for r in rows]


def test_a_sixteen_digit_quote_volume_survives() -> None:
    big = [
        1_704_067_200_000,
        "42283.58",
        "44184.10",
        "42180.77",
        "44179.55",
        "27174.29903",
        1_704_153_599_999,
        "1169995682.1234567890",
        1_000_000,
        "13575.11",
        "584489543.9876543210",
        "0",
    ]
    checked = validate_batch(parse_pages([json.dumps([big])]), "1d")
    assert str(checked.valid["quote_volume"].iloc[0]).rstrip("0") == "1169995682.123456789"


def test_the_2023_spot_halt_keeps_its_gap_and_flags_the_cut_short_candle() -> None:
    path = real_data("spot-rest-klines/BTCUSDT/1h/2023-03-01.json")
    rows = json.loads(path.read_text())
    checked = validate_batch(parse_pages([json.dumps(rows)]), "1h")
    # The 12:00 candle of 2023-03-24 closed at 12:39:41 when trading halted.
    assert checked.rejected["open_time_ms"].tolist() == [1_679_659_200_000]
    assert "close_time_is_next_open_minus_1ms" in checked.rejected["failed_checks"].iloc[0]
    opens = checked.valid["open_time_ms"].tolist()
    assert 1_679_662_800_000 not in opens  # 13:00 never existed: no candle is made up
    assert len(opens) == 742
