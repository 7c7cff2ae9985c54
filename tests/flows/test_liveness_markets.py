"""``klines liveness`` on every market and network: real flow runs against the simulator
(COIN-M with its mark price, spot beside USDⓈ-M in one run, the testnet's silent route)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from flows.liveness import ws_liveness
from simulator import Market, Simulator
from tests.conftest import NOW_MS
from tests.flows.helpers import klines
from warehouse.network import NetworkMismatch, claim_network
from warehouse.store import Warehouse


def fast(sim: Simulator) -> Simulator:
    """Every market's streams send far more often than Binance's (the windows are short)."""
    for feed in sim.ws_feeds.values():
        feed.settings.update(event_period_s=0.02, mark_fast_period_s=0.05)
    sim.clock.unfreeze()
    return sim


@pytest.fixture
def live(market: Market) -> Iterator[Simulator]:
    with Simulator(market, frozen_ms=NOW_MS) as sim:
        yield fast(sim)


@pytest.fixture
def testnet() -> Iterator[Simulator]:
    with Simulator(network="testnet", frozen_ms=NOW_MS) as sim:
        yield fast(sim)


def close_candle_once_subscribed(sim: Simulator, *markets: str) -> threading.Thread:
    """When every market's feed has a SUBSCRIBE, move the clock so the 00:07 candle closes
    0.3 s later (one clock: it closes on every market at once)."""

    def watch() -> None:
        done = threading.Event()
        while not all(sim.ws_feeds[m].counts["subscribe_requests"] for m in markets):
            if done.wait(0.01):
                return
        sim.clock.advance(NOW_MS + 30_000 - 300 - sim.clock.now_ms())

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_coinm_klines_and_mark_price_pass_on_the_dstream_host(
    live: Simulator, db_path: Path, tmp_path: Path
) -> None:
    report = tmp_path / "coinm.md"
    close_candle_once_subscribed(live, "coinm")
    ran = klines(
        "liveness", "--market", "coinm", "--mark-price", "--symbols", "BTCUSD_PERP",
        "--intervals", "1m", "--seconds", "1.2", "--report", str(report), "--db", str(db_path),
        env={"KLINES_WS_URL_COINM": live.ws_url("coinm"), "KLINES_REST_URL": live.url},
    )  # fmt: skip
    assert ran.code == 0, ran.out + ran.err
    assert "verdict: PASS (mainnet, run" in ran.out
    text = report.read_text()
    assert "- **network:** mainnet\n- **markets:** COIN-M futures (`coinm`)\n" in text
    assert f"  - **WebSocket URL:** `{live.ws_url('coinm')}`\n" in text
    assert "  - **route rule:** none known" in text
    assert "1 closed candles identical to REST, field by field" in text
    assert "| `btcusd_perp@markPrice@1s` | **PASS** |" in text
    assert rows(db_path, "SELECT market, network, verdict FROM liveness_runs") == [
        ("coinm", "mainnet", "PASS")
    ]
    assert rows(
        db_path,
        "SELECT market, network, stream, status, events > 5, closed_seen "
        "FROM liveness_streams ORDER BY stream",
    ) == [
        ("coinm", "mainnet", "btcusd_perp@kline_1m", "PASS", True, 1),
        ("coinm", "mainnet", "btcusd_perp@markPrice@1s", "PASS", True, 0),
    ]


def test_spot_beside_usdm_in_one_run_each_on_its_own_host(
    live: Simulator, db_path: Path, tmp_path: Path
) -> None:
    report = tmp_path / "two.md"
    close_candle_once_subscribed(live, "usdm", "spot")
    env = {
        "KLINES_MARKET": "usdm,spot",
        "KLINES_WS_URL_USDM": live.ws_url("usdm"),
        "KLINES_WS_URL_SPOT": live.ws_url("spot"),
        "KLINES_REST_URL": live.url,
    }
    ran = klines(
        "liveness", "--symbols", "BTCUSDT", "--intervals", "1m", "--seconds", "1.2",
        "--report", str(report), "--db", str(db_path), env=env,
    )  # fmt: skip
    assert ran.code == 0, ran.out + ran.err
    text = report.read_text()
    summary = text.split("## Summary")[1].split("## Verdict")[0]
    assert summary.index("### USDⓈ-M futures (`usdm`)") < summary.index("### spot (`spot`)")
    assert summary.count("| `btcusdt@kline_1m` | **PASS** |") == 2
    assert f"  - **WebSocket URL:** `{live.ws_url('spot')}`\n" in text
    assert rows(db_path, "SELECT market, ws_url FROM liveness_runs") == [
        ("usdm,spot", f"{live.ws_url('usdm')}, {live.ws_url('spot')}")
    ]
    assert rows(
        db_path,
        "SELECT market, stream, status, closed_seen, rest_mismatches FROM liveness_streams "
        "ORDER BY market DESC",
    ) == [
        ("usdm", "btcusdt@kline_1m", "PASS", 1, 0),
        ("spot", "btcusdt@kline_1m", "PASS", 1, 0),
    ]


def test_a_silent_testnet_route_is_diagnosed_like_mainnets_and_the_right_one_passes(
    testnet: Simulator, db_path: Path, tmp_path: Path
) -> None:
    legacy = testnet.ws_url.root  # the testnet's /ws without /market: acknowledged, silent
    args = ("liveness", "--network", "testnet", "--symbols", "BTCUSDT", "--intervals", "1m",
            "--seconds", "1", "--db", str(db_path))  # fmt: skip
    env = {"KLINES_REST_URL": testnet.url}
    failed = klines(*args, "--report", str(tmp_path / "r.md"), env={**env, "KLINES_WS_URL": legacy})
    assert failed.code == 1, failed.out + failed.err
    assert "verdict: FAIL (testnet, run" in failed.out
    assert "subscribed but silent" in failed.out and "lacks the /market route" in failed.out
    assert "KLINES_WS_URL=wss://fstream.binancefuture.com/market" in failed.out
    text = (tmp_path / "r.md").read_text()
    assert "- **network:** testnet\n- **markets:** USDⓈ-M futures (`usdm`)\n" in text
    assert f"{legacy} has no /market route" in text
    healthy = klines(*args, env={**env, "KLINES_WS_URL": testnet.ws_url("usdm")})
    assert healthy.code == 0, healthy.out + healthy.err
    assert rows(
        db_path, "SELECT network, market, verdict FROM liveness_runs ORDER BY started_at"
    ) == [("testnet", "usdm", "FAIL"), ("testnet", "usdm", "PASS")]
    assert rows(db_path, "SELECT value FROM warehouse_info WHERE key = 'network'") == [("testnet",)]


def mainnet_file(path: Path) -> bytes:
    with Warehouse(path).connect() as con:
        claim_network(con, "mainnet", str(path))
    return path.read_bytes()


def test_a_testnet_run_into_a_mainnet_file_is_refused_and_the_file_untouched(
    testnet: Simulator, db_path: Path
) -> None:
    before = mainnet_file(db_path)
    ran = klines(
        "liveness", "--symbols", "BTCUSDT", "--intervals", "1m", "--seconds", "1",
        "--db", str(db_path),
        env={"KLINES_NETWORK": "testnet", "KLINES_WS_URL": testnet.ws_url,
             "KLINES_REST_URL": testnet.url},
    )  # fmt: skip
    assert ran.code == 2
    assert ran.err.strip().count("\n") == 0
    assert "holds mainnet data and this run is for the testnet" in ran.err
    assert db_path.read_bytes() == before
    # a deployment's run (no command line in front) is refused by the flow itself
    with pytest.raises(NetworkMismatch):
        ws_liveness(
            symbols=["BTCUSDT"], intervals=["1m"], seconds=1.0, db=str(db_path),
            ws_url=testnet.ws_url, rest_url=testnet.url, network="testnet",
        )  # fmt: skip
    assert db_path.read_bytes() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--market", "spot", "--mark-price"], "--mark-price: spot has no mark-price stream"),
        (["--market", "usdm,spot", "--mark-price"], "--mark-price: spot has no mark-price"),
        (["--market", "usdm,coinm", "--ws-url", "ws://127.0.0.1:1/market"], "KLINES_WS_URL_COINM"),
        (["--market", "options"], "--market 'options': use one of usdm, coinm, spot"),
        (["--network", "devnet"], "--network 'devnet': use one of mainnet, testnet"),
        (["--market", "coinm", "--intervals", "1s"], "invalid interval '1s' for COIN-M futures"),
    ],
)
def test_bad_market_input_exits_2_with_one_line(
    db_path: Path, args: list[str], message: str
) -> None:
    base = ["--symbols", "BTCUSDT", "--intervals", "1m", "--seconds", "1"]
    ran = klines("liveness", *base, *args, "--db", str(db_path))
    assert ran.code == 2, ran.out + ran.err
    assert message in ran.err and ran.err.strip().count("\n") == 0
    assert not db_path.exists()
