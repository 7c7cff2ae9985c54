"""The bulk archive of every market and kind: the real layout, spot's microseconds and
missing header, COIN-M's header, files equal to REST, faults by path."""

from __future__ import annotations

import hashlib
import io
import zipfile

import requests

from simulator import Simulator

from .conftest import NOW, ms


def get(sim: Simulator, path: str) -> requests.Response:
    assert sim.archive_url is not None
    return requests.get(f"{sim.archive_url}/{path}", timeout=30)


def unzip(body: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        (name,) = zf.namelist()
        return zf.read(name).decode().splitlines()


def csv(rows: list[list]) -> list[str]:
    return [",".join(map(str, r)) for r in rows]


def test_spot_files_have_no_header_and_microseconds_from_2025(sim: Simulator) -> None:
    path = "data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2026-10-05.zip"
    body = get(sim, path).content
    checksum = get(sim, path + ".CHECKSUM").text
    assert checksum == f"{hashlib.sha256(body).hexdigest()}  BTCUSDT-1m-2026-10-05.zip\n"
    lines = unzip(body)
    truth = sim.market.closed_klines(
        "BTCUSDT", "1m", ms(2026, 10, 5), ms(2026, 10, 6), NOW, market="spot"
    )
    assert lines == csv([[r[0] * 1000, *r[1:6], r[6] * 1000 + 999, *r[7:]] for r in truth])
    assert lines[0].startswith(f"{ms(2026, 10, 5) * 1000},")
    old = unzip(get(sim, "data/spot/monthly/klines/ETHUSDT/1d/ETHUSDT-1d-2024-12.zip").content)
    assert old == csv(
        sim.market.closed_klines(
            "ETHUSDT", "1d", ms(2024, 12, 1), ms(2025, 1, 1), NOW, market="spot"
        )
    )
    seconds = unzip(
        get(sim, "data/spot/daily/klines/PEPEUSDT/1s/PEPEUSDT-1s-2026-10-05.zip").content
    )
    assert len(seconds) == 86_400 and seconds[1].split(",")[0] == str(
        (ms(2026, 10, 5) + 1000) * 1000
    )


def test_coinm_and_price_kind_files_equal_rest_with_the_futures_header(sim: Simulator) -> None:
    day = (ms(2026, 10, 5), ms(2026, 10, 6))
    for path, name, market, kind in [
        ("data/futures/cm/daily/klines/BTCUSD_PERP/1m/BTCUSD_PERP-1m-2026-10-05.zip",
         "BTCUSD_PERP", "coinm", "trade"),
        ("data/futures/cm/daily/indexPriceKlines/BTCUSD/1h/BTCUSD-1h-2026-10-05.zip",
         "BTCUSD", "coinm", "index"),
        ("data/futures/um/daily/premiumIndexKlines/BTCUSDT/5m/BTCUSDT-5m-2026-10-05.zip",
         "BTCUSDT", "usdm", "premium"),
        ("data/futures/um/daily/markPriceKlines/ETHUSDT/1m/ETHUSDT-1m-2026-10-05.zip",
         "ETHUSDT", "usdm", "mark"),
    ]:  # fmt: skip
        interval = path.split("/")[-2]
        lines = unzip(get(sim, path).content)
        assert lines[0].startswith("open_time,open,high,low,close,volume,close_time")
        truth = sim.market.closed_klines(name, interval, *day, NOW, market=market, kind=kind)
        assert lines[1:] == csv(truth), path
    premium = unzip(
        get(
            sim, "data/futures/um/daily/premiumIndexKlines/BTCUSDT/5m/BTCUSDT-5m-2026-10-05.zip"
        ).content
    )
    assert any(",-0." in line for line in premium)
    old = unzip(
        get(sim, "data/futures/cm/monthly/klines/ETHUSD_PERP/1d/ETHUSD_PERP-1d-2021-03.zip").content
    )
    assert old[0].split(",")[0].isdigit() and len(old) == 31


def test_what_the_archive_does_not_have(sim: Simulator) -> None:
    for path in (
        "data/spot/daily/markPriceKlines/BTCUSDT/1m/BTCUSDT-1m-2026-10-05.zip",  # no such kind
        "data/futures/cm/daily/indexPriceKlines/BTCUSD_PERP/1m/BTCUSD_PERP-1m-2026-10-05.zip",
        "data/futures/um/daily/klines/BTCUSDT/1s/BTCUSDT-1s-2026-10-05.zip",  # 1s: spot only
        "data/futures/cm/daily/klines/BTCUSD_261225/1m/BTCUSD_261225-1m-2026-06-25.zip",
        "data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2026-11-02.zip",  # today
        "data/spot/daily/klines/1000PEPEUSDT/1m/1000PEPEUSDT-1m-2026-10-05.zip",
    ):
        assert get(sim, path).status_code == 404, path


def test_faults_by_path_single_out_one_market(sim: Simulator) -> None:
    name = "BTCUSDT-1m-2026-10-05.zip"
    spot = f"data/spot/daily/klines/BTCUSDT/1m/{name}"
    usdm = f"data/futures/um/daily/klines/BTCUSDT/1m/{name}"
    sim.archive.faults.update(
        missing=[spot], corrupt_zip={usdm.replace("klines", "markPriceKlines"): 1}
    )
    assert get(sim, spot).status_code == 404 and get(sim, usdm).status_code == 200
    mark = usdm.replace("klines", "markPriceKlines")
    checksum = get(sim, mark + ".CHECKSUM").text.split()[0]
    broken = get(sim, mark).content
    assert hashlib.sha256(broken).hexdigest() == checksum
    assert unzip(get(sim, mark).content)  # one answer spoilt, then good again
    sim.archive.faults.update(missing=[name])  # by name: every market's file of that name
    assert get(sim, spot).status_code == 404 and get(sim, usdm).status_code == 404
