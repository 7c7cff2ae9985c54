"""The archive client: paths, planning, checksum and zip checks, CSV parsing, downloads."""

from __future__ import annotations

import hashlib
import io
import zipfile
from decimal import Decimal

import pytest

from exchange.archive import (
    ArchiveClient,
    ArchiveConfig,
    ArchiveFile,
    parse_checksum,
    plan_archive,
    split_month,
    verify_and_unzip,
)
from exchange.errors import ArchiveCorrupt, ArchiveMissing
from simulator import Simulator
from tests.conftest import NOW_MS, ms
from warehouse.parse import ARCHIVE_HEADER, has_header, parse_csv, raw_csv_row

ROW = "1633046400000,43000.10,43100.00,42900.00,43050.50,12.345,1633046459999,531234.5678,321,6.1,262000.1,0"
ROW_US = "1735689600000000,1.5,1.6,1.4,1.55,10,1735689659999999,15.5,3,5,7.75,0"


def zipped(csv: bytes, name: str = "X.csv") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(name, csv)
    return buf.getvalue()


def test_paths_follow_the_real_layout() -> None:
    day = ArchiveFile("BTCUSDT", "1m", "daily", ms("2024-02-03T00:00"), ms("2024-02-04T00:00"))
    assert day.path == "data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-02-03.zip"
    month = ArchiveFile("BTCUSDT", "1M", "monthly", ms("2024-01-01T00:00"), ms("2024-02-01T00:00"))
    assert month.path == "data/futures/um/monthly/klines/BTCUSDT/1mo/BTCUSDT-1mo-2024-01.zip"


def test_plan_takes_whole_months_then_whole_days_and_leaves_today_and_partial_days() -> None:
    files = plan_archive(
        "BTCUSDT", "1m", ms("2026-08-30T12:00"), ms("2026-11-02T00:07"), ms("2026-11-02T00:07")
    )
    names = [f.name for f in files]
    assert names == [
        "BTCUSDT-1m-2026-08-31.zip",
        "BTCUSDT-1m-2026-09.zip",
        "BTCUSDT-1m-2026-10.zip",
        "BTCUSDT-1m-2026-11-01.zip",
    ]
    assert plan_archive("BTCUSDT", "1w", 0, ms("2026-11-01T00:00"), NOW_MS) == []
    assert len(split_month(files[1])) == 30


def test_checksum_text_and_zip_are_verified() -> None:
    data = zipped(b"1,2\n")
    digest = hashlib.sha256(data).hexdigest()
    assert parse_checksum(f"{digest}  A.zip\n", "A.zip") == digest
    assert verify_and_unzip(data, digest, "A.zip") == b"1,2\n"
    with pytest.raises(ArchiveCorrupt, match="differs"):
        verify_and_unzip(data, "0" * 64, "A.zip")
    broken = data[:20]
    with pytest.raises(ArchiveCorrupt, match="does not open"):
        verify_and_unzip(broken, hashlib.sha256(broken).hexdigest(), "A.zip")
    for text in ("", "xyz  A.zip", f"{digest}  B.zip"):
        with pytest.raises(ArchiveCorrupt):
            parse_checksum(text, "A.zip")


def test_a_member_that_inflates_wrong_or_comes_stored_is_caught_or_read() -> None:
    for method in (zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", method) as zf:
            zf.writestr("A.csv", b"1,2\n" * 1000)
        good = buf.getvalue()
        assert verify_and_unzip(good, hashlib.sha256(good).hexdigest(), "A.zip") == b"1,2\n" * 1000
        bad = bytearray(good)
        bad[45] ^= 0xFF  # a byte of the member's data: the zip's directory still opens
        with pytest.raises(ArchiveCorrupt, match="does not open"):
            verify_and_unzip(bytes(bad), hashlib.sha256(bad).hexdigest(), "A.zip")


def test_csv_header_detection_microseconds_and_exact_decimals() -> None:
    with_header = f"{ARCHIVE_HEADER}\r\n{ROW}\r\n".encode()
    assert has_header(with_header) and not has_header(ROW.encode())
    batch = parse_csv([ROW.encode(), with_header, ROW_US.encode() + b"\n\n"])
    assert list(batch["page"]) == [0, 1, 2] and list(batch["row"]) == [0, 0, 0]
    assert batch["open_time_ms"].tolist() == [1633046400000, 1633046400000, 1735689600000]
    assert batch["close_time_ms"].tolist()[2] == 1735689659999
    assert batch["quote_volume"][0] == Decimal("531234.5678")
    assert batch["n_fields"].tolist() == [12, 12, 12]
    assert raw_csv_row([ROW.encode(), with_header], 1, 0) == ROW
    bad = parse_csv([b"1633046400000,1.123456789,2,1,1,1,1633046459999,1,1,1,1,0\n1,2\n"])
    assert bad["open"].isna().tolist() == [True, False]  # too many places: not rounded
    assert bad["n_fields"].tolist() == [12, 2]
    assert len(parse_csv([ARCHIVE_HEADER.encode(), b""])) == 0


def test_download_retries_a_corrupt_file_once_then_reports_it(sim: Simulator) -> None:
    client = ArchiveClient(ArchiveConfig(base_url=sim.url, backoff_base=0.001))
    f = ArchiveFile("BTCUSDT", "1m", "daily", ms("2026-10-05T00:00"), ms("2026-10-06T00:00"))
    assert client.fetch_csv(f).startswith(ARCHIVE_HEADER.encode())

    sim.archive.faults.update(corrupt_zip={f.name: 1})
    assert client.fetch_csv(f).count(b"\n") > 1000
    assert client.stats.retries["corrupt"] == 1

    sim.archive.faults.update(bad_checksum=[f.name])
    with pytest.raises(ArchiveCorrupt):
        client.fetch_csv(f)
    assert client.stats.corrupt == 1

    sim.archive.faults.update(missing=[f.name])
    with pytest.raises(ArchiveMissing):
        client.fetch_csv(f)
    today = ArchiveFile("BTCUSDT", "1m", "daily", ms("2026-11-02T00:00"), ms("2026-11-03T00:00"))
    with pytest.raises(ArchiveMissing):
        client.fetch_csv(today)
    assert sim.stats.snapshot()["weight_used_total"] == 0
