"""Mark, index and premium index prices end to end: REST and the archive into ``price_klines``,
each equal to the simulator's truth digit for digit, with their own ledger and run log."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb

from flows.ingest import ingest_klines
from simulator import Market, Simulator
from tests.conftest import NOW_MS, ms
from tests.flows.helpers import checksum, ingest

STORED = """
SELECT epoch_ms(open_time), open::VARCHAR, high::VARCHAR, low::VARCHAR, close::VARCHAR,
       epoch_ms(close_time)
FROM price_klines WHERE market = ? AND kind = ? AND symbol = ? AND interval = ?
ORDER BY open_time
"""
START = "2026-11-01T21:00:00"  # three hours of 1m before the frozen clock: one REST page
LONG = "2026-11-01T15:00:00"  # nine hours: two pages, a task of its own


def stored(db: Path, market: str, kind: str, symbol: str, interval: str = "1m") -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return [tuple(r) for r in con.execute(STORED, [market, kind, symbol, interval]).fetchall()]


def truth(
    market: Market, name: str, kind: str, symbol: str, interval: str = "1m", start: str = START
) -> list[tuple]:
    """The simulator's closed candles as the warehouse prints them: the exchange's decimal
    strings with the column's 8 places (the simulator sends 8 already)."""
    rows = market.closed_klines(symbol, interval, ms(start), NOW_MS, NOW_MS, market=name, kind=kind)
    return [(int(r[0]), *(f"{Decimal(r[i]):.8f}" for i in (1, 2, 3, 4)), int(r[6])) for r in rows]


def table(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return [tuple(r) for r in con.execute(sql).fetchall()]


def test_usdm_mark_index_and_premium_equal_the_truth_and_a_rerun_changes_nothing(
    sim: Simulator, market: Market, db_path: Path
) -> None:
    args = ("--kind", "mark,index,premium", "--symbols", "BTCUSDT", "--intervals", "1m")
    ran = ingest(sim, db_path, *args, "--start", START + "Z")
    assert ran.code == 0, ran.err
    for kind in ("mark", "index", "premium"):
        expected = truth(market, "usdm", kind, "BTCUSDT")
        assert len(expected) > 180 and stored(db_path, "usdm", kind, "BTCUSDT") == expected
    premium = [
        Decimal(v) for row in stored(db_path, "usdm", "premium", "BTCUSDT") for v in row[1:5]
    ]
    assert any(v == 0 for v in premium) and any(v < 0 for v in premium)
    assert table(db_path, "SELECT count(*) FROM klines") == [(0,)]
    assert "usdm    mark     BTCUSDT" in ran.out
    runs = table(db_path, "SELECT kind, inserted FROM ingest_run_series ORDER BY kind")
    assert [k for k, _ in runs] == ["index", "mark", "premium"] and all(n > 180 for _, n in runs)

    before = table(db_path, "SELECT * FROM price_klines ORDER BY ALL")
    again = ingest(sim, db_path, *args, "--start", START + "Z")
    assert again.code == 0, again.err
    assert table(db_path, "SELECT * FROM price_klines ORDER BY ALL") == before
    assert table(db_path, "SELECT count(*) FROM klines_revisions") == [(0,)]
    rerun = table(
        db_path,
        "SELECT sum(inserted), sum(updated) FROM ingest_run_series "
        "WHERE run_id = (SELECT run_id FROM ingest_runs ORDER BY started_at DESC LIMIT 1)",
    )
    assert rerun == [(0, 0)]


def test_coin_m_mark_and_premium_by_contract_index_by_pair(
    sim: Simulator, market: Market, db_path: Path
) -> None:
    by_contract = ingest(
        sim,
        db_path,
        *("--market", "coinm", "--kind", "mark,premium", "--symbols", "BTCUSD_PERP"),
        *("--intervals", "1m,1h", "--start", LONG + "Z"),
    )
    assert by_contract.code == 0, by_contract.err
    # as a deployment calls the flow: the kind a parameter of its own
    by_pair = ingest_klines(
        symbols=["BTCUSD"],
        intervals=["1m"],
        start=START + "Z",
        db=str(db_path),
        rest_url=sim.url,
        market="coinm",
        kind="index",
    )
    assert [(r["market"], r["kind"], r["symbol"]) for r in by_pair["series"]] == [
        ("coinm", "index", "BTCUSD")
    ]
    for kind, symbol, start in (
        ("mark", "BTCUSD_PERP", LONG),
        ("premium", "BTCUSD_PERP", LONG),
        ("index", "BTCUSD", START),
    ):
        expected = truth(market, "coinm", kind, symbol, start=start)
        assert expected and stored(db_path, "coinm", kind, symbol) == expected
    assert stored(db_path, "coinm", "mark", "BTCUSD_PERP", "1h") == truth(
        market, "coinm", "mark", "BTCUSD_PERP", "1h", LONG
    )


def test_whole_days_come_from_each_kinds_archive_folder(
    sim: Simulator, market: Market, db_path: Path
) -> None:
    """data/futures/um/daily/markPriceKlines/ETHUSDT/1h/... (by symbol) and
    .../indexPriceKlines/ETHUSDT/1h/... (by pair): two whole days from files each (the
    simulator serves each kind's truth in its own folder)."""
    ran = ingest(
        sim,
        db_path,
        *("--kind", "mark,index", "--symbols", "ETHUSDT", "--intervals", "1h"),
        *("--source", "archive", "--start", "2026-10-31"),
        env={"KLINES_ARCHIVE_URL": str(sim.archive_url)},
    )
    assert ran.code == 0, ran.err
    for kind in ("mark", "index"):
        expected = truth(market, "usdm", kind, "ETHUSDT", "1h", "2026-10-31T00:00:00")
        assert len(expected) == 48 and stored(db_path, "usdm", kind, "ETHUSDT", "1h") == expected
    assert table(
        db_path, "SELECT kind, source, count(*) FROM price_klines GROUP BY ALL ORDER BY 1"
    ) == [
        ("index", "archive", 48),
        ("mark", "archive", 48),
    ]


def test_index_prices_of_a_contract_name_the_pair_to_use(sim: Simulator, db_path: Path) -> None:
    ran = ingest(
        sim,
        db_path,
        *("--market", "coinm", "--kind", "index", "--symbols", "BTCUSD_PERP"),
        *("--intervals", "1h"),
    )
    assert ran.code == 2
    assert ran.err.strip().splitlines()[-1] == (
        "error: unknown pair BTCUSD_PERP: not a pair in /dapi/v1/exchangeInfo; "
        "index prices are by pair: use BTCUSD"
    )
    assert checksum(db_path) is None
