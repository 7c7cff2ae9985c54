"""Benchmark: one connection carrying 200 kline streams.

The simulator runs in its own process (so its CPU is not counted) with 14 symbols x 15
intervals; the client subscribes to 200 of those streams on ONE connection with one
SUBSCRIBE, drains its buffers like a consumer, and we measure:

- events per second received and parsed, and whether any was lost (server-sent count vs
  parsed count, buffer overflow, parse failures);
- client CPU (user + system of this process) per 1,000 events;
- peak memory: the client process's max RSS (and, with ``--trace-memory``, the peak
  Python heap from tracemalloc).

Run: ``uv run python -m bench.ws_throughput [--seconds 10] [--periods 0.25,0.02]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import resource
import time
import tracemalloc
import urllib.request
from typing import Any

from exchange.stream import KlineStreamClient, StreamConfig
from exchange.ws_events import stream_name
from simulator import Market, Simulator, SymbolSpec
from simulator.grid import INTERVALS

NOW_MS = 1793578050000  # 2026-11-02T00:07:30Z
BASES = ("65000", "3200", "600", "150", "42", "17", "9", "2.5", "1.5", "0.6", "0.25", "0.1", "0.05", "0.01")  # fmt: skip


def bench_market() -> Market:
    specs = [
        SymbolSpec(f"B{i:02d}USDT", 1_600_000_000_000, base, "0.0001", "0.1")
        for i, base in enumerate(BASES)
    ]
    return Market(specs)


def serve(conn: Any, period: float) -> None:
    """Child process: a simulator with the benchmark market; sends its port, waits."""
    sim = Simulator(bench_market(), frozen_ms=NOW_MS)
    sim.ws.settings.update(event_period_s=period)
    sim.start()
    sim.clock.unfreeze()
    conn.send(sim.port)
    conn.recv()  # stop
    sim.stop()


def streams() -> list[str]:
    names = [stream_name(f"B{i:02d}USDT", iv) for i in range(len(BASES)) for iv in INTERVALS]
    return names[:200]


async def measure(port: int, seconds: float, trace: bool) -> dict[str, Any]:
    config = StreamConfig(base_url=f"ws://127.0.0.1:{port}/market", buffer_size=1000)
    names = streams()
    client = KlineStreamClient(config, names)
    if trace:
        tracemalloc.start()
    async with client:
        await client.wait_subscribed()
        drained = 0

        async def consume() -> None:
            nonlocal drained
            while True:
                await client.data_ready.wait()
                client.data_ready.clear()
                for name in names:
                    drained += len(client.drain(name))

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.5)  # warm-up: every stream has sent
        before = {n: client.stats[n].events for n in names}
        cpu0, t0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        cpu1, t1 = time.process_time(), time.perf_counter()
        after = {n: client.stats[n].events for n in names}
        task.cancel()
    peak = tracemalloc.get_traced_memory()[1] if trace else 0
    tracemalloc.stop()
    events = sum(after.values()) - sum(before.values())
    stats = list(client.stats.values())
    return {
        "streams": len(names),
        "connections": len(client.connections),
        "events": events,
        "events_per_s": events / (t1 - t0),
        "cpu_ms_per_1000_events": (cpu1 - cpu0) * 1000 / max(events, 1) * 1000,
        "cpu_share": (cpu1 - cpu0) / (t1 - t0),
        "parsed_total": sum(s.events for s in stats),
        "parse_failures": sum(s.parse_failures for s in stats),
        "overflow": sum(s.overflow for s in stats),
        "streams_silent": sum(1 for s in stats if s.events == 0),
        "peak_traced_mib": peak / 2**20 if trace else None,
        "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run(period: float, seconds: float, trace: bool = False) -> dict[str, Any]:
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=serve, args=(child, period), daemon=True)
    proc.start()
    port = parent.recv()
    try:
        result = asyncio.run(measure(port, seconds, trace))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sim/ws", timeout=5) as resp:
            sent = json.load(resp).get("events", 0)
        result["server_sent_total"] = sent
        result["lost"] = sent - result["parsed_total"]
    finally:
        parent.send("stop")
        proc.join(10)
    result["period_s"] = period
    return result


def parse_only(count: int = 200_000) -> dict[str, Any]:
    """The client's per-frame path without a network: parse + measure + buffer, one core."""
    from simulator.ws import kline_event

    market = bench_market()
    names = streams()
    frames = []
    for name in names:
        symbol, interval = name.split("@")[0].upper(), name.split("_")[-1]
        row = market.latest_klines(symbol, interval, NOW_MS, NOW_MS, 1)
        if row:
            event = kline_event(symbol, interval, row[0], NOW_MS, False)
            frames.append(json.dumps({"stream": name, "data": event}, separators=(",", ":")))
    client = KlineStreamClient(StreamConfig(buffer_size=1000), names)
    n = 0
    cpu0 = time.process_time()
    while n < count:
        for text in frames:
            client.receive(text, time.time() * 1000)
            n += 1
        for name in names:
            client.drain(name)
    cpu = time.process_time() - cpu0
    return {"events": n, "events_per_cpu_s": n / cpu, "cpu_ms_per_1000_events": cpu / n * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--periods", default="0.25,0.02", help="server event periods, seconds")
    parser.add_argument(
        "--trace-memory",
        action="store_true",
        help="also measure the peak Python heap with tracemalloc (slows the client: "
        "its CPU numbers are then not representative)",
    )
    args = parser.parse_args()
    p = parse_only()
    print(
        f"parse path alone: {p['events_per_cpu_s']:,.0f} events per CPU second "
        f"({p['cpu_ms_per_1000_events']:.1f} ms per 1,000 events)",
        flush=True,
    )
    for period in (float(p) for p in args.periods.split(",")):
        r = run(period, args.seconds, args.trace_memory)
        print(
            f"period {period:g} s: {r['streams']} streams on {r['connections']} connection, "
            f"{r['events_per_s']:,.0f} events/s parsed, lost {r['lost']} "
            f"(sent {r['server_sent_total']}, parsed {r['parsed_total']}, overflow {r['overflow']}, "
            f"parse failures {r['parse_failures']}, silent streams {r['streams_silent']}), "
            f"client CPU {r['cpu_ms_per_1000_events']:.1f} ms per 1,000 events "
            f"({r['cpu_share']:.0%} of a core), max RSS {r['max_rss_mib']:.0f} MiB"
            + (
                f", peak Python heap {r['peak_traced_mib']:.1f} MiB"
                if r["peak_traced_mib"] is not None
                else ""
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
