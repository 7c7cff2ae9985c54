"""Market truth of COIN-M, spot and the price kinds: invariants, consistency across markets
and kinds, 1s candles, continuous series, gaps, the open candle, determinism, testnet."""

from __future__ import annotations

from decimal import Decimal

import pytest

from simulator import Market, full_universe
from tests.simulator.conftest import DAY, HOUR, MINUTE, NOW, ms
from tests.simulator.helpers import aggregate, assert_row_invariants, values

DAY_1 = (ms(2026, 10, 1), ms(2026, 10, 2))


def close(a: str, b: str) -> Decimal:
    """Relative difference of two prices."""
    return abs(Decimal(a) / Decimal(b) - 1)


@pytest.mark.parametrize(
    ("market_name", "symbol"),
    [("coinm", "BTCUSD_PERP"), ("coinm", "ETHUSD_PERP"), ("coinm", "BTCUSD_261225"),
     ("spot", "BTCUSDT"), ("spot", "PEPEUSDT"), ("spot", "XRPUSDT")],
)  # fmt: skip
@pytest.mark.parametrize("interval", ["1m", "1h", "1d", "1M"])
def test_rows_obey_invariants_in_every_market(
    market: Market, market_name: str, symbol: str, interval: str
) -> None:
    limit = 3 if interval == "1M" else 30
    rows = market.latest_klines(symbol, interval, NOW, NOW, limit, market=market_name)
    assert rows and rows[-1][0] <= NOW < rows[-1][6]
    for row in rows:
        assert_row_invariants(row)


def test_coinm_volume_is_contracts_and_base_volume_matches_the_price(market: Market) -> None:
    spec = market.specs("coinm")["BTCUSD_PERP"]
    assert (spec.contract_size, market.specs("coinm")["ETHUSD_PERP"].contract_size) == (100, 10)
    rows = market.closed_klines("BTCUSD_PERP", "1m", *DAY_1, NOW, market="coinm")
    traded = [r for r in rows if r[5] != "0"]
    assert len(traded) > 1000
    for r in traded:
        assert r[5].isdigit() and r[9].isdigit()  # whole contracts
        assert len(r[7].split(".")[1]) == 8 and len(r[10].split(".")[1]) == 8
        half_unit = Decimal("0.000000005")
        lo, hi = Decimal(r[3]), Decimal(r[2])
        contracts_usd = int(r[5]) * 100
        assert contracts_usd / hi - half_unit <= Decimal(r[7]) <= contracts_usd / lo + half_unit
        if int(r[9]):
            taker_usd = int(r[9]) * 100
            assert taker_usd / hi - half_unit <= Decimal(r[10]) <= taker_usd / lo + half_unit
    hour = market.closed_klines("BTCUSD_PERP", "1h", DAY_1[0], DAY_1[0] + HOUR, NOW, market="coinm")
    assert values(hour[0]) == aggregate(rows[:60])  # contracts and base volumes add up exactly


def test_prices_of_one_coin_stay_close_across_markets_and_kinds(market: Market) -> None:
    at = DAY_1[0] + 7 * HOUR
    futures = market.klines("BTCUSDT", "1h", at, at, NOW, 1)[0]
    for market_name, name, kind in [
        ("spot", "BTCUSDT", "trade"),
        ("coinm", "BTCUSD_PERP", "trade"),
        ("usdm", "BTCUSDT", "mark"),
        ("usdm", "BTCUSDT", "index"),
        ("coinm", "BTCUSD", "index"),
        ("coinm", "BTCUSD_PERP", "mark"),
    ]:
        row = market.klines(name, "1h", at, at, NOW, 1, market=market_name, kind=kind)[0]
        assert row[0] == futures[0] and close(row[4], futures[4]) < Decimal("0.002"), (name, kind)
    quarterly = market.klines("BTCUSD_261225", "1h", at, at, NOW, 1, market="coinm")[0]
    assert Decimal("0.005") < Decimal(quarterly[4]) / Decimal(futures[4]) - 1 < Decimal("0.02")


def test_spot_pepe_is_a_thousandth_of_the_full_universes_1000pepe() -> None:
    full = Market(full_universe())
    at = ms(2026, 10, 3, 12)
    pepe = full.klines("PEPEUSDT", "1h", at, at, NOW, 1, market="spot")[0]
    thousand = full.klines("1000PEPEUSDT", "1h", at, at, NOW, 1)[0]
    assert "1000PEPEUSDT" not in full.specs("spot") and "PEPEUSDT" not in full.symbols
    assert close(str(Decimal(pepe[4]) * 1000), thousand[4]) < Decimal("0.002")


def test_mark_and_index_rows_are_prices_with_ignored_fields(market: Market) -> None:
    for name, kind in (("BTCUSDT", "mark"), ("ETHUSDT", "index")):
        rows = market.closed_klines(name, "1m", *DAY_1, NOW, kind=kind)
        assert len(rows) == 1440
        for r in rows[:200]:
            assert Decimal(r[3]) > 0 and Decimal(r[3]) <= min(Decimal(r[1]), Decimal(r[4]))
            assert max(Decimal(r[1]), Decimal(r[4])) <= Decimal(r[2])
            assert len(r[1].split(".")[1]) == 8
            assert [r[5], r[7], r[9], r[10], r[11]] == ["0"] * 5 and r[8] == 60
        hour = market.closed_klines(name, "1h", DAY_1[0], DAY_1[0] + HOUR, NOW, kind=kind)[0]
        assert hour[8] == 3600 and hour[1] == rows[0][1] and hour[4] == rows[59][4]


def test_premium_index_is_small_signed_and_often_zero(market: Market) -> None:
    rows = market.closed_klines("BTCUSDT", "1m", *DAY_1, NOW, kind="premium")
    closes = [Decimal(r[4]) for r in rows]
    zero, negative = sum(c == 0 for c in closes), sum(c < 0 for c in closes)
    assert 0.2 < zero / len(rows) < 0.7 and 0.1 < negative / len(rows) < 0.5
    assert all(abs(c) < Decimal("0.003") for c in closes)
    assert all(r[8] == 12 and r[5] == "0" for r in rows)
    assert any(r[3].startswith("-") and not r[2].startswith("-") for r in rows)
    for r in rows:
        o, h, lo, c = (Decimal(r[i]) for i in (1, 2, 3, 4))
        assert lo <= min(o, c) <= max(o, c) <= h
    coinm = market.closed_klines("ETHUSD_PERP", "1h", *DAY_1, NOW, market="coinm", kind="premium")
    assert len(coinm) == 24 and any(Decimal(r[3]) < 0 for r in coinm)


def test_spot_1s_candles_add_up_to_1m_closed_and_forming(market: Market) -> None:
    minute = ms(2026, 10, 5, 12, 30)
    secs = market.closed_klines("BTCUSDT", "1s", minute, minute + MINUTE, NOW, market="spot")
    assert [r[0] for r in secs] == list(range(minute, minute + MINUTE, 1000))
    assert all(r[6] == r[0] + 999 for r in secs)
    for r in secs:
        assert_row_invariants(r)
    m1 = market.closed_klines("BTCUSDT", "1m", minute, minute + 1, NOW, market="spot")[0]
    assert values(m1) == aggregate(secs)
    # the forming minute is made of the seconds so far and the forming second
    now = NOW + 12_345
    forming = market.latest_klines("BTCUSDT", "1m", now, now, 1, market="spot")[0]
    so_far = market.klines("BTCUSDT", "1s", forming[0], now, now, 1000, market="spot")
    assert so_far[-1][0] == now // 1000 * 1000 and len(so_far) == 43
    assert values(forming) == aggregate(so_far)
    later = market.klines("BTCUSDT", "1s", forming[0], now, now + 5000, 1000, market="spot")
    assert later[:-1] == so_far[:-1]  # closed seconds never change


def test_spot_1s_pages_forward_and_back(market: Market) -> None:
    start = ms(2026, 10, 20, 9, 59)  # crosses the 10:00-10:30 maintenance window
    page = market.klines("ETHUSDT", "1s", start, NOW, NOW, 100, market="spot")
    assert page[59][0] == start + 59_000 and page[60][0] == ms(2026, 10, 20, 10, 30)
    back = market.latest_klines("ETHUSDT", "1s", start + 59_999, NOW, 3, market="spot")
    assert [r[0] for r in back] == [start + 57_000, start + 58_000, start + 59_000]
    assert market.klines("ETHUSDT", "1s", NOW - 2000, NOW, NOW, 10, market="spot")[-1][0] == NOW


def test_continuous_series_stitch_quarterlies_by_role(market: Market) -> None:
    perp = market.klines("BTCUSD", "1h", DAY_1[0], NOW, NOW, 5, market="coinm",
                         kind="continuous", contract_type="PERPETUAL")  # fmt: skip
    assert perp == market.klines("BTCUSD_PERP", "1h", DAY_1[0], NOW, NOW, 5, market="coinm")
    roll = ms(2026, 9, 25, 8)
    current = market.klines("BTCUSD", "1h", roll - 2 * HOUR, NOW, NOW, 4, market="coinm",
                            kind="continuous", contract_type="CURRENT_QUARTER")  # fmt: skip
    old = market.klines("BTCUSD_260925", "1h", roll - 2 * HOUR, NOW, NOW, 2, market="coinm")
    new = market.klines("BTCUSD_261225", "1h", roll, NOW, NOW, 2, market="coinm")
    assert current == old + new
    nxt = market.klines("BTCUSD", "1h", roll, NOW, NOW, 1, market="coinm", kind="continuous",
                        contract_type="NEXT_QUARTER")  # fmt: skip
    assert nxt == market.klines("BTCUSD_270326", "1h", roll, NOW, NOW, 1, market="coinm")
    # the default USDⓈ-M listing has no quarterly: no candle, no error
    assert market.klines("BTCUSDT", "1h", 0, NOW, NOW, 5, kind="continuous",
                         contract_type="CURRENT_QUARTER") == []  # fmt: skip


@pytest.mark.parametrize(
    ("market_name", "name", "kind"),
    [("usdm", "BTCUSDT", "mark"), ("usdm", "BTCUSDT", "index"), ("usdm", "BTCUSDT", "premium"),
     ("coinm", "BTCUSD_PERP", "trade"), ("coinm", "BTCUSD", "index"), ("spot", "SOLUSDT", "trade")],
)  # fmt: skip
def test_maintenance_gaps_and_the_open_candle_in_every_market_and_kind(
    market: Market, market_name: str, name: str, kind: str
) -> None:
    where = {"market": market_name, "kind": kind}
    rows = market.closed_klines(name, "1m", ms(2026, 11, 1, 3), ms(2026, 11, 1, 5), NOW, **where)
    assert len(rows) == 100 and not [
        r for r in rows if ms(2026, 11, 1, 3, 40) <= r[0] < ms(2026, 11, 1, 4)
    ]
    live = market.latest_klines(name, "1h", NOW, NOW, 1, **where)[0]
    final = market.closed_klines(name, "1h", live[0], live[0] + 1, live[6] + 1, **where)[0]
    assert live[0] <= NOW < live[6] and final[0] == live[0] and live != final
    assert market.closed_klines(name, "1h", live[0], NOW + HOUR, NOW, **where) == []


def test_listing_bounds_of_delisted_and_delivered_contracts(market: Market) -> None:
    xmr = market.specs("coinm")["XMRUSD_PERP"]
    assert xmr.status == "SETTLING" and xmr.delivery_ms == ms(2024, 2, 15, 9)
    tail = market.latest_klines("XMRUSD_PERP", "1d", NOW, NOW, 2, market="coinm")
    assert tail[-1][0] == ms(2024, 2, 15) and tail[-1][6] < ms(2024, 2, 16)
    old = market.latest_klines("OLDUSDT", "1h", NOW, NOW, 1, market="spot")[0]
    assert market.specs("spot")["OLDUSDT"].status == "BREAK" and old[6] < ms(2026, 6, 1)
    delivered = market.latest_klines("BTCUSD_260925", "1m", NOW, NOW, 1, market="coinm")[0]
    assert delivered[6] == ms(2026, 9, 25, 8) - 1


def test_tickers_have_each_markets_shape(market: Market) -> None:
    coinm = market.ticker_24h("BTCUSD_PERP", NOW, market="coinm")
    assert coinm is not None and coinm["pair"] == "BTCUSD" and str(coinm["volume"]).isdigit()
    assert Decimal(str(coinm["baseVolume"])) > 0 and "quoteVolume" not in coinm
    spot = market.ticker_24h("BTCUSDT", NOW, market="spot")
    assert spot is not None and {"prevClosePrice", "bidPrice", "askQty"} <= set(spot)
    assert all(len(str(spot[k]).split(".")[1]) == 8 for k in ("lastPrice", "volume", "bidQty"))
    day = market.closed_klines("BTCUSDT", "1h", NOW - DAY, NOW, NOW, market="spot")
    assert Decimal(str(spot["volume"])) >= sum(Decimal(r[5]) for r in day[1:])


def test_deterministic_and_the_testnet_differs() -> None:
    def sample(m: Market) -> list[list]:
        return m.klines("BTCUSD_PERP", "1h", DAY_1[0], NOW, NOW, 5, market="coinm", kind="mark")

    assert sample(Market()) == sample(Market())
    testnet = Market.testnet()
    assert set(testnet.specs("spot")) == set(Market().specs("spot"))
    mainnet_close = Market().klines("BTCUSDT", "1m", DAY_1[0], NOW, NOW, 50, market="spot")
    testnet_close = testnet.klines("BTCUSDT", "1m", DAY_1[0], NOW, NOW, 50, market="spot")
    assert all(a[4] != b[4] for a, b in zip(mainnet_close, testnet_close, strict=True))
    assert sample(testnet) != sample(Market())
