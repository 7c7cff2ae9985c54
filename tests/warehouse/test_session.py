"""A warehouse session: one connection for a run's writes, let go when they pause."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

from warehouse.parse import parse_pages
from warehouse.schema import validate_batch
from warehouse.store import Warehouse

T0 = 1_682_899_200_000
MIN = 60_000


def rows(start: int, n: int) -> list[list]:
    return [
        [start + i * MIN, "5.4", "5.5", "5.3", "5.4", "10.0", start + i * MIN + MIN - 1,
         "54.0", 7, "4.0", "21.6", "0"]
        for i in range(n)
    ]  # fmt: skip


def write(warehouse: Warehouse, symbol: str, start: int = T0, n: int = 3) -> int:
    checked = validate_batch(parse_pages([json.dumps(rows(start, n))]), "1m")
    return warehouse.write_batch(
        market="usdm",
        symbol=symbol,
        interval="1m",
        valid=checked.valid,
        rejected=[],
        source="rest",
        run_id="r",
        expected=(start, start + n * MIN),
    ).inserted


def another_process_can_open(path: Path) -> bool:
    """Whether a separate process gets the file now (DuckDB locks it per process)."""
    probe = "import duckdb, sys; duckdb.connect(sys.argv[1], read_only=True).close()"
    return (
        subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True).returncode
        == 0
    )


def until(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
    return True


def test_inside_a_session_the_file_stays_open_between_writes(db_path: Path) -> None:
    warehouse = Warehouse(db_path)
    with warehouse.session(idle_s=600):
        assert write(warehouse, "AAAUSDT") == 3
        assert not another_process_can_open(db_path)
        assert write(warehouse, "BBBUSDT") == 3
    assert another_process_can_open(db_path)


def test_outside_a_session_every_write_lets_go_of_the_file(db_path: Path) -> None:
    warehouse = Warehouse(db_path)
    write(warehouse, "AAAUSDT")
    assert another_process_can_open(db_path)


def test_a_session_lets_go_when_writes_pause_and_picks_up_again(db_path: Path) -> None:
    warehouse = Warehouse(db_path)
    with warehouse.session(idle_s=0.05):
        write(warehouse, "AAAUSDT")
        assert until(lambda: another_process_can_open(db_path))
        assert write(warehouse, "AAAUSDT", T0 + 3 * MIN) == 3
    with warehouse.connect(read_only=True) as con:
        assert con.execute("SELECT count(*) FROM klines").fetchone() == (6,)


def test_a_session_lets_go_after_its_longest_hold_even_if_writes_continue(db_path: Path) -> None:
    warehouse = Warehouse(db_path)
    with warehouse.session(idle_s=600, max_hold_s=0.0):
        write(warehouse, "AAAUSDT")
        assert another_process_can_open(db_path)


def test_reads_inside_a_session_go_through_its_connection(db_path: Path) -> None:
    warehouse = Warehouse(db_path)
    with warehouse.session(idle_s=600):
        write(warehouse, "AAAUSDT")
        with Warehouse(db_path).connect(read_only=True) as con:  # no configuration clash
            assert con.execute("SELECT count(*) FROM klines").fetchone() == (3,)
        assert warehouse.stored_bounds("usdm", [("AAAUSDT", "1m")])[("AAAUSDT", "1m")] == (
            T0,
            T0 + 2 * MIN,
        )


def test_writes_from_many_threads_share_the_session_and_all_land(db_path: Path) -> None:
    warehouse = Warehouse(db_path)
    errors: list[BaseException] = []

    def series(k: int) -> None:
        try:
            for batch in range(5):
                write(warehouse, f"S{k:02d}USDT", T0 + batch * 3 * MIN)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    with warehouse.session():
        threads = [threading.Thread(target=series, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors
    with warehouse.connect(read_only=True) as con:
        assert con.execute("SELECT count(*), count(DISTINCT symbol) FROM klines").fetchone() == (
            8 * 5 * 3,
            8,
        )
        assert con.execute("SELECT count(*) FROM klines_gaps").fetchone() == (0,)


def test_busy_writers_still_let_another_process_in_after_the_longest_hold(db_path: Path) -> None:
    warehouse = Warehouse(db_path)
    stop = threading.Event()

    def busy(k: int) -> None:
        batch = 0
        while not stop.is_set():
            write(warehouse, f"B{k}USDT", T0 + batch * 3 * MIN)
            batch += 1

    with warehouse.session(idle_s=600, max_hold_s=0.2):
        writers = [threading.Thread(target=busy, args=(k,)) for k in range(3)]
        for t in writers:
            t.start()
        try:
            assert until(lambda: another_process_can_open(db_path))
        finally:
            stop.set()
            for t in writers:
                t.join()


def test_a_connection_opened_inside_another_does_not_wait_for_itself(db_path: Path) -> None:
    warehouse = Warehouse(db_path)
    write(warehouse, "AAAUSDT")
    with warehouse.session(max_hold_s=0.0), warehouse.connect() as outer:
        with warehouse.connect(read_only=True) as inner:
            assert inner.execute("SELECT count(*) FROM klines").fetchone() == (3,)
        assert outer.execute("SELECT count(*) FROM klines").fetchone() == (3,)
