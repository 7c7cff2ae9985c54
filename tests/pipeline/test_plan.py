"""Planning a run, on literal exchange facts: no sockets, no warehouse, milliseconds."""

from __future__ import annotations

import pytest

from exchange.errors import InvalidInput
from exchange.rest import ExchangeInfo, SymbolInfo
from pipeline.plan import SeriesPlan, Split, plan_series, split_plans
from tests.conftest import ms
from warehouse.gaps import Gap

MIN = 60_000
NOW = ms("2026-11-02T00:07:30")  # the 00:07 candle is still open
LISTED = ms("2019-09-08T17:57:00")
INFO = ExchangeInfo(
    {
        "BTCUSDT": SymbolInfo("BTCUSDT", "TRADING", "PERPETUAL", LISTED, 4133404800000),
        "OLDUSDT": SymbolInfo(
            "OLDUSDT", "SETTLING", "PERPETUAL", ms("2024-01-01T00:00"), ms("2026-11-01T08:00")
        ),
    },
    2400,
    60_000,
)


def plan(symbols=("BTCUSDT",), bounds=None, ledger=None, start=None, end=None, **kw):
    return plan_series(
        "usdm",
        list(symbols),
        ["1m"],
        INFO,
        NOW,
        bounds or {},
        ledger or {},
        start,
        end,
        kw.pop("lookback", 1000),
        **kw,
    )


def test_a_stored_series_resumes_after_its_newest_candle_and_stops_before_the_open_one() -> None:
    newest = ms("2026-11-01T23:00")
    (fetch,) = plan(bounds={("BTCUSDT", "1m"): (ms("2026-11-01T00:00"), newest)}).fetch
    assert fetch == SeriesPlan("usdm", "BTCUSDT", "1m", newest + MIN, ms("2026-11-02T00:07"))


def test_an_empty_series_looks_back_the_configured_number_of_candles() -> None:
    (fetch,) = plan(lookback=30).fetch
    assert (fetch.start_ms, fetch.end_ms) == (ms("2026-11-01T23:37"), ms("2026-11-02T00:07"))


def test_a_start_before_the_listing_is_clipped_and_the_difference_accounted_for() -> None:
    run = plan(start=ms("2019-09-08T00:00"), end=ms("2019-09-09T00:00"))
    (fetch,) = run.fetch
    assert fetch.start_ms == ms("2019-09-08T17:57")
    ((where, (gap,)),) = run.ledger
    assert (gap.start_ms, gap.end_ms, gap.cause) == (
        ms("2019-09-08T00:00"),
        ms("2019-09-08T17:57"),
        "before_listing",
    )
    assert gap.missing == 17 * 60 + 57 and where.symbol == "BTCUSDT"


@pytest.mark.parametrize("start", [None, ms("1999-01-01T00:00")])
def test_a_range_that_ends_before_the_listing_is_bad_input_naming_the_date(start) -> None:
    with pytest.raises(InvalidInput, match=r"ends before BTCUSDT was listed \(2019-09-08\)"):
        plan(start=start, end=ms("2000-01-01T00:00"))


def test_a_delisted_contract_stops_at_its_delivery_and_the_rest_is_after_delisting() -> None:
    run = plan(["OLDUSDT"], start=ms("2026-11-01T07:00"))
    (fetch,) = run.fetch
    assert fetch.end_ms == ms("2026-11-01T08:00")
    causes = {g.cause: (g.start_ms, g.end_ms) for _, gaps in run.ledger for g in gaps}
    assert causes == {"after_delisting": (ms("2026-11-01T08:00"), ms("2026-11-02T00:07"))}


def test_failed_and_unfetched_holes_are_fetched_again_confirmed_ones_only_when_asked() -> None:
    holes = [
        Gap(ms("2026-11-01T01:00"), ms("2026-11-01T01:10"), 10, "fetch_failed"),
        Gap(ms("2026-11-01T02:00"), ms("2026-11-01T02:05"), 5, "not_fetched"),
        Gap(ms("2026-11-01T03:40"), ms("2026-11-01T04:00"), 20, "exchange_empty"),
    ]
    bounds = {("BTCUSDT", "1m"): (ms("2026-11-01T00:00"), ms("2026-11-02T00:06"))}
    ledger = {("BTCUSDT", "1m"): holes}
    again = [(p.start_ms, p.end_ms) for p in plan(bounds=bounds, ledger=ledger).fetch[1:]]
    assert again == [(h.start_ms, h.end_ms) for h in holes[:2]]
    everything = plan(bounds=bounds, ledger=ledger, reverify_gaps=True).fetch[1:]
    assert [(p.start_ms, p.end_ms) for p in everything] == [(h.start_ms, h.end_ms) for h in holes]


def test_one_page_series_load_in_groups_and_longer_ones_alone() -> None:
    short = SeriesPlan("usdm", "BTCUSDT", "1m", 0, 5 * MIN)
    long = SeriesPlan("usdm", "ETHUSDT", "1m", 0, 600 * MIN)
    assert split_plans([short, long], 499, "rest", NOW) == Split(small=[short], rest=[long])


def test_a_whole_archive_day_takes_a_series_out_of_the_one_page_groups() -> None:
    day = SeriesPlan("usdm", "BTCUSDT", "1h", ms("2026-10-01T00:00"), ms("2026-10-02T00:00"))
    (job,) = split_plans([day], 499, "archive", NOW).archive
    assert job[0] == day and [f.name for f in job[1]] == ["BTCUSDT-1h-2026-10-01.zip"]
    assert split_plans([day], 499, "rest", NOW) == Split(small=[day])


def test_an_index_pair_starts_at_its_earliest_contracts_listing_and_plans_carry_the_kind() -> None:
    quarter = ms("2020-03-27T08:00")  # COIN-M's quarterlies came before its perpetual
    contracts = ExchangeInfo(
        {
            "BTCUSD_PERP": SymbolInfo(
                "BTCUSD_PERP", "TRADING", "PERPETUAL", ms("2020-08-10T08:00"), 4133404800000,
                "BTCUSD",
            ),
            "BTCUSD_200626": SymbolInfo(
                "BTCUSD_200626", "DELIVERED", "CURRENT_QUARTER", quarter, ms("2020-06-26T08:00"),
                "BTCUSD",
            ),
        },
        2400,
        60_000,
    )  # fmt: skip
    run = plan_series(
        "coinm", ["BTCUSD"], ["1h"], contracts.by_pair(), NOW, {}, {},
        ms("2020-03-27T00:00"), ms("2020-03-28T00:00"), 1000, kind="index",
    )  # fmt: skip
    (fetch,) = run.fetch
    assert fetch == SeriesPlan("coinm", "BTCUSD", "1h", quarter, ms("2020-03-28T00:00"), "index")
    assert fetch.label == "coinm-index-BTCUSD-1h"
    ((where, (gap,)),) = run.ledger
    assert (where.kind, gap.cause, gap.missing) == ("index", "before_listing", 8)
