"""Weight budgets of separate processes share one window count through the host's ledger.

Each budget here opens the ledger file itself, as a separate process would, so the
``flock`` between them is real; their clocks are fake.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from exchange.config import RestConfig
from exchange.errors import InvalidInput, IpBanned
from exchange.hostbudget import RECORD_SIZE, HostLedger, LedgerEntry, ledger_name
from exchange.markets import MARKETS
from exchange.ratelimit import WeightBudget
from exchange.rest import RestClient
from tests.exchange.fake_clock import FakeClock

ROOT = Path(__file__).resolve().parents[2]
WINDOW_MS = 10_000
ALLOWANCE = 50  # limit 100 × share 0.5
FIRST_WINDOW = 100_000  # FakeClock() starts at 1,000,000 s: the start of window 100,000
FULL = LedgerEntry(WINDOW_MS, FIRST_WINDOW, ALLOWANCE)
FULL_EDITED = FULL.encode()[:24] + bytes([ALLOWANCE + 1]) + FULL.encode()[25:]  # used: 51


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "ledgers" / "127.0.0.1_8080.weight"


def budget(clock: FakeClock, path: Path | None) -> WeightBudget:
    """One process's budget; ``path`` None: no ledger."""
    return WeightBudget(
        limit=100,
        window_ms=WINDOW_MS,
        share=0.5,
        clock=clock.time,
        sleep=clock.sleep,
        ledger=HostLedger(path) if path else None,
    )


def stored(path: Path) -> LedgerEntry | None:
    return LedgerEntry.decode(path.read_bytes()[:RECORD_SIZE])


def weight_per_window(budgets: list[WeightBudget], clock: FakeClock) -> Counter[int]:
    """The budgets take turns to send 30 requests each of weight 2; weight sent per window."""
    sent: Counter[int] = Counter()
    for _ in range(30):
        for b in budgets:
            b.acquire(2)
            sent[int(clock.now * 1000) // WINDOW_MS] += 2
    return sent


def test_two_processes_sharing_a_ledger_stay_within_one_allowance_together(path: Path) -> None:
    clock = FakeClock()
    sent = weight_per_window([budget(clock, path), budget(clock, path)], clock)
    assert list(sent.values()) == [ALLOWANCE, ALLOWANCE, 20]


def test_without_the_ledger_each_process_uses_the_whole_allowance(path: Path) -> None:
    clock = FakeClock()
    sent = weight_per_window([budget(clock, None), budget(clock, None)], clock)
    assert list(sent.values()) == [2 * ALLOWANCE, 20]


def test_a_new_window_starts_the_shared_count_from_zero(path: Path) -> None:
    clock = FakeClock(1_000_003.0)  # 3 s into a 10 s window
    a, b = budget(clock, path), budget(clock, path)
    for _ in range(25):
        a.acquire(2)
    b.acquire(2)
    assert len(clock.slept) == 1 and 7.0 < clock.slept[0] < 7.1
    for _ in range(24):
        a.acquire(2)
    assert len(clock.slept) == 1
    assert stored(path) == LedgerEntry(WINDOW_MS, FIRST_WINDOW + 1, 50)


def test_weight_reported_by_the_exchange_to_one_process_counts_for_the_other(path: Path) -> None:
    clock = FakeClock()
    a, b = budget(clock, path), budget(clock, path)
    a.observe(49)
    b.acquire(1)
    assert clock.slept == []
    b.acquire(1)
    assert len(clock.slept) == 1


def test_a_429_pause_seen_by_one_process_pauses_the_other(path: Path) -> None:
    clock = FakeClock()
    a, b = budget(clock, path), budget(clock, path)
    a.pause(3.0)
    b.acquire(1)
    assert len(clock.slept) == 1 and 3.0 < clock.slept[0] < 3.1


def test_a_ban_recorded_by_one_process_stops_the_other_at_once(path: Path) -> None:
    clock = FakeClock()
    a, b = budget(clock, path), budget(clock, path)
    until = int((clock.now + 120) * 1000)
    a.ban(until)
    with pytest.raises(IpBanned) as banned:
        b.acquire(1)
    assert banned.value.until_ms == b.banned_until_ms == until
    clock.now += 121
    b.acquire(1)


def test_a_process_whose_clock_is_a_little_behind_counts_in_the_later_window(
    path: Path,
) -> None:
    ahead = FakeClock(1_000_010.001)  # 1 ms into the next window
    behind = FakeClock(1_000_009.996)  # 4 ms before it
    a, b = budget(ahead, path), budget(behind, path)
    for _ in range(25):
        a.acquire(2)
    b.acquire(2)
    assert len(behind.slept) == 1 and behind.slept[0] > 10  # to the end of the later window


@pytest.mark.parametrize(
    "content",
    [
        b"",
        FULL.encode()[:40],
        FULL_EDITED,
        bytes(range(256)),
    ],
    ids=["empty", "truncated", "edited without its checksum", "binary garbage"],
)
def test_a_corrupt_ledger_reads_as_empty_and_is_repaired(path: Path, content: bytes) -> None:
    clock = FakeClock()
    b = budget(clock, path)
    path.write_bytes(content)
    b.acquire(2)
    assert clock.slept == []
    assert stored(path) == LedgerEntry(WINDOW_MS, FIRST_WINDOW, 2)


def test_an_intact_ledger_is_obeyed(path: Path) -> None:
    clock = FakeClock()
    b = budget(clock, path)
    path.write_bytes(FULL.encode())
    b.acquire(2)
    assert len(clock.slept) == 1


def test_an_entry_written_against_another_clock_is_ignored(path: Path) -> None:
    clock = FakeClock()
    b = budget(clock, path)
    later = int((clock.now + 86_400) * 1000)  # e.g. a simulator frozen a day ahead
    path.write_bytes(LedgerEntry(WINDOW_MS, later // WINDOW_MS, 99, later, later).encode())
    b.acquire(2)
    assert clock.slept == []


def test_a_process_killed_while_holding_the_lock_releases_it(path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from exchange.hostbudget import HostLedger\n"
            "with HostLedger(Path(sys.argv[1])).locked():\n"
            "    print('locked', flush=True); sys.stdin.read()",
            str(path),
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
    holder.kill()
    holder.wait()
    clock = FakeClock()
    budget(clock, path).acquire(2)  # blocks for ever if the dead holder kept the lock
    assert stored(path) == LedgerEntry(WINDOW_MS, FIRST_WINDOW, 2)


@pytest.mark.parametrize(
    ("market", "url", "name"),
    [
        ("usdm", "https://fapi.binance.com", "futures@fapi.binance.com_443.weight"),
        ("coinm", "http://127.0.0.1:8080/", "futures@127.0.0.1_8080.weight"),
        ("usdm", "http://127.0.0.1:8080", "futures@127.0.0.1_8080.weight"),
        ("spot", "http://127.0.0.1:8080", "spot@127.0.0.1_8080.weight"),
        ("usdm", "https://Proxy.Example:8443/fapi", "futures@proxy.example_8443.weight"),
        ("usdm", "http://[::1]:9000", "futures@__1_9000.weight"),
    ],
)
def test_one_ledger_file_per_weight_pool_rest_host_and_port(
    market: str, url: str, name: str
) -> None:
    config = RestConfig(market=MARKETS[market], base_url=url)
    assert ledger_name(config.weight_key) == name


def test_a_client_and_its_copy_in_a_dask_worker_use_the_ledger_of_their_host(
    tmp_path: Path,
) -> None:
    client = RestClient(RestConfig(base_url="http://127.0.0.1:9/", weight_ledger=str(tmp_path)))
    copy = pickle.loads(pickle.dumps(client))
    assert client.budget.ledger is not None and copy.budget.ledger is not None
    assert (
        copy.budget.ledger.path
        == client.budget.ledger.path
        == tmp_path / "futures@127.0.0.1_9.weight"
    )


def test_without_a_ledger_directory_the_client_keeps_its_own_count() -> None:
    assert RestClient(RestConfig()).budget.ledger is None


def test_a_ledger_that_cannot_be_created_names_the_path_and_the_fix(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(InvalidInput, match="cannot use the weight ledger .*a-file.*KLINES_WEIGHT"):
        HostLedger.for_key(blocker / "ledgers", "futures@fapi.binance.com:443")
