"""``klines sql`` (read-only, table/CSV/JSON, one-line errors) and ``klines export``."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from cli.main import main
from warehouse.export import MANIFEST, export_parquet, prices_folder
from warehouse.store import Warehouse


def klines(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def db(filled: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "k.duckdb"
    shutil.copy(filled, copy)
    return copy


LATEST = "SELECT symbol, interval, open_time, close FROM latest_klines ORDER BY ALL"


def test_sql_prints_a_table(db: Path) -> None:
    code, out, err = klines("sql", "--db", str(db), LATEST)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["symbol", "interval", "open_time", "close"]
    assert lines[2].startswith("BTCUSDT  1d        2026-11-01 00:00:00+00:00")
    assert lines[-1] == "(6 rows)"


def test_sql_prints_csv_and_json_with_exact_values(db: Path) -> None:
    with duckdb.connect(str(db), read_only=True) as con:
        closes = [str(r[0]) for r in con.execute(f"SELECT close FROM ({LATEST})").fetchall()]
    code, out, _ = klines("sql", "--db", str(db), "--format", "csv", LATEST)
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["close"] for r in rows] == closes
    code, out, _ = klines("sql", "--db", str(db), "--format", "json", LATEST)
    assert code == 0
    records = json.loads(out)
    assert [r["close"] for r in records] == closes
    assert records[0]["open_time"] == "2026-11-01T00:00:00+00:00"


def test_sql_opens_the_file_read_only(db: Path) -> None:
    before = digest(db)
    code, _, err = klines("sql", "--db", str(db), "DELETE FROM klines")
    assert code == 2
    assert err.startswith("error: bad SQL:") and "read-only" in err
    assert len(err.strip().splitlines()) == 1
    assert klines("sql", "--db", str(db), "SELECT count(*) FROM klines")[0] == 0
    assert digest(db) == before


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        ("SELEC 1", "syntax error"),
        ("SELECT * FROM no_such_table", "no_such_table"),
        ("SELECT * FROM resample('BTCUSDT', '2w')", "unknown interval 2w"),
    ],
)
def test_bad_sql_is_one_line_and_exit_2(db: Path, query: str, needle: str) -> None:
    code, out, err = klines("sql", "--db", str(db), query)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and needle in err


def test_sql_without_a_warehouse_is_bad_input(tmp_path: Path) -> None:
    code, _, err = klines("sql", "--db", str(tmp_path / "none.duckdb"), "SELECT 1")
    assert code == 2 and "no warehouse at" in err
    assert not (tmp_path / "none.duckdb").exists()


def read_back(out: Path) -> str:
    return f"read_parquet('{out}/**/*.parquet', hive_partitioning = true)"


def assert_equal_to_table(db: Path, out: Path) -> None:
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        n = con.execute("SELECT count(*) FROM klines").fetchone()[0]
        cols = ", ".join(r[0] for r in con.execute("DESCRIBE klines").fetchall())
        exported = f"SELECT {cols} FROM {read_back(out)}"
        assert con.execute(f"SELECT count(*) FROM ({exported})").fetchone()[0] == n
        for a, b in ((f"SELECT {cols} FROM klines", exported), (exported, "FROM klines")):
            assert con.execute(f"SELECT count(*) FROM ({a} EXCEPT ALL {b})").fetchone()[0] == 0
        # types survive the round trip (partition columns come back as VARCHAR)
        types = dict(con.execute(f"DESCRIBE {exported}").fetchall()[i][:2] for i in range(17))
        assert (
            types["close"] == "DECIMAL(18,8)" and types["open_time"] == "TIMESTAMP WITH TIME ZONE"
        )
        assert types["interval"] == "VARCHAR"


def test_export_reads_back_equal_to_the_table(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "parquet"
    code, stdout, err = klines("export", "--db", str(db), "--out", str(out))
    assert code == 0, err
    assert (out / "market=usdm/symbol=BTCUSDT/interval=1m/month=2026-10/data.parquet").exists()
    assert "wrote   market=usdm/symbol=ETHUSDT/interval=1h/month=2026-11" in stdout
    assert_equal_to_table(db, out)
    manifest = json.loads((out / MANIFEST).read_text())["partitions"]
    assert manifest["market=usdm/symbol=BTCUSDT/interval=1m/month=2026-11"]["rows"] == 1440 - 20 + 7
    assert not list(tmp_path.glob(".parquet.staging-*"))
    assert not prices_folder(out).exists()  # no price klines stored: no folder for them


def test_export_is_incremental(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "parquet"
    first = export_parquet(db, out)
    assert first.unchanged == 0 and len(first.written) == 17
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.parquet")}
    again = export_parquet(db, out)
    assert again.written == [] and again.unchanged == 17
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.parquet")} == stamps

    # a revised candle (new values, new ingested_at) rewrites only its month
    with Warehouse(db).connect() as con:
        con.execute(
            "UPDATE klines SET close = close + 0.1, ingested_at = now() "
            "WHERE symbol = 'BTCUSDT' AND interval = '1h' AND open_time = '2026-10-05 01:00:00+00'"
        )
        con.execute("DELETE FROM klines WHERE symbol = 'ETHUSDT' AND interval = '1d'")
    third = export_parquet(db, out)
    assert third.written == ["market=usdm/symbol=BTCUSDT/interval=1h/month=2026-10"]
    assert third.removed == [
        "market=usdm/symbol=ETHUSDT/interval=1d/month=2026-09",
        "market=usdm/symbol=ETHUSDT/interval=1d/month=2026-10",
        "market=usdm/symbol=ETHUSDT/interval=1d/month=2026-11",
    ]
    assert not (out / "market=usdm/symbol=ETHUSDT/interval=1d").exists()
    assert_equal_to_table(db, out)


def test_a_failed_export_leaves_the_previous_copy(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "parquet"
    export_parquet(db, out)
    before = {p: digest(p) for p in out.rglob("*") if p.is_file()}
    with Warehouse(db).connect() as con:
        con.execute("UPDATE klines SET ingested_at = now() WHERE interval = '1h'")

    def boom(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        export_parquet(db, out)
    monkeypatch.undo()
    assert {p: digest(p) for p in out.rglob("*") if p.is_file()} == before
    assert not list(tmp_path.glob(".parquet.staging-*"))
    assert len(export_parquet(db, out).written) == 6
    assert_equal_to_table(db, out)
