"""Patterns, ALL and --top on the command line, and ``klines symbols``, against the simulator."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb

from simulator import Market, Simulator
from tests.conftest import NOW_MS
from tests.flows.helpers import checksum, ingest, klines

ROOT = Path(__file__).resolve().parents[2]
START = ("--intervals", "1h", "--start", "2026-11-01T18:00Z")


def stored_symbols(db: Path) -> list[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return [
            r[0] for r in con.execute("SELECT DISTINCT symbol FROM klines ORDER BY 1").fetchall()
        ]


def test_a_pattern_loads_what_it_matches_says_so_and_klines_symbols_lists_what_it_stored(
    sim: Simulator, db_path: Path
) -> None:
    before = klines("symbols", "B*", "--rest-url", sim.url, "--db", str(db_path))
    assert before.code == 0 and not db_path.exists()
    assert "nothing stored" in before.err
    ran = ingest(sim, db_path, "--symbols", "b*,OLDUSDT", "--intervals", "1h,1d", "--start",
                 "2026-11-01")  # fmt: skip
    assert ran.code == 0, ran.err
    assert stored_symbols(db_path) == ["BNBUSDT", "BTCUSDT"]  # OLDUSDT: delisted in June
    assert "symbol pattern 'b*' normalised to 'B*'" in ran.err
    assert "note: 'B*' matched 2 symbols (TRADING perpetuals): BNBUSDT, BTCUSDT" in ran.out
    with duckdb.connect(str(db_path), read_only=True) as con:
        (parameters,) = con.execute("SELECT parameters FROM ingest_runs").fetchone()
    logged = json.loads(parameters)
    assert logged["requested"] == ["OLDUSDT", "B*"]
    assert logged["symbols"] == ["OLDUSDT", "BNBUSDT", "BTCUSDT"]
    assert logged["resolution"] == ["'B*' matched 2 symbols (TRADING perpetuals): BNBUSDT, BTCUSDT"]
    # ... and `klines symbols` lists them with what is stored, reading the file only.
    written = checksum(db_path)
    listed = klines("symbols", "B*", "--rest-url", sim.url, "--db", str(db_path), "--format", "csv")
    assert listed.code == 0, listed.err
    assert listed.out.splitlines() == [
        "symbol,status,contract,listed,intervals,candles,newest",
        'BNBUSDT,TRADING,PERPETUAL,2020-02-10,"1h, 1d",25,2026-11-01 23:00:00+00:00',
        'BTCUSDT,TRADING,PERPETUAL,2019-09-08,"1h, 1d",25,2026-11-01 23:00:00+00:00',
    ]
    assert checksum(db_path) == written


def test_top_loads_the_symbols_with_the_highest_24_hour_quote_volume(
    sim: Simulator, market: Market, db_path: Path
) -> None:
    ran = ingest(sim, db_path, "--top", "2", *START)
    assert ran.code == 0, ran.err
    trading = [s for s, spec in market.symbols.items() if spec.status == "TRADING"]
    volume = {s: Decimal(str(market.ticker_24h(s, NOW_MS)["quoteVolume"])) for s in trading}
    expected = sorted(trading, key=lambda s: -volume[s])[:2]
    assert stored_symbols(db_path) == sorted(expected)
    assert "--top 2 kept 2 of 6 symbols, those with the highest 24-hour quote volume " in ran.out
    assert sim.stats.snapshot()["requests_by_path"]["/fapi/v1/ticker/24hr"] == 1


def test_klines_symbols_ranks_by_quote_volume_and_names_bad_input_in_one_line(
    sim: Simulator,
) -> None:
    top = klines("symbols", "--top", "3", "--rest-url", sim.url)
    assert top.code == 0, top.err
    lines = top.out.splitlines()
    assert lines[0].split() == ["symbol", "status", "contract", "listed", "quote_volume_24h",
                                "intervals", "candles", "newest"]  # fmt: skip
    volumes = [Decimal(line.split()[4]) for line in lines[2:5]]
    assert volumes == sorted(volumes, reverse=True) and lines[5] == "(3 rows)"
    for args, message in [
        (["*XYZ", "--top", "3"], "error: '*XYZ' matched no TRADING perpetual"),
        (["$(reboot)*"], "error: invalid symbol pattern"),
        (["*USDT", "--top", "0"], "error: --top 0: use a positive number"),
    ]:
        ran = klines("symbols", *args, "--rest-url", sim.url)
        errors = ran.err.strip().splitlines()
        assert ran.code == 2 and len(errors) == 1 and errors[0].startswith(message)
    # bad input costs no ticker request (weight 40): only the good --top 3 asked for one
    assert sim.stats.snapshot()["requests_by_path"]["/fapi/v1/ticker/24hr"] == 1


def test_klines_symbols_loads_no_prefect(sim: Simulator, tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from cli.main import main\n"
        "try:\n"
        f"    main(['symbols', 'ETH*', '--rest-url', '{sim.url}', '--db', '{tmp_path / 'k.duckdb'}'])\n"
        "except SystemExit as done:\n"
        "    assert 'prefect' not in sys.modules, 'prefect was imported'\n"
        "    raise\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[2].startswith("ETHUSDT ")
