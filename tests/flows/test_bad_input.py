"""Bad input: one clear line, exit code 2, and the warehouse untouched."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from simulator import Market, Simulator
from tests.conftest import NOW_MS
from tests.flows.helpers import checksum, ingest_args, klines, newest_flow_run_log


@pytest.fixture(scope="module")
def filled_db(market: Market, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One filled warehouse for the module: every test checks it is left byte for byte."""
    db_path = tmp_path_factory.mktemp("bad-input") / "klines.duckdb"
    with Simulator(market, frozen_ms=NOW_MS) as sim, pytest.MonkeyPatch.context() as env:
        env.setenv("KLINES_WEIGHT_LEDGER", str(tmp_path_factory.mktemp("weight-ledger")))
        ran = klines(*ingest_args(sim, db_path, *BASE, "--start", "2026-11-01"))
    assert ran.code == 0
    return db_path


BASE = ["--symbols", "BTCUSDT", "--intervals", "1h"]
# id: (arguments after `ingest --db DB --rest-url SIM`, extra environment, expected text)
CASES: dict[str, tuple[list[str], dict[str, str], str]] = {
    # symbols
    "unknown symbol": (
        ["--symbols", "BTCUSDT,NOPEUSDT", "--intervals", "1h"],
        {},
        "unknown symbol NOPEUSDT",
    ),
    "two unknown symbols": (
        ["--symbols", "AAAUSDT,BBBUSDT", "--intervals", "1h"],
        {},
        "unknown symbols AAAUSDT, BBBUSDT",
    ),
    "dash in symbol": (
        ["--symbols", "BTC-USDT", "--intervals", "1h"],
        {},
        "invalid symbol 'BTC-USDT'",
    ),
    "slash in symbol": (["--symbols", "BTC/USDT", "--intervals", "1h"], {}, "invalid symbol"),
    "SQL in symbol": (
        ["--symbols", "BTCUSDT';DROP TABLE klines;--", "--intervals", "1h"],
        {},
        "invalid symbol",
    ),
    "SQL boolean in symbol": (
        ["--symbols", "BTCUSDT' OR '1'='1", "--intervals", "1h"],
        {},
        "invalid symbol",
    ),
    "shell substitution": (["--symbols", "$(rm -rf /)", "--intervals", "1h"], {}, "invalid symbol"),
    "shell pipe": (
        ["--symbols", "BTCUSDT|cat /etc/passwd", "--intervals", "1h"],
        {},
        "invalid symbol",
    ),
    "backticks": (["--symbols", "`reboot`", "--intervals", "1h"], {}, "invalid symbol"),
    "newline in symbol": (
        ["--symbols", "BTCUSDT\nETHUSDT", "--intervals", "1h"],
        {},
        "invalid symbol",
    ),
    "non-ASCII symbol": (["--symbols", "BTCÜSDT", "--intervals", "1h"], {}, "invalid symbol"),
    "one-letter symbol": (["--symbols", "B", "--intervals", "1h"], {}, "invalid symbol"),
    "overlong symbol": (["--symbols", "X" * 60, "--intervals", "1h"], {}, "invalid symbol"),
    "empty symbols": (["--symbols", ",", "--intervals", "1h"], {}, "no symbols given"),
    # patterns
    "pattern matching nothing": (
        ["--symbols", "BTCUSDT,*XYZ", "--intervals", "1h"],
        {},
        "'*XYZ' matched no TRADING perpetual in /fapi/v1/exchangeInfo",
    ),
    "pattern matching only a delisted contract": (
        ["--symbols", "OLD*", "--intervals", "1h"],
        {},
        "it matches only contracts that do not trade (OLDUSDT): name one exactly",
    ),
    "SQL in a pattern": (
        ["--symbols", "*';DROP TABLE klines;--", "--intervals", "1h"],
        {},
        "invalid symbol pattern",
    ),
    "top zero": (["--symbols", "*USDT", "--top", "0", "--intervals", "1h"], {}, "--top 0"),
    # intervals
    "interval 1H": (["--symbols", "BTCUSDT", "--intervals", "1H"], {}, "invalid interval '1H'"),
    "interval 2m": (["--symbols", "BTCUSDT", "--intervals", "1m,2m"], {}, "invalid interval '2m'"),
    "interval 1mo": (["--symbols", "BTCUSDT", "--intervals", "1mo"], {}, "invalid interval '1mo'"),
    "interval 1s": (["--symbols", "BTCUSDT", "--intervals", "1s"], {}, "invalid interval '1s'"),
    "interval number": (["--symbols", "BTCUSDT", "--intervals", "60"], {}, "invalid interval '60'"),
    "interval with SQL": (
        ["--symbols", "BTCUSDT", "--intervals", "1m';--"],
        {},
        "invalid interval",
    ),
    "empty intervals": (["--symbols", "BTCUSDT", "--intervals", " , "], {}, "no intervals given"),
    # dates and ranges
    "unparseable date": ([*BASE, "--start", "yesterday"], {}, "cannot parse --start 'yesterday'"),
    "month 13": ([*BASE, "--start", "2026-13-01"], {}, "cannot parse --start"),
    "30 February": ([*BASE, "--start", "2026-02-30"], {}, "cannot parse --start"),
    "hour 25": ([*BASE, "--start", "2026-11-01T25:00"], {}, "cannot parse --start"),
    "epoch number": ([*BASE, "--start", "1700000000000"], {}, "cannot parse --start"),
    "bad end": ([*BASE, "--end", "soon"], {}, "cannot parse --end 'soon'"),
    "start in the future": ([*BASE, "--start", "2999-01-01"], {}, "is in the future"),
    "end before the listing": (
        [*BASE, "--end", "1999-01-01"],
        {},
        "the range ends before BTCUSDT was listed (2019-09-08)",
    ),
    "a mainnet file for the testnet": (
        [*BASE, "--network", "testnet"],
        {},
        "holds mainnet data and this run is for the testnet",
    ),
    "unknown network": ([*BASE, "--network", "devnet"], {}, "--network 'devnet'"),
    "unknown market": ([*BASE, "--market", "options"], {}, "--market 'options'"),
    # kinds
    "a price kind on spot": (
        [*BASE, "--market", "spot", "--kind", "mark"],
        {},
        "--kind mark: spot has only trade candles",
    ),
    "unknown kind": ([*BASE, "--kind", "funding"], {}, "--kind 'funding': use one of trade, mark"),
    "empty kind": ([*BASE, "--kind", " , "], {}, "no kind given"),
    "1s off spot": (["--symbols", "BTCUSDT", "--intervals", "1s"], {}, "invalid interval '1s'"),
    "range wholly before the listing": (
        [*BASE, "--start", "1999-01-01", "--end", "2000-01-01"],
        {},
        "the range ends before BTCUSDT was listed (2019-09-08)",
    ),
    "start after end": (
        [*BASE, "--start", "2026-11-02", "--end", "2026-11-01"],
        {},
        "is not before --end",
    ),
    "start equals end": (
        [*BASE, "--start", "2026-11-01", "--end", "2026-11-01T00:00Z"],
        {},
        "is not before --end",
    ),
    "offsets: start after end": (
        [*BASE, "--start", "2026-11-01T10:00+02:00", "--end", "2026-11-01T07:00Z"],
        {},
        "is not before --end",
    ),
    # URLs
    "ftp URL": ([*BASE, "--rest-url", "ftp://example.com"], {}, "is not a usable URL"),
    "not a URL": ([*BASE, "--rest-url", "fapi.binance.com"], {}, "is not a usable URL"),
    "URL without host": ([*BASE, "--rest-url", "http://"], {}, "is not a usable URL"),
    "URL with bad port": ([*BASE, "--rest-url", "http://127.0.0.1:99999"], {}, "invalid port"),
    "http WebSocket URL": (
        BASE,
        {"KLINES_WS_URL": "http://fstream.binance.com/market"},
        "KLINES_WS_URL",
    ),
    # numbers
    "weight share above 1": (
        BASE,
        {"KLINES_WEIGHT_SHARE": "2"},
        "KLINES_WEIGHT_SHARE=2 is out of range",
    ),
    "weight share not a number": (BASE, {"KLINES_WEIGHT_SHARE": "lots"}, "is not a number"),
    "negative look-back": (
        BASE,
        {"KLINES_LOOKBACK_CANDLES": "-5"},
        "KLINES_LOOKBACK_CANDLES=-5 is out of range",
    ),
    "fractional retries": (BASE, {"KLINES_HTTP_RETRIES": "2.5"}, "is not a number"),
    "zero read timeout": (BASE, {"KLINES_READ_TIMEOUT": "0"}, "out of range"),
    # the host's weight ledger
    "relative weight ledger": (
        BASE,
        {"KLINES_WEIGHT_LEDGER": "ledger"},
        "KLINES_WEIGHT_LEDGER='ledger' is not an absolute path",
    ),
    "weight ledger under a file": (
        BASE,
        {"KLINES_WEIGHT_LEDGER": "/dev/null/ledger"},
        "cannot use the weight ledger /dev/null/ledger",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_exits_2_with_one_line_and_leaves_the_warehouse_alone(
    case: str, sim: Simulator, filled_db: Path
) -> None:
    args, env, message = CASES[case]
    before = checksum(filled_db)
    argv = ["ingest", "--db", str(filled_db)]
    if "--rest-url" not in args:
        argv += ["--rest-url", sim.url]
    ran = klines(*argv, *args, env=env)
    assert ran.code == 2, ran.err
    last = ran.err.strip().splitlines()[-1]
    assert last.startswith("error: ") and message in last
    assert "Traceback" not in ran.err
    assert checksum(filled_db) == before


@pytest.mark.parametrize(
    "case", ["unknown symbol", "end before the listing", "range wholly before the listing"]
)
def test_bad_input_found_by_the_flow_is_one_line_in_its_run_log_without_traceback(
    case: str, sim: Simulator, db_path: Path
) -> None:
    args, _, message = CASES[case]
    ran = klines("ingest", "--db", str(db_path), "--rest-url", sim.url, *args)
    assert ran.code == 2
    log = newest_flow_run_log("ingest-klines")
    assert [line for line in log if message in line] == [
        f"Finished in state Failed({ran.err.strip().splitlines()[-1].removeprefix('error: ')!r})"
    ]
    assert not any("Traceback" in line for line in log)
    assert not db_path.exists()


@pytest.mark.parametrize(
    "args",
    [["--intervals", "1h"], ["--symbols", "BTCUSDT"], [*BASE, "--start"], [*BASE, "--frobnicate"]],
    ids=["no symbols", "no intervals", "option without value", "unknown option"],
)
def test_malformed_command_lines_exit_2(args: list[str], filled_db: Path) -> None:
    before = checksum(filled_db)
    ran = klines("ingest", "--db", str(filled_db), *args)
    assert ran.code == 2
    assert ran.err.strip().splitlines()[-1].startswith("Error: ")
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
