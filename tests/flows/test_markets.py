"""Every market through one pipeline: spot, COIN-M and USDⓈ-M, by REST and from the archive,
each equal to the simulator's truth; networks kept apart."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from simulator import Market, Simulator
from tests.conftest import NOW_MS, truth_rows
from tests.flows.helpers import ingest, klines

STORED = """
SELECT epoch_ms(open_time), open, high, low, close, volume, epoch_ms(close_time),
       quote_volume, trades, taker_buy_base_volume, taker_buy_quote_volume
FROM klines WHERE market = ? AND symbol = ? AND interval = ? ORDER BY open_time
"""


def stored(db: Path, market: str, symbol: str, interval: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return [tuple(r) for r in con.execute(STORED, [market, symbol, interval]).fetchall()]


def test_one_run_loads_futures_and_spot_side_by_side_each_equal_to_its_truth(
    sim: Simulator, market: Market, db_path: Path
) -> None:
    ran = ingest(
        sim,
        db_path,
        *("--market", "usdm,spot", "--symbols", "BTCUSDT,ETHUSDT"),
        *("--intervals", "1m,1h", "--start", "2026-11-01T12:00Z"),
    )
    assert ran.code == 0, ran.err
    for name in ("usdm", "spot"):
        for symbol in ("BTCUSDT", "ETHUSDT"):
            for interval in ("1m", "1h"):
                truth = truth_rows(
                    market, symbol, interval, "2026-11-01T12:00:00", market_name=name
                )
                assert truth and stored(db_path, name, symbol, interval) == truth
    assert stored(db_path, "usdm", "BTCUSDT", "1h") != stored(db_path, "spot", "BTCUSDT", "1h")
    assert "spot    trade  BTCUSDT" in ran.out and "usdm    trade  BTCUSDT" in ran.out


def test_coin_m_contracts_load_with_volumes_in_contracts(
    sim: Simulator, market: Market, db_path: Path
) -> None:
    ran = ingest(
        sim,
        db_path,
        *("--market", "coinm", "--symbols", "BTCUSD_PERP,ETHUSD_PERP"),
        *("--intervals", "5m", "--start", "2026-11-01"),
    )
    assert ran.code == 0, ran.err
    for symbol in ("BTCUSD_PERP", "ETHUSD_PERP"):
        truth = truth_rows(market, symbol, "5m", "2026-11-01T00:00:00", market_name="coinm")
        assert truth and stored(db_path, "coinm", symbol, "5m") == truth


def test_spot_one_second_candles(sim: Simulator, market: Market, db_path: Path) -> None:
    ran = ingest(
        sim,
        db_path,
        *("--market", "spot", "--symbols", "BTCUSDT", "--intervals", "1s"),
        *("--start", "2026-11-02T00:00Z"),
    )
    assert ran.code == 0, ran.err
    truth = truth_rows(market, "BTCUSDT", "1s", "2026-11-02T00:00:00", market_name="spot")
    assert len(truth) == 450 and stored(db_path, "spot", "BTCUSDT", "1s") == truth


@pytest.mark.parametrize(("name", "symbol"), [("spot", "BTCUSDT"), ("coinm", "BTCUSD_PERP")])
def test_whole_days_come_from_each_markets_archive(
    sim: Simulator, market: Market, db_path: Path, name: str, symbol: str
) -> None:
    """Spot's files are in microseconds since 2025 and COIN-M's under futures/cm."""
    ran = ingest(
        sim,
        db_path,
        *("--market", name, "--symbols", symbol, "--intervals", "1h", "--source", "archive"),
        *("--start", "2026-10-30"),
        env={"KLINES_ARCHIVE_URL": str(sim.archive_url)},
    )
    assert ran.code == 0, ran.err
    assert stored(db_path, name, symbol, "1h") == truth_rows(
        market, symbol, "1h", "2026-10-30T00:00:00", market_name=name
    )
    with duckdb.connect(str(db_path), read_only=True) as con:
        sources = dict(
            con.execute("SELECT source, count(*) FROM klines GROUP BY source").fetchall()
        )
    assert sources == {"archive": 72}  # three whole days; today's first hour is still open


def test_a_symbol_of_another_market_is_unknown_there(sim: Simulator, db_path: Path) -> None:
    ran = ingest(sim, db_path, "--market", "coinm", "--symbols", "BTCUSDT", "--intervals", "1h")
    assert ran.code == 2
    assert "unknown symbol BTCUSDT: not listed in /dapi/v1/exchangeInfo" in ran.err
    assert not db_path.exists()


def test_testnet_data_lives_in_a_file_of_its_own(db_path: Path) -> None:
    testnet = Market.testnet()
    with Simulator(testnet, frozen_ms=NOW_MS, network="testnet") as sim:
        args = ("--symbols", "BTCUSDT", "--intervals", "1h", "--start", "2026-11-01")
        ran = ingest(sim, db_path, "--network", "testnet", *args)
        assert ran.code == 0, ran.err
        assert stored(db_path, "usdm", "BTCUSDT", "1h") == truth_rows(
            testnet, "BTCUSDT", "1h", "2026-11-01T00:00:00"
        )
        before = db_path.read_bytes()
        mixed = klines("ingest", "--db", str(db_path), "--rest-url", sim.url, *args)
    assert mixed.code == 2
    assert "holds testnet data and this run is for the mainnet" in mixed.err
    assert db_path.read_bytes() == before
