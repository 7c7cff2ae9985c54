"""A warehouse file keeps one network's data: recorded by the first write, then checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from warehouse.network import NetworkMismatch, check_network, claim_network, recorded_network
from warehouse.store import Warehouse


def test_the_first_run_records_its_network_and_the_other_one_is_refused(db_path: Path) -> None:
    warehouse = Warehouse(db_path)
    with warehouse.connect() as con:
        assert recorded_network(con) is None
        claim_network(con, "testnet", str(db_path))
        claim_network(con, "testnet", str(db_path))  # the same network again: fine
        assert recorded_network(con) == "testnet"
        with pytest.raises(
            NetworkMismatch, match="holds testnet data and this run is for the mainnet"
        ):
            check_network(con, "mainnet", str(db_path))


def test_a_file_from_before_the_record_holds_mainnet_data(db_path: Path) -> None:
    warehouse = Warehouse(db_path)
    with warehouse.connect() as con:
        con.execute(
            "INSERT INTO klines (market, symbol, interval, open_time, close_time, open, high, "
            "low, close, volume, quote_volume, trades, taker_buy_base_volume, "
            "taker_buy_quote_volume, source, ingested_at, run_id) VALUES ('usdm', 'BTCUSDT', "
            "'1m', now(), now(), 1, 1, 1, 1, 0, 0, 0, 0, 0, 'rest', now(), 'old')"
        )
        with pytest.raises(NetworkMismatch, match="use --db data/klines-testnet.duckdb"):
            claim_network(con, "testnet", str(db_path))
        claim_network(con, "mainnet", str(db_path))
        assert recorded_network(con) == "mainnet"
