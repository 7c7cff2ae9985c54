"""Help texts of the options several commands share."""

from __future__ import annotations

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
