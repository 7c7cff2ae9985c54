"""Shared checks for kline rows."""

from __future__ import annotations

from decimal import Decimal


def assert_row_invariants(row: list) -> None:
    """JSON types and OHLCV invariants of one Binance kline row."""
    assert len(row) == 12
    assert isinstance(row[0], int) and isinstance(row[6], int) and isinstance(row[8], int)
    for i in (1, 2, 3, 4, 5, 7, 9, 10, 11):
        assert isinstance(row[i], str), (i, row)
        assert "e" not in row[i].lower()
    o, h, lo, c = (Decimal(row[i]) for i in (1, 2, 3, 4))
    vol, qv, tbv, tqv = (Decimal(row[i]) for i in (5, 7, 9, 10))
    assert 0 < lo <= min(o, c) <= max(o, c) <= h
    assert row[8] >= 0 and vol >= 0 and qv >= 0
    assert 0 <= tbv <= vol and 0 <= tqv <= qv
    if vol == 0:
        assert row[8] == 0 and qv == 0 and o == h == lo == c
    assert row[6] > row[0]
    assert row[11] == "0"


def aggregate(minutes: list[list]) -> list:
    """The higher-interval values (fields 1..5 and 7..10) of a list of 1m rows, as Decimals."""
    return [
        Decimal(minutes[0][1]),
        max(Decimal(r[2]) for r in minutes),
        min(Decimal(r[3]) for r in minutes),
        Decimal(minutes[-1][4]),
        sum(Decimal(r[5]) for r in minutes),
        sum(Decimal(r[7]) for r in minutes),
        sum(r[8] for r in minutes),
        sum(Decimal(r[9]) for r in minutes),
        sum(Decimal(r[10]) for r in minutes),
    ]


def values(row: list) -> list:
    """Fields 1..5 and 7..10 of a row as Decimals (trades as int)."""
    return [Decimal(row[i]) if i != 8 else row[i] for i in (1, 2, 3, 4, 5, 7, 8, 9, 10)]
