"""`klines ingest` with the bulk archive: equal to the exchange, row for row, either way."""

from __future__ import annotations

from pathlib import Path

import duckdb

from simulator import Simulator
from tests.conftest import NOW_MS, STORED_SQL, ms, truth_rows
from tests.flows.helpers import klines

DAY = 86_400_000


def ingest(sim: Simulator, db: Path, *args: str):
    return klines(
        "ingest", "--db", str(db), "--rest-url", sim.url, *args,
        env={"KLINES_ARCHIVE_URL": sim.url},
    )  # fmt: skip


def stored(db: Path, symbol: str, interval: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(STORED_SQL, [symbol, interval]).fetchall()


def sources_by_day(db: Path, symbol: str, interval: str) -> dict[str, set[str]]:
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        rows = con.execute(
            "SELECT strftime(open_time, '%Y-%m-%d'), list(DISTINCT source ORDER BY source) "
            "FROM klines WHERE symbol = ? AND interval = ? GROUP BY 1 ORDER BY 1",
            [symbol, interval],
        ).fetchall()
    return {day: set(sources) for day, sources in rows}


def ledger(db: Path, symbol: str, interval: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT epoch_ms(gap_start), epoch_ms(gap_end), missing, cause FROM klines_gaps "
            "WHERE symbol = ? AND interval = ? ORDER BY gap_start",
            [symbol, interval],
        ).fetchall()


def klines_requests(sim: Simulator) -> int:
    return sim.stats.snapshot()["requests_by_path"].get("/fapi/v1/klines", 0)


def test_archive_days_and_rest_tail_equal_the_truth_with_their_source(
    sim: Simulator, db_path: Path
) -> None:
    ran = ingest(
        sim, db_path, "--symbols", "BTCUSDT", "--intervals", "1m", "--start",
        "2026-10-29", "--source", "archive",
    )  # fmt: skip
    assert ran.code == 0, ran.out + ran.err
    assert stored(db_path, "BTCUSDT", "1m") == truth_rows(sim.market, "BTCUSDT", "1m", "2026-10-29")
    assert sources_by_day(db_path, "BTCUSDT", "1m") == {
        "2026-10-29": {"archive"},
        "2026-10-30": {"archive"},
        "2026-10-31": {"archive"},
        "2026-11-01": {"archive"},
        "2026-11-02": {"rest"},
    }
    # Only the tail (today) went to REST: one request of 8 closed minutes.
    assert klines_requests(sim) == 1
    # The maintenance window inside an archive day is accounted for, like REST does.
    gaps = ledger(db_path, "BTCUSDT", "1m")
    assert (ms("2026-11-01T03:40:00"), ms("2026-11-01T04:00:00"), 20, "exchange_empty") in gaps
    assert {g[3] for g in gaps} == {"exchange_empty"}
    expected = (NOW_MS - ms("2026-10-29T00:00:00")) // 60_000
    assert sum(g[2] for g in gaps) == expected - len(stored(db_path, "BTCUSDT", "1m"))
    assert "from_archive" in ran.out and "archive requests" in ran.out


def test_corrupt_zip_and_bad_checksum_are_retried_once_reported_and_loaded_over_rest(
    sim: Simulator, db_path: Path
) -> None:
    corrupt, bad, missing = (
        "BTCUSDT-1m-2026-10-30.zip",
        "BTCUSDT-1m-2026-10-29.zip",
        "BTCUSDT-1m-2026-10-31.zip",
    )
    sim.archive.faults.update(corrupt_zip=[corrupt], bad_checksum=[bad], missing=[missing])
    ran = ingest(
        sim, db_path, "--symbols", "BTCUSDT", "--intervals", "1m", "--start",
        "2026-10-28T12:00Z", "--source", "archive",
    )  # fmt: skip
    assert ran.code == 0, ran.out + ran.err
    assert stored(db_path, "BTCUSDT", "1m") == truth_rows(
        sim.market, "BTCUSDT", "1m", "2026-10-28T12:00"
    )
    assert sources_by_day(db_path, "BTCUSDT", "1m") == {
        "2026-10-28": {"rest"},  # a partial day
        "2026-10-29": {"rest"},
        "2026-10-30": {"rest"},
        "2026-10-31": {"rest"},
        "2026-11-01": {"archive"},
        "2026-11-02": {"rest"},
    }
    zips = [p.rsplit("/", 1)[1] for p in sim.archive.requests if p.endswith(".zip")]
    assert zips.count(corrupt) == 2 and zips.count(bad) == 2  # retried once
    asked = [p.rsplit("/", 1)[1] for p in sim.archive.requests]
    assert asked.count(missing + ".CHECKSUM") == 1 and asked.count(missing) == 1  # 404: no retry
    assert "2 archive files failed verification" in ran.out


def test_a_corrupt_download_that_heals_on_the_retry_stays_archive(
    sim: Simulator, db_path: Path
) -> None:
    sim.archive.faults.update(corrupt_zip={"BTCUSDT-1m-2026-10-31.zip": 1})
    ran = ingest(
        sim, db_path, "--symbols", "BTCUSDT", "--intervals", "1m", "--start", "2026-10-31",
        "--end", "2026-11-01", "--source", "archive",
    )  # fmt: skip
    assert ran.code == 0, ran.out + ran.err
    assert sources_by_day(db_path, "BTCUSDT", "1m") == {"2026-10-31": {"archive"}}
    assert klines_requests(sim) == 0
    assert "retries: archive corrupt 1" in ran.out


def test_source_rest_sends_no_archive_request(sim: Simulator, db_path: Path) -> None:
    ran = ingest(
        sim, db_path, "--symbols", "BTCUSDT", "--intervals", "1m", "--start", "2026-10-30",
        "--source", "rest",
    )  # fmt: skip
    assert ran.code == 0, ran.out + ran.err
    assert sim.archive.requests == []
    assert sources_by_day(db_path, "BTCUSDT", "1m").keys() >= {"2026-10-30"}
    assert {s for v in sources_by_day(db_path, "BTCUSDT", "1m").values() for s in v} == {"rest"}


def test_old_files_without_header_and_microsecond_files_load_exactly(
    sim: Simulator, db_path: Path
) -> None:
    # 1h monthly files: 2022-04 and 2022-05 have no header row, 2022-06 on have one;
    # files from 2022-07 carry microsecond timestamps.
    sim.archive.faults.update(microseconds_from_ms=ms("2022-07-01T00:00:00"))
    ran = ingest(
        sim, db_path, "--symbols", "ETHUSDT", "--intervals", "1h", "--start", "2022-04-01",
        "--end", "2022-08-01", "--source", "archive",
    )  # fmt: skip
    assert ran.code == 0, ran.out + ran.err
    end = ms("2022-08-01T00:00:00")
    assert stored(db_path, "ETHUSDT", "1h") == truth_rows(
        sim.market, "ETHUSDT", "1h", "2022-04-01", end
    )
    assert {s for v in sources_by_day(db_path, "ETHUSDT", "1h").values() for s in v} == {"archive"}
    assert klines_requests(sim) == 0
    assert NOW_MS > end


def test_auto_takes_full_pages_from_the_archive_and_small_files_from_rest(
    sim: Simulator, db_path: Path
) -> None:
    ran = ingest(
        sim, db_path, "--symbols", "BTCUSDT", "--intervals", "1m,1h", "--start", "2026-09-28",
    )  # fmt: skip
    assert ran.code == 0, ran.out + ran.err
    for interval in ("1m", "1h"):
        assert stored(db_path, "BTCUSDT", interval) == truth_rows(
            sim.market, "BTCUSDT", interval, "2026-09-28"
        )
    # 1h: October's monthly file (744 candles) is worth it; daily 1h files (24) are not.
    assert sources_by_day(db_path, "BTCUSDT", "1h")["2026-10-15"] == {"archive"}
    assert sources_by_day(db_path, "BTCUSDT", "1h")["2026-09-29"] == {"rest"}
    assert sources_by_day(db_path, "BTCUSDT", "1m")["2026-09-29"] == {"archive"}
    assert DAY


def test_series_load_together_each_around_its_own_holes_and_every_file_is_fetched_once(
    sim: Simulator, db_path: Path
) -> None:
    """Four series share batches. October's monthly files of three are not published yet,
    so their days come instead; one of them lacks a day, one has a corrupt day. Each series
    equals the exchange, its holes come over REST, and no file is downloaded twice (bar
    the one retry of a corrupt file), although series stop at their holes and go on after."""
    missing, corrupt = "ETHUSDT-1m-2026-10-10.zip", "BNBUSDT-1m-2026-10-20.zip"
    late = [f"{s}-1m-2026-10.zip" for s in ("ETHUSDT", "BNBUSDT", "SOLUSDT")]
    sim.archive.faults.update(missing=[missing, *late], corrupt_zip=[corrupt])
    symbols = ("BTCUSDT", "ETHUSDT", "BNBUSDT", "SOLUSDT")
    ran = ingest(
        sim, db_path, "--symbols", ",".join(symbols), "--intervals", "1m",
        "--start", "2026-09-01", "--source", "archive",
    )  # fmt: skip
    assert ran.code == 0, ran.out + ran.err
    for symbol in symbols:
        assert stored(db_path, symbol, "1m") == truth_rows(sim.market, symbol, "1m", "2026-09-01")
        assert {g[3] for g in ledger(db_path, symbol, "1m")} <= {"exchange_empty"}
    assert sources_by_day(db_path, "ETHUSDT", "1m")["2026-10-10"] == {"rest"}
    assert sources_by_day(db_path, "ETHUSDT", "1m")["2026-10-11"] == {"archive"}
    assert sources_by_day(db_path, "BNBUSDT", "1m")["2026-10-20"] == {"rest"}
    assert sources_by_day(db_path, "SOLUSDT", "1m")["2026-10-15"] == {"archive"}  # a daily file
    zips = [p.rsplit("/", 1)[1] for p in sim.archive.requests if p.endswith(".zip")]
    assert zips.count(corrupt) == 2
    assert all(zips.count(name) == 1 for name in set(zips) - {corrupt}), sorted(zips)


def test_a_rerun_downloads_only_the_files_a_killed_run_did_not_load_whole(
    sim: Simulator, db_path: Path
) -> None:
    """A backfill killed halfway committed each series' files in time order; run again with
    the same range, it downloads only what is missing and ends with the same warehouse."""
    args = ("--symbols", "BTCUSDT,ETHUSDT", "--intervals", "1m", "--start", "2026-10-25",
            "--source", "archive")  # fmt: skip
    assert ingest(sim, db_path, *args).code == 0
    whole = {s: stored(db_path, s, "1m") for s in ("BTCUSDT", "ETHUSDT")}
    with duckdb.connect(str(db_path)) as con:  # as if killed before ETHUSDT's last days
        for table in ("klines", "klines_gaps"):
            column = "open_time" if table == "klines" else "gap_start"
            con.execute(
                f"DELETE FROM {table} WHERE symbol = 'ETHUSDT' "
                f"AND {column} >= '2026-10-30T00:00:00Z'"
            )
    sim.archive.reset()
    ran = ingest(sim, db_path, *args)
    assert ran.code == 0, ran.out + ran.err
    assert {s: stored(db_path, s, "1m") for s in whole} == whole
    zips = sorted(p.rsplit("/", 1)[1] for p in sim.archive.requests if p.endswith(".zip"))
    assert zips == [f"ETHUSDT-1m-2026-10-{day}.zip" for day in (30, 31)] + [
        "ETHUSDT-1m-2026-11-01.zip"
    ]


def test_files_held_whole_are_not_skipped_past_a_range_before_them_that_is_not(
    sim: Simulator, db_path: Path
) -> None:
    """A second run that starts earlier than the first must load the hours before the
    first run's start, although every file after them is already whole."""
    base = ("--symbols", "BTCUSDT", "--intervals", "1m", "--source", "archive")
    assert ingest(sim, db_path, *base, "--start", "2026-10-29T12:00Z").code == 0
    ran = ingest(sim, db_path, *base, "--start", "2026-10-29T06:00Z")
    assert ran.code == 0, ran.out + ran.err
    assert stored(db_path, "BTCUSDT", "1m") == truth_rows(
        sim.market, "BTCUSDT", "1m", "2026-10-29T06:00"
    )
