"""``python -m simulator``: run the Binance simulator (every market) until SIGINT/SIGTERM.

The first line is ``simulator listening on <REST URL>``; the next ones name every market's
bases on that one port (REST paths, the archive, the WebSocket routes).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from datetime import UTC, datetime

from simulator.market import Market
from simulator.server import Simulator
from simulator.universe import full_universe


def parse_instant(text: str) -> int:
    """ISO-8601 instant (``Z`` or offset; naive means UTC) → epoch milliseconds."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def build_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument(
        "--freeze", default=None, help="freeze the clock at this instant, e.g. 2026-11-02T00:07:30Z"
    )
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--latency-jitter-ms", type=float, default=0.0, help="± this much, uniform")
    p.add_argument(
        "--weight-limit", type=int, default=2400, help="futures pool (/fapi and /dapi together)"
    )
    p.add_argument("--weight-window-s", type=float, default=60.0)
    p.add_argument(
        "--spot-weight-limit", type=int, default=None, help="spot pool (default: 2.5 × futures)"
    )
    p.add_argument("--ban-seconds", type=float, default=120.0)
    p.add_argument(
        "--archive-cache-files",
        type=int,
        default=64,
        help="generated archive files kept in memory (a benchmark fetches each once first)",
    )
    p.add_argument(
        "--universe",
        choices=("default", "full"),
        default="default",
        help="default: seven symbols; full: hundreds of contracts, as a real exchangeInfo",
    )
    p.add_argument(
        "--network",
        choices=("mainnet", "testnet"),
        default="mainnet",
        help="testnet: other (synthetic) prices, responses marked, no archive",
    )
    return p


def describe(sim: Simulator) -> list[str]:
    """The lines naming every market's bases (after the first, ``listening on``, line)."""
    archive = sim.archive_url
    return [
        f"  REST, one base for every market (set KLINES_REST_URL): {sim.rest_url}  "
        "(USDⓈ-M /fapi/v1, COIN-M /dapi/v1, spot /api/v3)",
        f"  bulk archive (set KLINES_ARCHIVE_URL): {archive}  (data/futures/um, data/futures/cm, "
        "data/spot)"
        if archive
        else "  bulk archive: none (a testnet has no data.binance.vision)",
        f"  WebSocket USDⓈ-M (set KLINES_WS_URL_USDM): {sim.ws_url('usdm')}",
        f"  WebSocket COIN-M (set KLINES_WS_URL_COINM): {sim.ws_url('coinm')}",
        f"  WebSocket spot (set KLINES_WS_URL_SPOT): {sim.ws_url('spot')}",
        f"  network: {sim.network}",
    ]


def main(argv: list[str] | None = None) -> int:
    """Start the server, print its URL on one line, serve until a signal arrives."""
    args = build_parser().parse_args(argv)
    testnet = args.network == "testnet"
    full = args.universe == "full"
    market = (Market.testnet if testnet else Market)(full_universe()) if full else None
    sim = Simulator(
        market,
        host=args.host,
        port=args.port,
        weight_limit=args.weight_limit,
        weight_window_s=args.weight_window_s,
        ban_seconds=args.ban_seconds,
        frozen_ms=parse_instant(args.freeze) if args.freeze else None,
        spot_weight_limit=args.spot_weight_limit,
        network=args.network,
        archive_cache_files=args.archive_cache_files,
    )
    sim.faults.update(latency_ms=args.latency_ms, latency_jitter_ms=args.latency_jitter_ms)
    done = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        done.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    sim.start()
    print(f"simulator listening on {sim.url}", flush=True)
    print("\n".join(describe(sim)), flush=True)
    try:
        while not done.wait(1.0):
            pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
