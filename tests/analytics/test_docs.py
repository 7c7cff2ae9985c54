"""Every SQL block of docs/analysts.md runs, and its answer passes a check of its own."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from simulator import Market
from tests.analytics.fill import fill
from tests.analytics.test_views import _with_gaps
from tests.conftest import NOW_MS, ms

DOC = Path(__file__).resolve().parents[2] / "docs" / "analysts.md"
BASIS_FROM = ms("2026-10-29T00:00:00")
PREMIUM_FROM = ms("2026-11-01T08:00:00")  # after the day's maintenance window
QUESTION = re.compile(r"^### (\d+)\. (.+?)\n+```sql\n(.*?)```", re.S | re.M)


def questions() -> dict[int, str]:
    return {int(n): sql for n, _, sql in QUESTION.findall(DOC.read_text())}


def test_the_doc_has_twelve_questions() -> None:
    assert sorted(questions()) == list(range(1, 13))


@pytest.fixture(scope="module")
def answered(filled: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[int, list[dict]]:
    db = _with_gaps(filled, tmp_path_factory.mktemp("docs"))
    market = Market()  # the questions that need two markets, or premium index prices:
    fill(db, market, "BTCUSDT", "1h", BASIS_FROM, NOW_MS, NOW_MS, market_name="spot")
    fill(db, market, "BTCUSDT", "1m", PREMIUM_FROM, NOW_MS, NOW_MS, "premium")
    out = {}
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        for n, sql in questions().items():
            cur = con.execute(sql)
            names = [d[0] for d in cur.description]
            out[n] = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    return out


def test_1_daily_returns(answered: dict) -> None:
    rows = answered[1]
    assert len(rows) == 35 and rows[0]["daily_return"] is None
    assert all(-0.5 < r["daily_return"] < 0.5 for r in rows[1:])
    assert rows[1]["daily_return"] == pytest.approx(float(rows[1]["close"] / rows[0]["close"]) - 1)


def test_2_volatility(answered: dict) -> None:
    rows = answered[2]
    assert [r["symbol"] for r in rows] == ["BTCUSDT", "ETHUSDT"]
    assert all(r["hours"] == 7 * 24 and 0 < r["annualised_volatility"] < 10 for r in rows)


def test_3_realised_volatility(answered: dict) -> None:
    rows = answered[3]
    assert len(rows) == 36
    assert all(r["realised_volatility"] > 0 for r in rows)
    assert max(r["minutes"] for r in rows) == 1440


def test_4_volume_by_hour(answered: dict) -> None:
    rows = answered[4]
    assert [r["utc_hour"] for r in rows] == list(range(24))
    assert all(r["avg_quote_volume"] > 0 for r in rows)


def test_5_volume_by_price(answered: dict, filled: Path) -> None:
    rows = answered[5]
    with duckdb.connect(str(filled), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        total = con.execute(
            "SELECT sum(volume) FROM klines WHERE symbol = 'BTCUSDT' AND interval = '1m' "
            "AND open_time::DATE = DATE '2026-11-01'"
        ).fetchone()[0]
    assert len(rows) >= 2 and sum(r["volume"] for r in rows) == total
    assert all(r["price_bucket"] % 250 == 0 for r in rows)


def test_6_taker_share(answered: dict) -> None:
    rows = answered[6]
    assert len(rows) == 2 * 35
    assert all(0 < r["taker_buy_share"] < 1 for r in rows)


def test_7_four_hour_candles(answered: dict) -> None:
    rows = answered[7]
    assert len(rows) == 12
    assert rows[0]["open_time"].isoformat() == "2026-11-01T20:00:00+00:00"
    assert all(r["open_time"].hour % 4 == 0 and r["minutes"] <= 240 for r in rows)
    assert all(r["low"] <= min(r["open"], r["close"]) <= r["high"] for r in rows)
    assert isinstance(rows[0]["volume"], Decimal)


def test_8_freshness(answered: dict) -> None:
    rows = answered[8]
    assert len(rows) == 7 and {r["market"] for r in rows} == {"usdm", "spot"}
    oldest = {
        (r["market"], r["interval"]) for r in rows if r["since_close"] == rows[0]["since_close"]
    }
    assert ("usdm", "1d") in oldest  # the daily candle closed longest ago (with the 23:00 hour)
    assert all(r["since_close"].total_seconds() > 0 for r in rows)


def test_9_gaps(answered: dict) -> None:
    by_cause = {(r["symbol"], r["cause"]): r for r in answered[9]}
    maintenance = by_cause["BTCUSDT", "exchange_empty"]
    assert maintenance["missing_candles"] > 20 and not maintenance["recoverable"]
    assert by_cause["ETHUSDT", "not_fetched"]["recoverable"]


def test_10_incomplete_days(answered: dict) -> None:
    rows = answered[10]
    assert rows and all(r["completeness"] < 1 for r in rows)
    assert ("ETHUSDT", "1m") in {(r["symbol"], r["interval"]) for r in rows}
    assert all(
        r["unexplained"] == 0 for r in rows if (r["symbol"], r["interval"]) == ("BTCUSDT", "1m")
    )
    assert all(not math.isnan(r["completeness"]) for r in rows)


def test_11_basis_of_the_perpetual_over_spot(answered: dict) -> None:
    rows = answered[11]
    assert [str(r["day"]) for r in rows] == [
        "2026-10-29",
        "2026-10-30",
        "2026-10-31",
        "2026-11-01",
    ]  # 11-02's first hour is still open
    assert all(r["hours"] == 24 for r in rows)
    # the simulator keeps one coin's markets within 0.2 % of each other: ±20 basis points
    assert all(-20 < r["min_basis_bp"] <= r["avg_basis_bp"] <= r["max_basis_bp"] < 20 for r in rows)
    assert any(r["min_basis_bp"] < 0 < r["max_basis_bp"] for r in rows)
    assert rows[0]["avg_basis"] != 0  # in price units: avg() of a DECIMAL is a DOUBLE


def test_12_funding_implied_by_the_premium_index(answered: dict) -> None:
    rows = answered[12]
    starts = [r["funding_interval"].isoformat() for r in rows]
    assert starts == ["2026-11-01T08:00:00", "2026-11-01T16:00:00", "2026-11-02T00:00:00"]
    assert [r["minutes"] for r in rows] == [480, 480, 7]
    for r in rows:
        p = r["avg_premium"]
        assert r["implied_funding_rate"] == pytest.approx(p + max(-0.0005, min(0.0005, 0.0001 - p)))
        assert -0.0004 <= r["implied_funding_rate"] - 0.0001 <= 0.0006
