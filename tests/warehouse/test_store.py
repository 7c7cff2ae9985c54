"""The DuckDB warehouse: idempotent upserts, revisions, rejects, migrations, safety."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from warehouse.errors import NotAWarehouse, WarehouseLocked, WarehouseUnwritable
from warehouse.holder import command_line, note_path, read_label
from warehouse.migrations import MIGRATIONS, current_version
from warehouse.parse import parse_pages
from warehouse.schema import validate_batch
from warehouse.store import Warehouse, check_path

T0 = 1_682_899_200_000
ROWS = [
    [
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
    ],
    [
        T0 + 60_000,
        "5.418",
        "5.427",
        "5.416",
        "5.427",
        "32343.4",
        T0 + 119_999,
        "175422.3654",
        424,
        "20277.0",
        "109973.0859",
        "0",
    ],
]


def write(warehouse: Warehouse, rows: list[list], run_id: str):
    checked = validate_batch(parse_pages([json.dumps(rows)]), "1m")
    return warehouse.write_batch(
        market="usdm",
        symbol="FILUSDT",
        interval="1m",
        valid=checked.valid,
        rejected=[],
        source="rest",
        run_id=run_id,
    )


def snapshot(warehouse: Warehouse) -> list[tuple]:
    with warehouse.connect(read_only=True) as con:
        return con.execute("SELECT * FROM klines ORDER BY open_time").fetchall()


def test_writing_the_same_batch_twice_changes_nothing(db_path: Path) -> None:
    warehouse = Warehouse(db_path)
    assert write(warehouse, ROWS, "run-1").inserted == 2
    before = snapshot(warehouse)
    result = write(warehouse, ROWS, "run-2")
    assert (result.inserted, result.updated) == (0, 0)
    assert snapshot(warehouse) == before  # same ingested_at and run_id too


def test_a_changed_candle_is_updated_and_its_old_values_kept(db_path: Path) -> None:
    warehouse = Warehouse(db_path)
    write(warehouse, ROWS, "run-1")
    changed = [ROWS[0][:4] + ["5.419"] + ROWS[0][5:], ROWS[1]]
    assert write(warehouse, changed, "run-2").updated == 1
    with warehouse.connect(read_only=True) as con:
        assert con.execute(
            "SELECT close::VARCHAR, run_id FROM klines ORDER BY open_time LIMIT 1"
        ).fetchone() == ("5.41900000", "run-2")
        revision = con.execute(
            "SELECT close::VARCHAR, run_id, revised_by_run_id FROM klines_revisions"
        ).fetchall()
    assert revision == [("5.41800000", "run-1", "run-2")]


def test_watermark_is_the_newest_stored_candle(db_path: Path) -> None:
    warehouse = Warehouse(db_path)
    assert warehouse.stored_bounds("usdm", [("FILUSDT", "1m")]) == {("FILUSDT", "1m"): None}
    assert not db_path.exists()  # reading never creates the file
    write(warehouse, ROWS, "run-1")
    assert warehouse.stored_bounds("usdm", [("FILUSDT", "1m")]) == {
        ("FILUSDT", "1m"): (T0, T0 + 60_000)
    }


def test_migrations_are_recorded_and_applied_once(db_path: Path) -> None:
    warehouse = Warehouse(db_path)
    with warehouse.connect() as con:
        assert current_version(con) == MIGRATIONS[-1][0]
    with warehouse.connect() as con:
        assert con.execute("SELECT count(*) FROM schema_migrations").fetchone() == (
            len(MIGRATIONS),
        )


def test_a_file_that_is_not_duckdb_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("my precious notes\n")
    with pytest.raises(NotAWarehouse, match="not a DuckDB database; it was left untouched"):
        check_path(path)
    assert path.read_text() == "my precious notes\n"


def test_a_directory_or_a_path_under_a_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NotAWarehouse, match="is a directory"):
        check_path(tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(WarehouseUnwritable, match="not a writable folder"):
        check_path(tmp_path / "notes.txt" / "k.duckdb")


def test_a_writer_waits_for_another_process_then_gives_up_clearly(db_path: Path) -> None:
    warehouse = Warehouse(db_path, lock_timeout=0.5)
    write(warehouse, ROWS, "run-1")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb,sys; c=duckdb.connect({str(db_path)!r}); print('held', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(WarehouseLocked, match="stayed locked by another process"):
            write(warehouse, ROWS, "run-2")
    finally:
        holder.communicate("")
    assert write(warehouse, ROWS, "run-3").inserted == 0  # lock released: proceeds


class Holding:
    """Another process with the file open, leaving the note a klines process leaves as
    ``holder`` (what :meth:`Warehouse.connect` does, without importing pandas), or, with
    ``holder=None``, none: an analyst's DuckDB session."""

    def __init__(self, db: Path, holder: str | None) -> None:
        code = f"import duckdb, sys; c = duckdb.connect({str(db)!r})"
        done = ""
        if holder is not None:
            code += f"; from warehouse.holder import claim, release; claim({str(db)!r}, {holder!r})"
            done = f"; release({str(db)!r})"
        self.popen = subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"{code}; print('held', flush=True); sys.stdin.readline(){done}",
            ],
            cwd=Path(__file__).resolve().parents[2],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.pid = self.popen.pid
        assert self.popen.stdout is not None and self.popen.stdout.readline().strip() == "held"

    def release(self) -> None:
        self.popen.communicate("\n", timeout=30)

    def kill(self) -> None:
        self.popen.kill()
        self.popen.communicate(timeout=30)


def test_a_waiting_writer_names_the_flow_run_that_holds_the_file(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(Warehouse(db_path), ROWS, "run-1")
    holding = Holding(db_path, "flow run 'brave-otter' of ingest-klines/ingest-short")
    try:
        with caplog.at_level("WARNING", "klines.warehouse"), pytest.raises(WarehouseLocked) as err:
            write(Warehouse(db_path, lock_timeout=0.3), ROWS, "run-2")
    finally:
        holding.release()
    who = f"flow run 'brave-otter' of ingest-klines/ingest-short, PID {holding.pid}"
    assert who in str(err.value)
    assert f"locked by another process ({who})" in caplog.text
    assert not list(db_path.parent.glob("*.holder-*"))  # each process removed its note


def test_the_warehouse_keeps_its_note_while_it_has_the_file_open(db_path: Path) -> None:
    warehouse = Warehouse(db_path, holder="flow run 'brave-otter' of ingest-klines")
    with warehouse.connect():
        assert read_label(db_path, os.getpid()) == "flow run 'brave-otter' of ingest-klines"
        with warehouse.connect():  # a second connection of this process
            pass
        assert note_path(db_path, os.getpid()).exists()
    assert not note_path(db_path, os.getpid()).exists()
    with warehouse.session(), warehouse.connect():
        assert read_label(db_path, os.getpid()) == "flow run 'brave-otter' of ingest-klines"
    assert not note_path(db_path, os.getpid()).exists()


def test_a_note_left_by_a_killed_holder_names_nobody_and_is_swept_away(db_path: Path) -> None:
    write(Warehouse(db_path), ROWS, "run-1")
    killed = Holding(db_path, "flow run 'gone' of ingest-klines")
    killed.kill()  # holding the file: its note stays behind
    assert note_path(db_path, killed.pid).exists()
    analyst = Holding(db_path, None)
    # as if the analyst's PID had been a klines run's long ago: a note of another process
    note_path(db_path, analyst.pid).write_text(
        json.dumps({"pid": analyst.pid, "started": 1, "label": "flow run 'old' of ingest-klines"})
    )
    try:
        with pytest.raises(WarehouseLocked) as err:
            write(Warehouse(db_path, lock_timeout=0.3), ROWS, "run-2")
    finally:
        analyst.release()
    assert f"PID {analyst.pid}, which names no klines flow run or command" in str(err.value)
    assert "'old'" not in str(err.value) and "'gone'" not in str(err.value)
    db = str(db_path)  # the next process to open the file sweeps the notes of dead ones:
    sweeper = f"from warehouse.holder import claim, release; claim({db!r}, 'x'); release({db!r})"
    subprocess.run([sys.executable, "-c", sweeper], cwd=Path(__file__).parents[2], check=True)
    assert [p.name for p in db_path.parent.glob("*.holder-*")] == []


def test_a_process_names_itself_by_its_command_line() -> None:
    assert (
        command_line(["/x/.venv/bin/klines", "sql", "SELECT 1"])
        == "command `klines sql 'SELECT 1'`"
    )
    assert command_line(["/x/cli/__main__.py", "ingest"]) == "command `python -m cli ingest`"


MINUTE = 60_000


def five_minutes() -> list[list]:
    """Five consecutive 1m rows from ``T0``, each with the first row's values."""
    return [
        [T0 + i * MINUTE, *ROWS[0][1:6], T0 + i * MINUTE + 59_999, *ROWS[0][7:]] for i in range(5)
    ]


def put_five_minutes(warehouse: Warehouse, batch: list[list]) -> int:
    """Write ``batch`` as FILUSDT 1m fetched for ``T0``'s five minutes; the count inserted."""
    checked = validate_batch(parse_pages([json.dumps(batch)]), "1m")
    return warehouse.write_batch(
        market="usdm", symbol="FILUSDT", interval="1m", valid=checked.valid,
        rejected=[], source="rest", run_id="r", expected=(T0, T0 + 5 * MINUTE),
    ).inserted  # fmt: skip


def test_a_fresh_range_and_a_refetched_one_give_the_same_candles_and_ledger(
    db_path: Path,
) -> None:
    warehouse = Warehouse(db_path)
    full = five_minutes()
    holes = [full[0], full[1], full[3]]

    def put(batch: list[list]) -> tuple[int, list[tuple]]:
        inserted = put_five_minutes(warehouse, batch)
        with warehouse.connect(read_only=True) as con:
            ledger = con.execute(
                "SELECT epoch_ms(gap_start), epoch_ms(gap_end), missing, cause FROM klines_gaps "
                "ORDER BY gap_start"
            ).fetchall()
        return inserted, ledger

    gaps = [(T0 + 2 * MINUTE, T0 + 3 * MINUTE, 1, "exchange_empty"),
            (T0 + 4 * MINUTE, T0 + 5 * MINUTE, 1, "exchange_empty")]  # fmt: skip
    assert put(holes) == (3, gaps)  # nothing stored in the range: a plain insert
    stored = snapshot(warehouse)
    assert put(holes) == (0, gaps)  # stored already: the merge path agrees
    assert snapshot(warehouse) == stored
    assert put(full) == (2, [])  # the holes filled: the ledger rows go


def test_candles_between_stored_ones_leave_only_the_true_holes_in_the_ledger(
    db_path: Path,
) -> None:
    warehouse = Warehouse(db_path)
    full = five_minutes()
    assert put_five_minutes(warehouse, [full[0], full[2]]) == 2
    # All new, but the range already held candles: the merge path.
    assert put_five_minutes(warehouse, [full[1], full[3]]) == 2
    with warehouse.connect(read_only=True) as con:
        assert con.execute("SELECT epoch_ms(gap_start), missing FROM klines_gaps").fetchall() == [
            (T0 + 4 * MINUTE, 1)
        ]
