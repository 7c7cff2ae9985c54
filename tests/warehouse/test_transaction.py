"""The one transaction helper of every write: all of the body or nothing, and its own error."""

from __future__ import annotations

import duckdb
import pytest

from warehouse.files import transaction


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    with duckdb.connect() as con:
        con.execute("CREATE TABLE t (a INTEGER PRIMARY KEY)")
        yield con


def rows(con: duckdb.DuckDBPyConnection) -> list[int]:
    return [a for (a,) in con.execute("SELECT a FROM t ORDER BY a").fetchall()]


def test_a_body_that_ends_is_committed(con: duckdb.DuckDBPyConnection) -> None:
    with transaction(con):
        con.execute("INSERT INTO t VALUES (1), (2)")
    assert rows(con) == [1, 2]


def test_a_body_that_raises_leaves_nothing_and_its_error_is_the_one_raised(
    con: duckdb.DuckDBPyConnection,
) -> None:
    with pytest.raises(ZeroDivisionError), transaction(con):
        con.execute("INSERT INTO t VALUES (1)")
        _ = 1 / 0
    assert rows(con) == []
    with transaction(con):  # the connection is usable again
        con.execute("INSERT INTO t VALUES (3)")
    assert rows(con) == [3]


def test_a_commit_that_fails_raises_its_own_error_not_the_rollbacks(
    con: duckdb.DuckDBPyConnection,
) -> None:
    first, second = con.cursor(), con.cursor()
    first.execute("BEGIN TRANSACTION")
    first.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(duckdb.TransactionException, match="Failed to commit"):
        with transaction(second):
            second.execute("INSERT INTO t VALUES (1)")
            first.execute("COMMIT")  # the same key, committed first: ours fails at COMMIT
    assert rows(con) == [1]
