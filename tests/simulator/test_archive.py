"""The simulator's bulk archive: the real layout, checksums, headers, faults, no weight."""

from __future__ import annotations

import hashlib
import io
import zipfile
from concurrent.futures import ThreadPoolExecutor

import requests

from simulator import Simulator

from .conftest import NOW, ms

BASE = "data/futures/um"


def get(sim: Simulator, path: str) -> requests.Response:
    return requests.get(f"{sim.url}/{path}", timeout=30)


def unzip(body: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        (name,) = zf.namelist()
        return zf.read(name).decode().splitlines()


def test_daily_file_equals_rest_truth_and_checksum_verifies(sim: Simulator) -> None:
    path = f"{BASE}/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2026-10-05.zip"
    body = get(sim, path).content
    checksum = get(sim, path + ".CHECKSUM").text
    assert checksum == f"{hashlib.sha256(body).hexdigest()}  BTCUSDT-1m-2026-10-05.zip\n"
    lines = unzip(body)
    assert lines[0].startswith("open_time,open,high")
    truth = sim.market.klines("BTCUSDT", "1m", ms(2026, 10, 5), ms(2026, 10, 6) - 1, NOW, 10_000)
    assert lines[1:] == [",".join(map(str, r)) for r in truth]
    assert sim.stats.snapshot()["weight_used_total"] == 0


def test_a_file_never_changes_even_when_asked_at_once_or_rebuilt(sim: Simulator) -> None:
    path = f"{BASE}/daily/klines/ETHUSDT/1m/ETHUSDT-1m-2026-10-07.zip"
    with ThreadPoolExecutor(4) as pool:  # the zip and its checksum at once, twice
        first = list(pool.map(lambda p: get(sim, p).content, [path, path + ".CHECKSUM"] * 2))
    assert first[0] == first[2] and first[1] == first[3]
    assert first[1].split()[0].decode() == hashlib.sha256(first[0]).hexdigest()
    with zipfile.ZipFile(io.BytesIO(first[0])) as zf:  # stamped with its day's end, not now
        assert zf.infolist()[0].date_time == (2026, 10, 8, 0, 0, 0)


def test_old_files_have_no_header_and_monthly_uses_1mo(sim: Simulator) -> None:
    old = unzip(get(sim, f"{BASE}/monthly/klines/ETHUSDT/1h/ETHUSDT-1h-2021-03.zip").content)
    assert old[0].split(",")[0].isdigit() and 700 < len(old) <= 31 * 24
    month = unzip(get(sim, f"{BASE}/monthly/klines/ETHUSDT/1mo/ETHUSDT-1mo-2023-04.zip").content)
    assert month[0].startswith("open_time") and len(month) == 2
    assert int(month[1].split(",")[0]) == ms(2023, 4, 1)


def test_today_unlisted_and_bad_paths_are_404(sim: Simulator) -> None:
    for path in (
        f"{BASE}/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2026-11-02.zip",  # today: not yet
        f"{BASE}/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2026-11.zip",
        f"{BASE}/daily/klines/NEWUSDT/1m/NEWUSDT-1m-2026-10-01.zip",  # before listing
        f"{BASE}/daily/klines/BTCUSDT/1w/BTCUSDT-1w-2026-10-05.zip",  # no daily 1w
        f"{BASE}/daily/klines/BTCUSDT/1m/ETHUSDT-1m-2026-10-05.zip",
    ):
        assert get(sim, path).status_code == 404, path


def test_faults_corrupt_zip_bad_checksum_missing_and_microseconds(sim: Simulator) -> None:
    day = f"{BASE}/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2026-10-05.zip"
    sim.archive.faults.update(corrupt_zip={"BTCUSDT-1m-2026-10-05.zip": 1})
    checksum = get(sim, day + ".CHECKSUM").text.split()[0]
    broken = get(sim, day).content
    assert hashlib.sha256(broken).hexdigest() == checksum  # verifies, but does not open
    try:
        zipfile.ZipFile(io.BytesIO(broken))
        raise AssertionError("expected a broken zip")
    except zipfile.BadZipFile:
        pass
    assert unzip(get(sim, day).content)  # the count was one: good again

    sim.archive.faults.update(bad_checksum=["BTCUSDT-1m-2026-10-05.zip"])
    for _ in range(2):
        digest = get(sim, day + ".CHECKSUM").text.split()[0]
        assert digest != hashlib.sha256(get(sim, day).content).hexdigest()

    requests.post(f"{sim.url}/_sim/archive", json={"missing": ["BTCUSDT-1m-2026-10-05.zip"]})
    assert get(sim, day).status_code == 404

    sim.archive.faults.update(missing=[], bad_checksum=[], microseconds_from_ms=ms(2026, 10, 1))
    first = unzip(get(sim, day).content)[1].split(",")
    assert int(first[0]) == ms(2026, 10, 5) * 1000
    assert int(first[6]) == (ms(2026, 10, 5) + 60_000) * 1000 - 1
