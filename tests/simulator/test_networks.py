"""A second simulator plays the testnet: other prices, marked responses, no archive; and the
command line names every market's URLs."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import requests
from websockets.asyncio.client import connect

from simulator import Market, Simulator
from tests.simulator.conftest import NOW

ROOT = Path(__file__).resolve().parents[2]


def test_testnet_prices_differ_and_every_response_is_marked(market: Market) -> None:
    kline = {"symbol": "BTCUSDT", "interval": "1m", "limit": 5}
    with (
        Simulator(market, frozen_ms=NOW) as main,
        Simulator(network="testnet", frozen_ms=NOW) as test,
    ):
        assert test.market.seed != main.market.seed and test.network == "testnet"
        for path in ("/fapi/v1/klines", "/api/v3/klines"):
            ours = requests.get(f"{main.rest_url}{path}", params=kline, timeout=5)
            theirs = requests.get(f"{test.rest_url}{path}", params=kline, timeout=5)
            assert "x-sim-network" not in ours.headers
            assert theirs.headers["x-sim-network"] == "testnet"
            assert [r[4] for r in ours.json()] != [r[4] for r in theirs.json()]
        info = requests.get(f"{test.rest_url}/dapi/v1/exchangeInfo", timeout=5)
        assert info.headers["x-sim-network"] == "testnet" and len(info.json()["symbols"]) == 6
        assert test.archive_url is None
        zip_path = "/data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2026-10-05.zip"
        missing = requests.get(f"{test.rest_url}{zip_path}", timeout=5)
        assert missing.status_code == 404 and missing.headers["x-sim-network"] == "testnet"

        async def handshake() -> str | None:
            async with connect(test.ws_url("coinm") + "/ws/btcusd_perp@kline_1m") as ws:
                assert ws.response is not None
                return ws.response.headers.get("x-sim-network")

        assert asyncio.run(asyncio.wait_for(handshake(), 10)) == "testnet"


def test_the_command_line_names_every_market() -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "simulator", "--network", "testnet", "--freeze",
         "2026-11-02T00:07:30Z"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:  # fmt: skip
        try:
            assert proc.stdout is not None
            lines = [proc.stdout.readline().strip() for _ in range(7)]
            url = lines[0].removeprefix("simulator listening on ")
            port = url.rsplit(":", 1)[1]
            text = "\n".join(lines)
            for part in (f"ws://127.0.0.1:{port}/market", f"ws://127.0.0.1:{port}/dstream",
                         f"ws://127.0.0.1:{port}/spot", "/dapi/v1", "network: testnet",
                         "bulk archive: none"):  # fmt: skip
                assert part in text, part
            resp = requests.get(f"{url}/api/v3/time", timeout=5)
            assert resp.json() == {"serverTime": NOW} and resp.headers["x-sim-network"] == "testnet"
        finally:
            proc.terminate()
            assert proc.wait(timeout=10) == 0
