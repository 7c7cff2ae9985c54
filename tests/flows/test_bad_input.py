"""Bad input: one clear line, exit code 2, and the warehouse untouched."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from simulator import Simulator
from tests.flows.helpers import checksum, klines


@pytest.fixture
def filled_db(sim: Simulator, db_path: Path) -> Path:
    ran = klines(
        "ingest",
        "--db",
        str(db_path),
        "--rest-url",
        sim.url,
        "--symbols",
        "BTCUSDT",
        "--intervals",
        "1h",
        "--start",
        "2026-11-01",
    )
    assert ran.code == 0
    return db_path


CASES = {
    "unknown symbol": (
        ["--symbols", "BTCUSDT,NOPEUSDT", "--intervals", "1h"],
        "unknown symbol NOPEUSDT",
    ),
    "invalid interval 1H": (["--symbols", "BTCUSDT", "--intervals", "1H"], "invalid interval '1H'"),
    "invalid interval 2m": (
        ["--symbols", "BTCUSDT", "--intervals", "1m,2m"],
        "invalid interval '2m'",
    ),
    "start after end": (
        [
            "--symbols",
            "BTCUSDT",
            "--intervals",
            "1h",
            "--start",
            "2026-11-02",
            "--end",
            "2026-11-01",
        ],
        "is not before --end",
    ),
    "start in the future": (
        ["--symbols", "BTCUSDT", "--intervals", "1h", "--start", "2999-01-01"],
        "is in the future",
    ),
    "unparseable date": (
        ["--symbols", "BTCUSDT", "--intervals", "1h", "--start", "yesterday"],
        "cannot parse --start 'yesterday'",
    ),
    "symbol with SQL": (
        ["--symbols", "BTCUSDT';DROP TABLE klines;--", "--intervals", "1h"],
        "invalid symbol",
    ),
    "empty symbols": (["--symbols", ",", "--intervals", "1h"], "no symbols given"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_exits_2_with_one_line_and_leaves_the_warehouse_alone(
    case: str, sim: Simulator, filled_db: Path
) -> None:
    args, message = CASES[case]
    before = checksum(filled_db)
    ran = klines("ingest", "--db", str(filled_db), "--rest-url", sim.url, *args)
    assert ran.code == 2
    assert ran.err.strip().splitlines()[-1].startswith("error: ")
    assert message in ran.err
    assert "Traceback" not in ran.err
    assert checksum(filled_db) == before


def test_a_lowercase_symbol_is_accepted_and_the_user_told(sim: Simulator, db_path: Path) -> None:
    ran = klines(
        "ingest",
        "--db",
        str(db_path),
        "--rest-url",
        sim.url,
        "--symbols",
        "btcusdt",
        "--intervals",
        "1h",
        "--start",
        "2026-11-01",
    )
    assert ran.code == 0
    assert "normalised to 'BTCUSDT'" in ran.err


def test_a_file_that_is_not_duckdb_is_never_overwritten(sim: Simulator, tmp_path: Path) -> None:
    path = tmp_path / "report.csv"
    path.write_text("a,b\n1,2\n")
    ran = klines(
        "ingest",
        "--db",
        str(path),
        "--rest-url",
        sim.url,
        "--symbols",
        "BTCUSDT",
        "--intervals",
        "1h",
    )
    assert ran.code == 2 and "not a DuckDB database" in ran.err
    assert path.read_text() == "a,b\n1,2\n"


def test_an_unwritable_path_is_refused(sim: Simulator, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    ran = klines(
        "ingest",
        "--db",
        str(tmp_path / "file" / "k.duckdb"),
        "--rest-url",
        sim.url,
        "--symbols",
        "BTCUSDT",
        "--intervals",
        "1h",
    )
    assert ran.code == 2 and "not a writable folder" in ran.err


def test_an_unreachable_rest_url_names_the_url_and_the_variable(db_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ran = klines(
        "ingest",
        "--db",
        str(db_path),
        "--symbols",
        "BTCUSDT",
        "--intervals",
        "1h",
        env={"KLINES_REST_URL": f"http://127.0.0.1:{port}"},
    )
    assert ran.code == 2
    assert f"http://127.0.0.1:{port}" in ran.err and "KLINES_REST_URL" in ran.err
    assert not db_path.exists()
