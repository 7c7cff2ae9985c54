"""Kline event parsing (pure): the real fstream capture, envelopes, bad frames, REST compare."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from exchange.errors import MalformedEvent
from exchange.klines_ws import (
    KlineEvent,
    Reply,
    combined_url,
    compare_with_rest,
    has_market_route,
    parse_frame,
    raw_url,
    stream_name,
    subscribe_request,
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
    assert has_market_route("wss://fstream.binance.com/market")
    assert has_market_route("ws://127.0.0.1:9/market/")
    assert not has_market_route("wss://fstream.binance.com")
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
