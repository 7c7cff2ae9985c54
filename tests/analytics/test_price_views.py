"""Migration 7 for analysts: price_klines in coverage and gaps (with a kind column),
latest_price_klines, resample_prices, klines_pair, and `klines export` of price klines."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from cli.main import main
from simulator import Market
from tests.analytics.fill import fill
from tests.conftest import NOW_MS, ms
from warehouse.export import MANIFEST, prices_folder

START_MS = ms("2026-10-31T00:00:00")  # two days and the first minutes of a third


@pytest.fixture(scope="module")
def prices(filled_once: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The analysts' trade warehouse plus BTCUSDT mark (1m, 1h), index and premium (1m)."""
    db = tmp_path_factory.mktemp("prices") / "klines.duckdb"
    db.write_bytes(filled_once.read_bytes())
    market = Market()
    for kind in ("mark", "index", "premium"):
        fill(db, market, "BTCUSDT", "1m", START_MS, NOW_MS, NOW_MS, kind)
    fill(db, market, "BTCUSDT", "1h", START_MS, NOW_MS, NOW_MS, "mark")
    return db


def query(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        return [tuple(r) for r in con.execute(sql).fetchall()]


def test_latest_price_klines_has_the_newest_candle_of_each_kind(prices: Path) -> None:
    assert query(
        prices,
        "SELECT kind, symbol, interval, epoch_ms(open_time), since_close > INTERVAL 0 SECOND "
        "FROM latest_price_klines ORDER BY ALL",
    ) == [
        ("index", "BTCUSDT", "1m", ms("2026-11-02T00:06:00"), True),
        ("mark", "BTCUSDT", "1h", ms("2026-11-01T23:00:00"), True),
        ("mark", "BTCUSDT", "1m", ms("2026-11-02T00:06:00"), True),
        ("premium", "BTCUSDT", "1m", ms("2026-11-02T00:06:00"), True),
    ]


def test_resample_prices_equals_the_exchanges_hourly_mark_price(prices: Path) -> None:
    resampled = query(
        prices,
        "SELECT open_time, close_time, open, high, low, close FROM "
        "resample_prices('BTCUSDT', 'mark', '1h') WHERE complete ORDER BY open_time",
    )
    stored = query(
        prices,
        "SELECT open_time, close_time, open, high, low, close FROM price_klines "
        "WHERE kind = 'mark' AND interval = '1h' ORDER BY open_time",
    )
    assert len(resampled) == 48 and resampled == stored
    with pytest.raises(duckdb.InvalidInputException, match="resample_prices: unknown interval"):
        query(prices, "SELECT * FROM resample_prices('BTCUSDT', 'mark', '2w')")


def test_coverage_and_gaps_have_a_row_per_kind(prices: Path) -> None:
    rows = query(
        prices,
        "SELECT kind, expected, present, completeness FROM coverage "
        "WHERE symbol = 'BTCUSDT' AND interval = '1m' AND day = '2026-11-01' ORDER BY kind",
    )
    kinds = [r[0] for r in rows]
    assert kinds == ["index", "mark", "premium", "trade"]
    assert all(r[1] == 1440 and r[2] == r[1] - 20 for r in rows)  # the maintenance window
    assert "kind" in [r[0] for r in query(prices, "DESCRIBE gaps")]


def test_a_basis_query_joins_mark_and_index_through_the_pair(prices: Path) -> None:
    """What later worked questions need: each contract's mark price against its pair's
    index, minute by minute (and the premium index beside them)."""
    rows = query(
        prices,
        """SELECT m.open_time, m.close - i.close AS basis, p.close AS premium
        FROM price_klines m
        JOIN price_klines i ON i.kind = 'index' AND i.market = m.market
         AND i.symbol = klines_pair(m.symbol) AND i.interval = m.interval
         AND i.open_time = m.open_time
        JOIN price_klines p ON p.kind = 'premium' AND p.market = m.market
         AND p.symbol = m.symbol AND p.interval = m.interval AND p.open_time = m.open_time
        WHERE m.kind = 'mark' AND m.symbol = 'BTCUSDT' AND m.interval = '1m'
        ORDER BY m.open_time""",
    )
    assert len(rows) > 2800 and all(abs(basis) < 1000 for _, basis, _ in rows)
    assert query(prices, "SELECT klines_pair('BTCUSD_PERP'), klines_pair('BTCUSDT')") == [
        ("BTCUSD", "BTCUSDT")
    ]


def test_export_writes_price_klines_beside_the_klines_copy(prices: Path, tmp_path: Path) -> None:
    out = tmp_path / "parquet"
    ran = CliRunner().invoke(main, ["export", "--db", str(prices), "--out", str(out)])
    assert ran.exit_code == 0, ran.stderr
    folder = prices_folder(out)
    assert folder == tmp_path / "parquet-prices" and (folder / MANIFEST).exists()
    part = "market=usdm/kind=premium/symbol=BTCUSDT/interval=1m/month=2026-11"
    assert (folder / part / "data.parquet").exists() and f"wrote   {part}" in ran.stdout
    back = f"read_parquet('{folder}/**/*.parquet', hive_partitioning = true)"
    cols = "market, kind, symbol, interval, open_time, close_time, open, high, low, close"
    assert (
        query(prices, f"SELECT {cols} FROM price_klines EXCEPT ALL SELECT {cols} FROM {back}") == []
    )
    assert query(prices, f"SELECT count(*) FROM {back}") == query(
        prices, "SELECT count(*) FROM price_klines"
    )
    klines_back = f"read_parquet('{out}/**/*.parquet', hive_partitioning = true)"
    assert query(prices, f"SELECT count(*) FROM {klines_back}") == query(
        prices, "SELECT count(*) FROM klines"
    )
