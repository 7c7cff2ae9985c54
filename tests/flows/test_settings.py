"""Settings read from the environment: networks, URLs per market, the weight ledger."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest

from exchange.errors import InvalidInput
from exchange.markets import MARKETS
from flows.settings import Settings


def test_the_weight_ledger_is_on_by_default_in_a_directory_of_this_user_under_tmp() -> None:
    ledger = Settings.from_env({}).rest_config().weight_ledger
    assert ledger == str(Path(tempfile.gettempdir()) / f"klines-weight-{os.getuid()}")


def test_off_gives_each_process_its_own_budget() -> None:
    assert Settings.from_env({"KLINES_WEIGHT_LEDGER": "off"}).rest_config().weight_ledger is None


def test_an_absolute_directory_is_used_as_given(tmp_path: Path) -> None:
    settings = Settings.from_env({"KLINES_WEIGHT_LEDGER": str(tmp_path)})
    assert settings.rest_config().weight_ledger == str(tmp_path)


def test_each_network_has_its_own_urls_and_default_file() -> None:
    main, test = Settings.from_env({}), Settings.from_env({"KLINES_NETWORK": "testnet"})
    usdm, spot = MARKETS["usdm"], MARKETS["spot"]
    assert main.db_path == "data/klines.duckdb" and test.db_path == "data/klines-testnet.duckdb"
    assert main.rest_url_for(usdm) == "https://fapi.binance.com"
    assert test.rest_url_for(usdm) == "https://testnet.binancefuture.com"
    assert test.rest_url_for(spot) == "https://testnet.binance.vision"
    assert main.archive_url_for(spot) == "https://data.binance.vision"
    assert test.archive_url_for(usdm) is None  # the testnet has no bulk archive


def test_a_general_url_serves_every_market_and_a_market_url_only_its_own() -> None:
    settings = Settings.from_env(
        {"KLINES_REST_URL": "http://127.0.0.1:9000", "KLINES_REST_URL_SPOT": "http://h:1"}
    )
    assert settings.rest_url_for(MARKETS["coinm"]) == "http://127.0.0.1:9000"
    assert settings.rest_url_for(MARKETS["spot"]) == "http://h:1"
    # REST elsewhere than Binance: no archive unless one is named for that host
    assert settings.archive_url_for(MARKETS["usdm"]) is None


def test_futures_markets_on_binance_share_one_weight_budget_and_spot_has_its_own() -> None:
    settings = Settings.from_env({})
    keys = {m: settings.rest_config(MARKETS[m]).weight_key for m in ("usdm", "coinm", "spot")}
    assert keys == {
        "usdm": "futures@binance-mainnet",
        "coinm": "futures@binance-mainnet",
        "spot": "spot@binance-mainnet",
    }


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KLINES_NETWORK": "devnet"}, "--network 'devnet': use one of mainnet, testnet"),
        ({"KLINES_REST_URL_COINM": "ftp://x"}, "KLINES_REST_URL_COINM"),
    ],
)
def test_bad_network_settings_name_the_problem(env: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        Settings.from_env(env)
