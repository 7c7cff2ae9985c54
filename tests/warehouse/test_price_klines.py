"""``price_klines``: exact writes, revisions, rejects and a gap ledger of each kind's own;
migration 7 keeps every older row as a trade row."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from warehouse.files import transaction
from warehouse.migrations import MIGRATIONS, current_version
from warehouse.parse import parse_pages
from warehouse.schema import validate_batch
from warehouse.store import Warehouse

T0 = 1_682_899_200_000
MIN = 60_000


def premium(i: int, value: str) -> list:
    return [T0 + i * MIN, value, value, value, value, "0", T0 + i * MIN + MIN - 1, "0", 12, "0",
            "0", "0"]  # fmt: skip


def put(
    warehouse: Warehouse,
    rows: list[list],
    kind: str = "premium",
    run_id: str = "r1",
    expected: tuple[int, int] | None = None,
):
    checked = validate_batch(parse_pages([json.dumps(rows)]), "1m", kind)
    rejects = [
        {"open_time_ms": int(t), "raw": "raw", "failed_checks": list(c)}
        for t, c in zip(
            checked.rejected["open_time_ms"], checked.rejected["failed_checks"], strict=True
        )
    ]
    return warehouse.write_batch(
        market="usdm", symbol="BTCUSDT", interval="1m", valid=checked.valid, rejected=rejects,
        source="rest", run_id=run_id, expected=expected, kind=kind,
    )  # fmt: skip


def rows_of(warehouse: Warehouse, sql: str) -> list[tuple]:
    with warehouse.connect(read_only=True) as con:
        return [tuple(r) for r in con.execute(sql).fetchall()]


def test_zero_and_negative_premiums_are_stored_exactly_and_a_rewrite_changes_nothing(
    db_path: Path,
) -> None:
    warehouse = Warehouse(db_path)
    batch = [premium(0, "0"), premium(1, "-0.00042931"), premium(2, "0.00000001")]
    assert put(warehouse, batch).inserted == 3
    stored = "SELECT kind, close::VARCHAR, source FROM price_klines ORDER BY open_time"
    assert rows_of(warehouse, stored) == [
        ("premium", "0.00000000", "rest"),
        ("premium", "-0.00042931", "rest"),
        ("premium", "0.00000001", "rest"),
    ]
    before = rows_of(warehouse, "SELECT * FROM price_klines ORDER BY ALL")
    result = put(warehouse, batch, run_id="r2")
    assert (result.inserted, result.updated) == (0, 0)
    assert rows_of(warehouse, "SELECT * FROM price_klines ORDER BY ALL") == before
    assert rows_of(warehouse, "SELECT count(*) FROM klines") == [(0,)]


def test_a_revised_price_keeps_its_old_values_with_its_kind(db_path: Path) -> None:
    warehouse = Warehouse(db_path)
    put(warehouse, [premium(0, "-0.0001")])
    result = put(warehouse, [premium(0, "-0.0002")], run_id="r2")
    assert (result.inserted, result.updated) == (0, 1)
    assert rows_of(
        warehouse,
        "SELECT kind, close::VARCHAR, volume, revised_by_run_id FROM klines_revisions",
    ) == [("premium", "-0.00010000", None, "r2")]
    assert rows_of(warehouse, "SELECT close::VARCHAR FROM price_klines") == [("-0.00020000",)]


def test_each_kind_has_its_own_rows_rejects_and_gap_ledger(db_path: Path) -> None:
    warehouse = Warehouse(db_path)
    five = (T0, T0 + 5 * MIN)
    put(warehouse, [premium(0, "0.0001"), premium(2, "-1.5")], expected=five)
    mark = [[*premium(i, "65000.5")[:8], 60, "0", "0", "0"] for i in range(5)]
    put(warehouse, mark, kind="mark", expected=five)
    assert rows_of(
        warehouse, "SELECT kind, count(*) FROM price_klines GROUP BY kind ORDER BY kind"
    ) == [("mark", 5), ("premium", 1)]
    assert rows_of(warehouse, "SELECT kind, open_time_ms FROM klines_rejected") == [
        ("premium", T0 + 2 * MIN)
    ]
    ledger = rows_of(
        warehouse,
        "SELECT kind, cause, (epoch_ms(gap_start) - ?) // 60000, missing FROM klines_gaps "
        "ORDER BY gap_start".replace("?", str(T0)),
    )
    assert ledger == [("premium", "rejected", 1, 4)]  # one run of missing minutes, one rejected
    assert warehouse.gaps("usdm", [("BTCUSDT", "1m")], "mark") == {("BTCUSDT", "1m"): []}
    assert warehouse.gaps("usdm", [("BTCUSDT", "1m")])[("BTCUSDT", "1m")] == []  # trade
    bounds = {k: warehouse.stored_bounds("usdm", [("BTCUSDT", "1m")], k) for k in KINDS_SEEN}
    assert bounds == {
        "trade": {("BTCUSDT", "1m"): None},
        "mark": {("BTCUSDT", "1m"): (T0, T0 + 4 * MIN)},
        "premium": {("BTCUSDT", "1m"): (T0, T0)},
    }
    (row,) = warehouse.completeness("usdm", [("BTCUSDT", "1m", *five)], "premium")
    assert row == {"symbol": "BTCUSDT", "interval": "1m", "expected": 5, "present": 1,
                   "missing_rejected": 4}  # fmt: skip


KINDS_SEEN = ("trade", "mark", "premium")


def test_migration_7_keeps_older_rows_as_trade_rows(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    with duckdb.connect(str(db_path)) as con:  # a file as version 6 left it
        con.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, description VARCHAR, "
            "applied_at TIMESTAMPTZ)"
        )
        for version, description, sql in MIGRATIONS:
            if version <= 6:
                with transaction(con):
                    con.execute(sql)
                    con.execute(
                        "INSERT INTO schema_migrations VALUES (?, ?, now())", [version, description]
                    )
        con.execute(
            "INSERT INTO klines_gaps VALUES ('usdm', 'BTCUSDT', '1m', '2026-11-01 03:40:00+00', "
            "'2026-11-01 04:00:00+00', 20, 'exchange_empty', 'maintenance', now(), now(), 'r0')"
        )
        con.execute(
            "INSERT INTO klines_rejected VALUES ('usdm', 'BTCUSDT', '1m', 1, '[]', ['x'], "
            "'rest', 'r0', now())"
        )
    warehouse = Warehouse(db_path)
    with warehouse.connect() as con:
        assert current_version(con) == MIGRATIONS[-1][0]  # 7 and every later one
        # the ledger's key now includes the kind: the same gap of the mark price fits beside it
        con.execute(
            "INSERT INTO klines_gaps (market, kind, symbol, interval, gap_start, gap_end, "
            "missing, cause, first_seen_at, verified_at) VALUES ('usdm', 'mark', 'BTCUSDT', "
            "'1m', '2026-11-01 03:40:00+00', '2026-11-01 04:00:00+00', 20, 'exchange_empty', "
            "now(), now())"
        )
    assert rows_of(warehouse, "SELECT kind, missing FROM klines_gaps ORDER BY kind") == [
        ("mark", 20),
        ("trade", 20),
    ]
    assert rows_of(warehouse, "SELECT kind FROM klines_rejected") == [("trade",)]
    assert rows_of(warehouse, "SELECT kind, symbol, cause FROM gaps ORDER BY kind") == [
        ("mark", "BTCUSDT", "exchange_empty"),
        ("trade", "BTCUSDT", "exchange_empty"),
    ]
