"""A local Binance exchange simulator on one real port of 127.0.0.1: USDⓈ-M futures
(``/fapi``), COIN-M futures (``/dapi``), spot (``/api``), the bulk archive (``/data``) and
each market's WebSocket streams.

Typical use::

    from simulator import Simulator

    with Simulator(frozen_ms=1793577600000) as sim:
        requests.get(f"{sim.rest_url}/fapi/v1/klines", params={"symbol": "BTCUSDT", "interval": "1h"})
        requests.get(f"{sim.rest_url}/dapi/v1/klines", params={"symbol": "BTCUSD_PERP", "interval": "1h"})
        sim.ws_url("spot")  # ws://127.0.0.1:P/spot
        sim.market.closed_klines("BTCUSD", "1h", start, end, now, market="coinm", kind="index")
"""

from __future__ import annotations

from simulator.clock import SimClock
from simulator.faults import Faults
from simulator.market import (
    CONTRACT_TYPES,
    INTERVALS,
    KINDS,
    MARKETS,
    SPOT_INTERVALS,
    TESTNET_SEED,
    Market,
    SymbolSpec,
)
from simulator.server import Simulator
from simulator.stats import Stats
from simulator.universe import full_universe

__all__ = [
    "CONTRACT_TYPES",
    "INTERVALS",
    "KINDS",
    "MARKETS",
    "SPOT_INTERVALS",
    "TESTNET_SEED",
    "Faults",
    "Market",
    "SimClock",
    "Simulator",
    "Stats",
    "SymbolSpec",
    "full_universe",
]
