"""The full-size listing and ``/fapi/v1/ticker/24hr``: realistic, deterministic, weighed."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from simulator import Market, Simulator, full_universe
from simulator.market import default_symbols
from tests.simulator.conftest import MINUTE, NOW

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def big() -> Iterator[Simulator]:
    with Simulator(Market(full_universe()), frozen_ms=NOW) as sim:
        yield sim


def test_the_full_universe_lists_hundreds_of_contracts_of_every_kind() -> None:
    specs = full_universe()
    assert specs == full_universe()  # the same in every process
    by_name = {s.symbol: s for s in specs}
    assert len(by_name) == len(specs)
    assert specs[: len(default_symbols())] == default_symbols()  # same candles as today
    trading_usdt = [
        s
        for s in specs
        if s.status == "TRADING" and s.quote_asset == "USDT" and "_" not in s.symbol
    ]
    assert len(trading_usdt) == 330
    assert {"1000PEPEUSDT", "1000SHIBUSDT", "1MBABYDOGEUSDT"} <= set(by_name)
    assert sum(s.quote_asset == "USDC" for s in specs) >= 10
    quarterlies = [s for s in specs if "_" in s.symbol]
    assert {"BTCUSDT_261225", "ETHUSDT_270326"} <= {s.symbol for s in quarterlies}
    assert {s.contract_type for s in quarterlies} == {"CURRENT_QUARTER", "NEXT_QUARTER"}
    assert sum(s.status == "SETTLING" for s in specs) >= 10
    assert {s.status for s in specs} >= {"TRADING", "SETTLING", "DELIVERED", "PENDING_TRADING"}
    assert all(re.fullmatch(r"[A-Z0-9]{2,20}(_[0-9]{6})?", s) for s in by_name)


def test_exchange_info_names_pair_and_quote_asset_of_each_contract(big: Simulator) -> None:
    info = requests.get(f"{big.url}/fapi/v1/exchangeInfo", timeout=5).json()
    rows = {s["symbol"]: s for s in info["symbols"]}
    assert len(rows) == len(big.market.symbols)
    assert (rows["BTCUSDT_261225"]["pair"], rows["BTCUSDT_261225"]["deliveryDate"]) == (
        "BTCUSDT",
        1798185600000,
    )
    assert (rows["ETHUSDC"]["baseAsset"], rows["ETHUSDC"]["quoteAsset"]) == ("ETH", "USDC")
    assert rows["1000PEPEUSDT"]["baseAsset"] == "1000PEPE"


def test_the_ticker_of_all_symbols_weighs_40_and_one_symbol_1(big: Simulator) -> None:
    big.reset()  # weight used by the module's earlier tests
    every = requests.get(f"{big.url}/fapi/v1/ticker/24hr", timeout=10)
    assert every.headers["x-mbx-used-weight-1m"] == "40"
    listed = {s for s, spec in big.market.symbols.items() if spec.onboard_ms <= NOW}
    assert {t["symbol"] for t in every.json()} == listed
    one = requests.get(f"{big.url}/fapi/v1/ticker/24hr", params={"symbol": "BTCUSDT"}, timeout=5)
    assert one.headers["x-mbx-used-weight-1m"] == "41"
    assert one.json() == next(t for t in every.json() if t["symbol"] == "BTCUSDT")
    unknown = requests.get(f"{big.url}/fapi/v1/ticker/24hr", params={"symbol": "NOPE"}, timeout=5)
    assert unknown.status_code == 400 and unknown.json()["code"] == -1121


def test_the_ticker_adds_up_the_last_24_hours_of_1m_klines(big: Simulator) -> None:
    stats = requests.get(
        f"{big.url}/fapi/v1/ticker/24hr", params={"symbol": "ETHUSDT"}, timeout=5
    ).json()
    first_minute = (NOW // MINUTE + 1 - 1440) * MINUTE
    rows = big.market.klines("ETHUSDT", "1m", first_minute, NOW, NOW, 1500)
    assert len(rows) == 1440 - 20  # a 20-minute maintenance window on 1 November
    assert Decimal(stats["quoteVolume"]) == sum(Decimal(r[7]) for r in rows)
    assert Decimal(stats["volume"]) == sum(Decimal(r[5]) for r in rows)
    assert stats["count"] == sum(r[8] for r in rows)
    assert (stats["openPrice"], stats["lastPrice"]) == (rows[0][1], rows[-1][4])
    assert stats["highPrice"] == max(rows, key=lambda r: Decimal(r[2]))[2]


def test_quote_volumes_span_orders_of_magnitude_with_the_majors_on_top(big: Simulator) -> None:
    every = requests.get(f"{big.url}/fapi/v1/ticker/24hr", timeout=10).json()
    volume = {t["symbol"]: Decimal(t["quoteVolume"]) for t in every}
    ranked = sorted(volume, key=volume.__getitem__, reverse=True)
    assert {"BTCUSDT", "ETHUSDT"} <= set(ranked[:10])
    trading = [volume[s] for s in ranked if big.market.symbols[s].status == "TRADING"]
    assert trading[0] > 1000 * trading[-1] > 0
    assert volume["FTTUSDT"] == 0  # delisted: no candle in the window


def test_the_command_line_serves_the_full_universe() -> None:
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulator",
            "--universe",
            "full",
            "--freeze",
            "2026-11-02T00:07:30Z",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().strip().removeprefix("simulator listening on ")
            info = requests.get(f"{url}/fapi/v1/exchangeInfo", timeout=5).json()
            assert len(info["symbols"]) == len(full_universe())
        finally:
            proc.terminate()
            assert proc.wait(timeout=10) == 0
