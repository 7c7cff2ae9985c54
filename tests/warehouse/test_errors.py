"""DuckDB's errors become the warehouse's own in one place, the most specific that fits."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from warehouse.errors import (
    BadQuery,
    NotAWarehouse,
    WarehouseLocked,
    WarehouseUnwritable,
    duckdb_errors,
    map_duckdb_error,
)
from warehouse.store import Warehouse


def duckdb_error(sql: str) -> duckdb.Error:
    with duckdb.connect() as con:
        con.execute("CREATE TABLE t (a INTEGER)")
        with pytest.raises(duckdb.Error) as raised:
            con.execute(sql).fetchall()
    return raised.value


def test_a_lock_held_by_another_process_is_warehouse_locked_naming_the_holder() -> None:
    exc = duckdb.IOException(
        'IO Error: Could not set lock on file "/data/k.duckdb": Conflicting lock is held in '
        "/usr/bin/python3.11 (PID 99999999). See also https://duckdb.org/docs/current/connect"
    )
    mapped = map_duckdb_error(exc, "/data/k.duckdb")
    assert isinstance(mapped, WarehouseLocked)
    assert mapped.holder.startswith("/usr/bin/python3.11, PID 99999999, which names no klines")
    assert mapped.holder in str(mapped) and mapped.path == "/data/k.duckdb"


def test_a_file_that_is_not_duckdb_is_not_a_warehouse_even_past_the_path_check(
    tmp_path: Path,
) -> None:
    notes = tmp_path / "notes.duckdb"
    notes.write_text("my precious notes\n" * 100)
    with pytest.raises(NotAWarehouse, match="not a DuckDB database; it was left untouched") as err:
        with Warehouse(notes).connect():
            pass
    assert isinstance(err.value.__cause__, duckdb.IOException)
    assert notes.read_text() == "my precious notes\n" * 100


def test_permission_denied_on_the_warehouse_file_is_unwritable_but_not_on_another_file() -> None:
    # the messages DuckDB 2.0 gives a user without the permission (the tests run as root)
    on_file = duckdb.IOException('IO Error: Cannot open file "/data/k.duckdb": Permission denied')
    on_wal = duckdb.IOException(
        'IO Error: Cannot open file "/data/k.duckdb.wal": Permission denied'
    )
    elsewhere = duckdb.IOException('IO Error: Cannot open file "/out/x.parquet": Permission denied')
    assert isinstance(map_duckdb_error(on_file, "/data/k.duckdb"), WarehouseUnwritable)
    assert isinstance(map_duckdb_error(on_wal, "/data/k.duckdb"), WarehouseUnwritable)
    assert map_duckdb_error(elsewhere, "/data/k.duckdb") is elsewhere


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("SELEC 1", "ParserException"),
        ("SELECT * FROM nope", "CatalogException"),
        ("SELECT nope FROM t", "BinderException"),
        ("SELECT 'x'::INTEGER", "ConversionException"),
    ],
)
def test_an_analysts_failing_sql_is_a_bad_query_in_one_line(sql: str, kind: str) -> None:
    exc = duckdb_error(sql)
    mapped = map_duckdb_error(exc, "/data/k.duckdb", query=True)
    assert isinstance(mapped, BadQuery) and mapped.duckdb_error == kind
    assert str(mapped).startswith("bad SQL: ") and "\n" not in str(mapped)
    assert map_duckdb_error(exc, "/data/k.duckdb") is exc  # the warehouse's own SQL: a bug


def test_other_errors_are_left_as_they_are_and_mapped_ones_chain_to_duckdbs() -> None:
    bug = KeyError("x")
    assert map_duckdb_error(bug) is bug
    with pytest.raises(KeyError), duckdb_errors("/data/k.duckdb", query=True):
        raise bug
    with pytest.raises(BadQuery) as err, duckdb_errors("/data/k.duckdb", query=True):
        raise duckdb_error("SELEC 1")
    assert isinstance(err.value.__cause__, duckdb.ParserException)
