"""A process that sends klines requests as fast as its weight budget lets it (for tests).

``python -m tests.exchange.hammer URL LEDGER_DIR|off SHARE REQUESTS THREADS``: reads the
exchange's limit and clock, prints ``ready``, waits for a line on stdin, sends REQUESTS
klines requests (weight 1) from THREADS threads, then prints how many full pages it got.
"""

from __future__ import annotations

import json
import sys
from concurrent.futures import ThreadPoolExecutor

from exchange.config import RestConfig
from exchange.rest import RestClient

START_MS = 1_793_491_200_000  # 2026-11-01T00:00Z


def main(url: str, ledger: str, share: str, requests: str, threads: str) -> None:
    config = RestConfig(
        base_url=url,
        weight_share=float(share),
        weight_ledger=None if ledger == "off" else ledger,
        workers=int(threads),
    )
    client = RestClient(config)
    client.exchange_info()
    client.server_time_ms()
    print("ready", flush=True)
    sys.stdin.readline()
    starts = [START_MS + i * 60_000 for i in range(int(requests))]
    with ThreadPoolExecutor(int(threads)) as pool:
        pages = list(
            pool.map(lambda ms: client.klines_page("BTCUSDT", "1m", ms, ms + 600_000, 5), starts)
        )
    print(json.dumps({"pages": sum(page.rows == 5 for page in pages)}))


if __name__ == "__main__":
    main(*sys.argv[1:])
