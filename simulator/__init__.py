"""A local Binance USD-M futures exchange simulator (REST, real HTTP on 127.0.0.1).

Typical use::

    from simulator import Simulator

    with Simulator(frozen_ms=1793577600000) as sim:
        requests.get(f"{sim.url}/fapi/v1/klines", params={"symbol": "BTCUSDT", "interval": "1h"})
"""

from __future__ import annotations

from simulator.clock import SimClock
from simulator.faults import Faults
from simulator.market import INTERVALS, Market, SymbolSpec
from simulator.server import Simulator
from simulator.stats import Stats
from simulator.universe import full_universe

__all__ = [
    "INTERVALS",
    "Faults",
    "Market",
    "SimClock",
    "Simulator",
    "Stats",
    "SymbolSpec",
    "full_universe",
]
