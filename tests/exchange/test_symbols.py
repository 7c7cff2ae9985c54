"""Exact names, patterns, ALL and --top, parsed and resolved against literal exchangeInfo."""

from __future__ import annotations

from decimal import Decimal

import pytest

from exchange.errors import InvalidInput, UnknownSymbol
from exchange.rest import ExchangeInfo
from exchange.symbols import (
    ALL,
    Selection,
    check_pairs,
    keep_top,
    pair_volumes,
    parse_selection,
    resolve,
)

PERPETUAL = 4133404800000


def row(symbol: str, status: str = "TRADING", delivery: int = PERPETUAL) -> dict[str, object]:
    kind = "PERPETUAL" if delivery == PERPETUAL else "CURRENT_QUARTER"
    return {"symbol": symbol, "status": status, "contractType": kind, "deliveryDate": delivery,
            "onboardDate": 1569398400000}  # fmt: skip


INFO = ExchangeInfo.from_json(
    {
        "symbols": [
            row("BTCUSDT"),
            row("ETHUSDT"),
            row("BTCDOMUSDT"),
            row("1000PEPEUSDT"),
            row("1000SHIBUSDT"),
            row("BTCUSDC"),
            row("ETHUSDC"),
            row("BTCUSDT_261225", delivery=1798185600000),
            row("ETHUSDT_261225", delivery=1798185600000),
            row("OLDUSDT", "SETTLING", 1780272000000),
            row("FTTUSDT", "SETTLING", 1651276800000),
            row("NEXTUSDT", "PENDING_TRADING"),
        ]
    }
)
VOLUMES = {"BTCUSDT": Decimal("9e9"), "ETHUSDT": Decimal("5e9"), "1000PEPEUSDT": Decimal("8e8"),
           "BTCUSDC": Decimal("7e8"), "ETHUSDC": Decimal("1e8"), "BTCDOMUSDT": Decimal("2e6"),
           "BTCUSDT_261225": Decimal("6e9")}  # fmt: skip


def select(text: str | None, delivery: bool = False, top: int | None = None) -> list[str]:
    selection, _ = parse_selection(text, delivery, top)
    resolved = resolve(selection, INFO)
    return (keep_top(resolved, top, VOLUMES) if top else resolved).symbols


def test_exact_names_patterns_and_all_are_told_apart_and_upper_cased() -> None:
    selection, notes = parse_selection("btcusdt, *usdt ,1000?EPE*,ETHUSDT_261225,all,BTCUSDT")
    assert selection == Selection(
        exact=("BTCUSDT", "ETHUSDT_261225"), patterns=("*USDT", "1000?EPE*", ALL)
    )
    assert notes == [
        "symbol 'btcusdt' normalised to 'BTCUSDT'",
        "symbol pattern '*usdt' normalised to '*USDT'",
        "symbol pattern 'all' normalised to 'ALL'",
    ]


def test_a_list_is_parsed_like_a_comma_separated_string() -> None:
    assert parse_selection(["*USDC", "BTCUSDT"]) == parse_selection("*USDC,BTCUSDT")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("*';DROP TABLE klines;--", "invalid symbol pattern"),
        ("BTC*|cat", "invalid symbol pattern"),
        ("[AB]*", "invalid symbol"),
        ("$(ls)*", "invalid symbol pattern"),
        ("BTC-*", "invalid symbol pattern"),
        ("BTC USDT*", "invalid symbol pattern"),
        ("*" * 41, "invalid symbol pattern"),
        ("BTC-USDT", "invalid symbol 'BTC-USDT'"),
        (" , ", "no symbols given"),
    ],
)
def test_a_pattern_may_hold_only_symbol_characters_and_wildcards(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("*", r"\*").replace("$", r"\$")):
        parse_selection(text)


@pytest.mark.parametrize("top", [0, -3, True, 2.5])
def test_top_must_be_a_positive_whole_number(top: object) -> None:
    with pytest.raises(InvalidInput, match=f"--top {top}: use a positive number"):
        parse_selection("*USDT", top=top)  # type: ignore[arg-type]


def test_no_symbols_with_top_means_all_and_without_it_is_an_error() -> None:
    assert parse_selection(None, top=3)[0] == Selection(patterns=(ALL,), top=3)
    with pytest.raises(InvalidInput, match="no symbols given"):
        parse_selection(None)


def test_patterns_select_trading_perpetuals_by_name() -> None:
    assert select("*USDT") == ["1000PEPEUSDT", "1000SHIBUSDT", "BTCDOMUSDT", "BTCUSDT", "ETHUSDT"]
    assert select("1000*") == ["1000PEPEUSDT", "1000SHIBUSDT"]
    assert select("???USDC") == ["BTCUSDC", "ETHUSDC"]
    assert select("BTC*") == ["BTCDOMUSDT", "BTCUSDC", "BTCUSDT"]
    assert select(ALL) == [
        "1000PEPEUSDT", "1000SHIBUSDT", "BTCDOMUSDT", "BTCUSDC", "BTCUSDT", "ETHUSDC", "ETHUSDT"
    ]  # fmt: skip


def test_delivery_contracts_join_only_when_asked_for() -> None:
    assert "BTCUSDT_261225" not in select("BTCUSDT*")
    assert select("BTCUSDT*", delivery=True) == ["BTCUSDT", "BTCUSDT_261225"]
    assert select("*_*", delivery=True) == ["BTCUSDT_261225", "ETHUSDT_261225"]


def test_exact_names_come_first_and_may_name_contracts_that_no_longer_trade() -> None:
    assert select("OLDUSDT,ETHUSDT_261225,1000*,OLDUSDT") == [
        "OLDUSDT", "ETHUSDT_261225", "1000PEPEUSDT", "1000SHIBUSDT"
    ]  # fmt: skip
    assert select("ETHUSDT,*USDC,BTCUSDC") == ["ETHUSDT", "BTCUSDC", "ETHUSDC"]


def test_each_pattern_says_how_it_resolved() -> None:
    selection, _ = parse_selection("1000*,*USDT,BTCUSDT")
    assert resolve(selection, INFO).notes == [
        "'1000*' matched 2 symbols (TRADING perpetuals): 1000PEPEUSDT, 1000SHIBUSDT",
        "'*USDT' matched 5 symbols (TRADING perpetuals): "
        "1000PEPEUSDT, 1000SHIBUSDT, BTCDOMUSDT, BTCUSDT, ETHUSDT",
    ]
    selection, _ = parse_selection("ALL", delivery=True)
    (note,) = resolve(selection, INFO).notes
    assert note.startswith("ALL matched 9 symbols (TRADING perpetuals and delivery contracts)")


@pytest.mark.parametrize(
    ("text", "delivery", "message"),
    [
        ("*XYZ", False, "'*XYZ' matched no TRADING perpetual in /fapi/v1/exchangeInfo: "
                        "check the pattern"),
        ("*_261225", False, "'*_261225' matched no TRADING perpetual in /fapi/v1/exchangeInfo: "
                            "it matches delivery contracts only: add --delivery"),
        ("OLD*", True, "'OLD*' matched no TRADING perpetual or delivery contract in "
                       "/fapi/v1/exchangeInfo: it matches only contracts that do not trade "
                       "(OLDUSDT): name one exactly to load it"),
        ("NEXT*", False, "(NEXTUSDT): name one exactly"),
        ("BTCUSDT,*XYZ", False, "'*XYZ' matched no TRADING perpetual"),
        ("NOPEUSDT,*USDT", False, "unknown symbol NOPEUSDT: not listed"),
    ],
)  # fmt: skip
def test_a_pattern_that_matches_nothing_is_an_unknown_symbol(
    text: str, delivery: bool, message: str
) -> None:
    selection, _ = parse_selection(text, delivery)
    with pytest.raises(UnknownSymbol) as caught:
        resolve(selection, INFO)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_top_keeps_the_highest_quote_volumes_first() -> None:
    assert select(None, top=3) == ["BTCUSDT", "ETHUSDT", "1000PEPEUSDT"]
    assert select("*USDC,1000*", top=2) == ["1000PEPEUSDT", "BTCUSDC"]
    assert select("*USDT", top=50) == [
        "BTCUSDT", "ETHUSDT", "1000PEPEUSDT", "BTCDOMUSDT", "1000SHIBUSDT"
    ]  # fmt: skip
    # 1000SHIBUSDT has no ticker: its volume counts as 0, so it comes last
    assert select("BTC*", delivery=True, top=2) == ["BTCUSDT", "BTCUSDT_261225"]


def test_top_says_what_it_kept() -> None:
    selection, _ = parse_selection("*USDT", top=2)
    resolved = keep_top(resolve(selection, INFO), 2, VOLUMES)
    assert resolved.notes[-1] == (
        "--top 2 kept 2 of 5 symbols, those with the highest 24-hour quote volume "
        "(/fapi/v1/ticker/24hr): BTCUSDT, ETHUSDT"
    )


def test_a_long_match_is_counted_not_listed() -> None:
    many = ExchangeInfo.from_json({"symbols": [row(f"S{i:03d}USDT") for i in range(312)]})
    selection, _ = parse_selection("*USDT")
    assert resolve(selection, many).notes == ["'*USDT' matched 312 symbols (TRADING perpetuals)"]


# -- kinds keyed by pair (the index price) ---------------------------------------------

COINM = ExchangeInfo.from_json(
    {
        "symbols": [
            {"symbol": "BTCUSD_PERP", "pair": "BTCUSD", "contractStatus": "TRADING",
             "contractType": "PERPETUAL", "onboardDate": 1597046400000,
             "deliveryDate": PERPETUAL},
            {"symbol": "BTCUSD_250926", "pair": "BTCUSD", "contractStatus": "DELIVERED",
             "contractType": "CURRENT_QUARTER", "onboardDate": 1585296000000,
             "deliveryDate": 1758873600000},
            {"symbol": "XMRUSD_PERP", "pair": "XMRUSD", "contractStatus": "SETTLING",
             "contractType": "PERPETUAL", "onboardDate": 1610697600000,
             "deliveryDate": 1707987600000},
        ]
    },
    api="/dapi/v1",
)  # fmt: skip


def test_a_pair_is_listed_from_its_earliest_contract_and_trades_while_one_does() -> None:
    pairs = COINM.by_pair().symbols
    assert sorted(pairs) == ["BTCUSD", "XMRUSD"]
    btc = pairs["BTCUSD"]
    assert (btc.status, btc.onboard_ms, btc.is_perpetual) == ("TRADING", 1585296000000, True)
    xmr = pairs["XMRUSD"]  # its only contract was delisted: the pair ends with it
    assert (xmr.status, xmr.delivery_ms, xmr.is_perpetual) == ("SETTLING", 1707987600000, False)


def test_index_prices_name_a_pair_and_a_contract_points_to_its_pair() -> None:
    check_pairs(["BTCUSD"], COINM, "index")
    with pytest.raises(UnknownSymbol) as contract:
        check_pairs(["BTCUSD_PERP"], COINM, "index")
    assert str(contract.value) == (
        "unknown pair BTCUSD_PERP: not a pair in /dapi/v1/exchangeInfo; "
        "index prices are by pair: use BTCUSD"
    )
    with pytest.raises(UnknownSymbol, match="unknown pairs NOPE, XMR: .* use BTCUSD$"):
        check_pairs(["NOPE", "XMR"], COINM, "index")


def test_patterns_select_trading_pairs_and_top_ranks_them_by_their_contracts() -> None:
    selection, _ = parse_selection("*USD", top=1)
    resolved = resolve(selection, COINM.by_pair())
    assert resolved.symbols == ["BTCUSD"]  # XMRUSD no longer trades
    volumes = pair_volumes(COINM, {"BTCUSD_PERP": Decimal(5), "BTCUSD_250926": Decimal(2)})
    assert volumes == {"BTCUSD": Decimal(7), "XMRUSD": Decimal(0)}
