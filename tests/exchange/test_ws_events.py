"""Stream event parsing (pure): the real fstream capture, envelopes, mark price, bad frames,
stream names and kinds, REST compare."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from exchange.errors import InvalidInput, MalformedEvent
from exchange.markets import MARKETS
from exchange.ws_events import (
    USDM_MARKET_ROUTE,
    KlineEvent,
    MarkPriceEvent,
    Reply,
    RequiredRoute,
    combined_url,
    compare_with_rest,
    event_stream,
    mark_price_stream,
    market_streams,
    parse_frame,
    raw_url,
    required_route,
    stream_kind,
    stream_name,
    subscribe_request,
    update_period_s,
)
from tests.conftest import real_data

CAPTURE = "fstream-ws/BINANCE_FUTURES.ws.1.0"


def capture_frames() -> list[str]:
    """The raw frame texts of the recording (PROVENANCE.md §2: ``<time>: <frame>``)."""
    lines = real_data(CAPTURE).read_text().splitlines()
    return [line.split(": ", 1)[1] for line in lines[1:] if line.strip()]


def test_every_kline_frame_of_the_real_capture_parses_exactly() -> None:
    frames = [f for f in capture_frames() if '@kline_1m"' in f]
    events = [parse_frame(f) for f in frames]
    assert len(events) == 67 and all(isinstance(e, KlineEvent) for e in events)
    closed = [e for e in events if isinstance(e, KlineEvent) and e.closed]
    assert [e.stream for e in closed] == [
        "sushiusdt@kline_1m",
        "ctkusdt@kline_1m",
        "akrousdt@kline_1m",
        "keepusdt@kline_1m",
    ]
    sushi = closed[0]
    assert sushi == KlineEvent(
        stream="sushiusdt@kline_1m",
        event_time_ms=1626992760203,
        symbol="SUSHIUSDT",
        interval="1m",
        open_time_ms=1626992700000,
        close_time_ms=1626992759999,
        first_trade_id=126902874,
        last_trade_id=126902986,
        open=Decimal("7.6080"),
        high=Decimal("7.6180"),
        low=Decimal("7.6070"),
        close=Decimal("7.6170"),
        volume=Decimal("3005"),
        trade_count=113,
        closed=True,
        quote_volume=Decimal("22875.8590"),
        taker_buy_base_volume=Decimal("1900"),
        taker_buy_quote_volume=Decimal("14464.6960"),
    )
    # the exchange's strings survive digit for digit, trailing zeros included
    assert (str(sushi.open), str(sushi.quote_volume)) == ("7.6080", "22875.8590")
    ctk = closed[1]
    assert (str(ctk.open), str(ctk.close), str(ctk.quote_volume)) == (
        "1.01000",
        "1.01200",
        "11193.49000",
    )
    assert (closed[2].symbol, str(closed[2].volume), closed[2].trade_count) == (
        "AKROUSDT",
        "235736",
        29,
    )
    assert (closed[3].event_time_ms, str(closed[3].taker_buy_quote_volume)) == (
        1626992762004,
        "84.7670",
    )
    # after the rollover the next candle opens at 22:26
    after = [e for e in events if isinstance(e, KlineEvent) and e.open_time_ms == 1626992760000]
    assert after and not any(e.closed for e in after)


def test_other_streams_of_the_capture_are_parse_failures_not_klines() -> None:
    frame = next(f for f in capture_frames() if "@bookTicker" in f)
    with pytest.raises(MalformedEvent, match="bookTicker"):
        parse_frame(frame)


RAW = {
    "e": "kline",
    "E": 1,
    "s": "BTCUSDT",
    "k": {
        "t": 0, "T": 59999, "s": "BTCUSDT", "i": "1m", "f": 1, "L": 2, "o": "1.0",
        "c": "2.0", "h": "2.5", "l": "0.5", "v": "10", "n": 2, "x": False, "q": "15.00",
        "V": "4", "Q": "6.00", "B": "0",
    },
}  # fmt: skip


def test_a_raw_event_gets_its_stream_name_from_symbol_and_interval() -> None:
    event = parse_frame(json.dumps(RAW))
    assert isinstance(event, KlineEvent) and event.stream == "btcusdt@kline_1m"
    assert event.closed is False and event.quote_volume == Decimal("15.00")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps({**RAW, "k": {**RAW["k"], "o": 1.0}}), "decimal string"),
        (json.dumps({**RAW, "k": {**RAW["k"], "o": "NaN"}}), "finite"),
        (json.dumps({**RAW, "k": {**RAW["k"], "x": "true"}}), "boolean"),
        (json.dumps({k: v for k, v in RAW.items() if k != "E"}), "KeyError"),
        (json.dumps({"stream": "a", "data": 3}), "envelope"),
    ],
)
def test_malformed_frames_raise_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(MalformedEvent, match=message) as info:
        parse_frame(text)
    assert info.value.raw == text


def test_replies_and_errors_are_told_apart() -> None:
    assert parse_frame('{"result":null,"id":1}') == Reply(1, None)
    assert parse_frame('{"result":["btcusdt@kline_1m"],"id":3}') == Reply(3, ["btcusdt@kline_1m"])
    err = parse_frame('{"code":2,"msg":"Invalid request: unknown variant","id":4}')
    assert isinstance(err, Reply) and not err.ok and err.error_code == 2
    nested = parse_frame('{"error":{"code":1,"msg":"Invalid value type"},"id":5}')
    assert isinstance(nested, Reply) and nested.error_msg == "Invalid value type"


def test_urls_and_requests() -> None:
    assert stream_name("BTCUSDT", "1m") == "btcusdt@kline_1m"
    assert USDM_MARKET_ROUTE.served_by("wss://fstream.binance.com/market")
    assert USDM_MARKET_ROUTE.served_by("ws://127.0.0.1:9/market/")
    assert not USDM_MARKET_ROUTE.served_by("wss://fstream.binance.com")
    assert RequiredRoute("/public", "wss://h/public", "2026-04-23").served_by("wss://h/public")
    assert raw_url("wss://h/market/") == "wss://h/market/ws"
    assert combined_url("wss://h/market", ["a@kline_1m", "b@kline_1m"]) == (
        "wss://h/market/stream?streams=a@kline_1m/b@kline_1m"
    )
    assert json.loads(subscribe_request("SUBSCRIBE", ["a"], 7)) == {
        "method": "SUBSCRIBE",
        "params": ["a"],
        "id": 7,
    }
    with pytest.raises(ValueError):
        subscribe_request("SUBSCRIBE", ["a"], -1)


def test_compare_with_rest_lists_each_differing_field_exactly() -> None:
    event = parse_frame(json.dumps({**RAW, "k": {**RAW["k"], "x": True}}))
    assert isinstance(event, KlineEvent)
    row = [0, "1.00", "2.5", "0.5", "2.0", "10", 59999, "15", 2, "4", "6", "0"]
    assert compare_with_rest(event, row) == []  # 1.0 == 1.00: the same decimal
    row[4], row[8] = "2.00000001", 3
    assert [(m.field, m.ws, m.rest) for m in compare_with_rest(event, row)] == [
        ("close", "2.0", "2.00000001"),
        ("trade_count", "2", "3"),
    ]


MARK = {
    "e": "markPriceUpdate",
    "E": 1562305380000,
    "s": "BTCUSDT",
    "p": "11794.15000000",
    "i": "11784.62659091",
    "P": "11784.25641265",
    "r": "0.00038167",
    "T": 1562306400000,
}  # fmt: skip  (binance-api.md: the USDⓈ-M "Mark Price Stream" page's example)


def test_a_mark_price_event_parses_exactly_raw_and_combined() -> None:
    event = parse_frame(json.dumps(MARK))
    assert event == MarkPriceEvent(
        stream="btcusdt@markPrice",
        event_time_ms=1562305380000,
        symbol="BTCUSDT",
        mark_price=Decimal("11794.15000000"),
        index_price=Decimal("11784.62659091"),
        estimated_settle_price=Decimal("11784.25641265"),
        funding_rate=Decimal("0.00038167"),
        next_funding_time_ms=1562306400000,
    )
    assert isinstance(event, MarkPriceEvent) and str(event.mark_price) == "11794.15000000"
    wrapped = parse_frame(json.dumps({"stream": "btcusdt@markPrice@1s", "data": MARK}))
    assert isinstance(wrapped, MarkPriceEvent) and wrapped.stream == "btcusdt@markPrice@1s"


def test_a_delivery_contract_mark_price_has_no_funding() -> None:
    # COIN-M sends "r": "" and "T": 0 for delivery contracts
    frame = {**MARK, "s": "BTCUSD_201225", "r": "", "T": 0}
    event = parse_frame(json.dumps(frame))
    assert isinstance(event, MarkPriceEvent) and event.stream == "btcusd_201225@markPrice"
    assert event.funding_rate is None and event.next_funding_time_ms is None


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ({**MARK, "p": 11794.15}, "decimal string"),
        ({**MARK, "E": "1562305380000"}, "integer"),
        ({k: v for k, v in MARK.items() if k != "i"}, "KeyError"),
        ({**MARK, "e": "markPrice"}, "expected 'kline' or 'markPriceUpdate'"),
    ],
)
def test_malformed_mark_price_events_raise_with_the_reason(
    frame: dict[str, object], message: str
) -> None:
    with pytest.raises(MalformedEvent, match=message):
        parse_frame(json.dumps(frame))


def test_stream_kinds_and_names() -> None:
    assert mark_price_stream("BTCUSDT") == "btcusdt@markPrice"
    assert mark_price_stream("BTCUSDT", every_second=True) == "btcusdt@markPrice@1s"
    assert stream_kind("btcusdt@kline_1m") == "kline"
    assert stream_kind("btcusdt@markPrice") == stream_kind("btcusdt@markPrice@1s") == "markPrice"
    for other in ("btcusdt@depth", "btcusdt@kline_", "@markPrice", "btcusdt@markPrice@3s"):
        with pytest.raises(InvalidInput, match="unsupported stream"):
            stream_kind(other)
    # a raw-endpoint mark-price event does not say its speed: both file under @markPrice
    assert event_stream("btcusdt@markPrice@1s") == event_stream("btcusdt@markPrice")
    assert event_stream("btcusdt@kline_1s") == "btcusdt@kline_1s"


def test_the_route_rule_comes_from_each_markets_description() -> None:
    usdm, coinm, spot = MARKETS["usdm"], MARKETS["coinm"], MARKETS["spot"]
    assert (
        required_route(usdm, "mainnet")
        == USDM_MARKET_ROUTE
        == RequiredRoute("/market", "wss://fstream.binance.com/market", "2026-04-23")
    )
    # the testnet answers on /market; that it requires it is assumed, so no date
    assert required_route(usdm, "testnet") == RequiredRoute(
        "/market", "wss://fstream.binancefuture.com/market", None
    )
    for network in ("mainnet", "testnet"):
        assert required_route(coinm, network) is None and required_route(spot, network) is None
    for spec in MARKETS.values():
        for network in ("mainnet", "testnet"):
            route = required_route(spec, network)
            assert route is None or route.served_by(spec.ws_url(network)), (spec.name, network)


def test_the_streams_of_a_market_and_the_mark_price_only_where_it_exists() -> None:
    coinm, spot = MARKETS["coinm"], MARKETS["spot"]
    assert market_streams(coinm, ["BTCUSD_PERP", "ETHUSD_PERP"], ["1m", "5m"], True) == [
        "btcusd_perp@kline_1m", "btcusd_perp@kline_5m", "ethusd_perp@kline_1m",
        "ethusd_perp@kline_5m", "btcusd_perp@markPrice@1s", "ethusd_perp@markPrice@1s",
    ]  # fmt: skip
    assert market_streams(spot, ["BTCUSDT"], ["1s"]) == ["btcusdt@kline_1s"]
    with pytest.raises(InvalidInput, match="spot has no mark-price stream"):
        market_streams(spot, ["BTCUSDT"], ["1m"], mark_price=True)


def test_how_often_a_stream_sends_comes_from_its_market_and_kind() -> None:
    usdm, spot = MARKETS["usdm"], MARKETS["spot"]
    assert update_period_s(usdm, "btcusdt@kline_1m") == 0.25
    assert update_period_s(spot, "btcusdt@kline_1m") == 2.0
    assert update_period_s(spot, "btcusdt@kline_1s") == 1.0  # never slower than the candle
    assert update_period_s(spot, "btcusdt@kline_1M") == 2.0
    assert update_period_s(usdm, "btcusdt@markPrice") == 3.0
    assert update_period_s(MARKETS["coinm"], "btcusd_perp@markPrice@1s") == 1.0
