"""Which network a warehouse file holds: mainnet and testnet data never share a file.

The testnet's prices are synthetic. A file records the network of the first run that
writes to it (``warehouse_info``); a run for the other network is refused before it sends
a request or writes anything. Files from before the record existed hold mainnet data (the
only network then).
"""

from __future__ import annotations

import duckdb

from exchange.errors import InvalidInput


class NetworkMismatch(InvalidInput):
    """The warehouse file holds another network's data than the run's."""


def recorded_network(con: duckdb.DuckDBPyConnection) -> str | None:
    """The network the file's data comes from; None for a file that holds nothing yet."""
    try:
        row = con.execute("SELECT value FROM warehouse_info WHERE key = 'network'").fetchone()
    except duckdb.CatalogException:  # a file from before the record (read-only: unmigrated)
        row = None
    if row:
        return str(row[0])
    try:
        held = con.execute("SELECT count(*) FROM (SELECT 1 FROM klines LIMIT 1)").fetchone()
    except duckdb.CatalogException:
        return None
    return "mainnet" if held and held[0] else None


def check_network(con: duckdb.DuckDBPyConnection, network: str, path: str) -> None:
    """Raises NetworkMismatch when the file holds the other network's data."""
    recorded = recorded_network(con)
    if recorded is not None and recorded != network:
        own = "data/klines.duckdb" if network == "mainnet" else f"data/klines-{network}.duckdb"
        raise NetworkMismatch(
            f"{path} holds {recorded} data and this run is for the {network}: they never mix; "
            f"use --db {own} (the {network}'s default) or --network {recorded}"
        )


def claim_network(con: duckdb.DuckDBPyConnection, network: str, path: str) -> None:
    """Check ``network`` against the file's, and record it in a file that has none yet
    (a writable, migrated connection)."""
    check_network(con, network, path)
    con.execute(
        "INSERT INTO warehouse_info VALUES ('network', ?) ON CONFLICT DO NOTHING",
        [recorded_network(con) or network],
    )
