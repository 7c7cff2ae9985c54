"""The options several commands share, and their help texts."""

from __future__ import annotations

import click

MARKET_HELP = (
    "usdm (USDⓈ-M futures), coinm (COIN-M futures) or spot [env KLINES_MARKET; default usdm]."
)
NETWORK_HELP = (
    "mainnet or testnet [env KLINES_NETWORK; default mainnet]; a warehouse file keeps one "
    "network's data only."
)
DELIVERY_HELP = "Let patterns and ALL select delivery (quarterly) contracts too."
TOP_HELP = (
    "Keep the N selected symbols with the highest 24-hour quote volume "
    "(none named: every TRADING perpetual)."
)
SYMBOLS_HELP = (
    "Comma-separated names and patterns, e.g. BTCUSDT,ETHUSDT or '*USDT','1000*' or ALL "
    "(patterns select TRADING perpetuals when the run starts)."
)

DB = click.option(
    "--db", default=None, help="DuckDB file [env KLINES_DB; default data/klines.duckdb]."
)
DEBUG = click.option("--debug", is_flag=True, help="Show tracebacks.")
MARKET = click.option("--market", default=None, help=MARKET_HELP)
NETWORK = click.option("--network", default=None, help=NETWORK_HELP)
FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)
