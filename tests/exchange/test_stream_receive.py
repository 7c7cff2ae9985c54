"""The stream client's per-frame measurement, fed literal frames (no sockets)."""

from __future__ import annotations

import json

from exchange.stream import KlineStreamClient, StreamConfig

BTC_1M, BTC_MARK = "btcusdt@kline_1m", "btcusdt@markPrice@1s"
E = 1793578050000  # 2026-11-02 00:07:30 UTC


def kline(e: int = E, close: str = "2.0", closed: bool = False, open_ms: int = E - 30_000) -> str:
    k = {
        "t": open_ms, "T": open_ms + 59_999, "s": "BTCUSDT", "i": "1m", "f": 1, "L": 2,
        "o": "1.0", "c": close, "h": "2.5", "l": "0.5", "v": "10", "n": 2, "x": closed,
        "q": "15.00", "V": "4", "Q": "6.00", "B": "0",
    }  # fmt: skip
    return json.dumps({"e": "kline", "E": e, "s": "BTCUSDT", "k": k})


def mark(e: int = E, price: str = "65000.10", envelope: str | None = None) -> str:
    data = {
        "e": "markPriceUpdate", "E": e, "s": "BTCUSDT", "p": price, "i": "64990.00",
        "P": "64995.00", "r": "0.00010000", "T": E + 3_600_000,
    }  # fmt: skip
    return json.dumps({"stream": envelope, "data": data} if envelope else data)


def client(*streams: str) -> KlineStreamClient:
    return KlineStreamClient(StreamConfig(), list(streams or (BTC_1M, BTC_MARK)))


def test_mark_price_events_raw_and_combined_reach_their_stream() -> None:
    c = client()
    c.receive(mark(), recv_ms=E + 40)
    c.receive(mark(E + 1000, envelope=BTC_MARK), recv_ms=E + 1025)
    s = c.stats[BTC_MARK]
    assert (s.kind, s.events, list(s.lag_ms), s.closed) == ("markPrice", 2, [40, 25], [])
    assert c.stats[BTC_1M].events == 0 and len(c.drain(BTC_MARK)) == 2


def test_kline_and_mark_price_streams_are_measured_side_by_side() -> None:
    c = client()
    c.receive(kline(), recv_ms=E + 10)
    c.receive(mark(), recv_ms=E + 20)
    assert (c.stats[BTC_1M].events, c.stats[BTC_MARK].events) == (1, 1)
    assert c.stats[BTC_1M].kind == "kline"


def test_duplicates_and_late_events_are_counted_per_kind() -> None:
    c = client()
    for text in (mark(E), mark(E), mark(E - 1000, "64000"), kline(E), kline(E), kline(E - 5)):
        c.receive(text, recv_ms=E + 50)
    for name in (BTC_1M, BTC_MARK):
        s = c.stats[name]
        assert (s.events, s.duplicates, s.out_of_order) == (3, 1, 1), name


def test_a_closed_candle_is_kept_once_however_often_it_is_sent() -> None:
    c = client(BTC_1M)
    for _ in range(2):
        c.receive(kline(E, closed=True), recv_ms=E)
    c.receive(kline(E + 30_000, open_ms=E + 30_000), recv_ms=E + 30_000)
    assert [e.open_time_ms for e in c.stats[BTC_1M].closed] == [E - 30_000]


def test_a_stream_not_asked_for_is_ignored_and_a_bad_frame_is_filed_by_symbol() -> None:
    c = client(BTC_MARK)
    c.receive(kline(), recv_ms=E)  # btcusdt@kline_1m: not subscribed
    c.receive(mark(price="NaN"), recv_ms=E)
    s = c.stats[BTC_MARK]
    assert (s.events, s.parse_failures) == (0, 1)
    assert s.parse_examples[0].startswith("bad markPrice event: ValueError not a finite decimal")


def test_replies_settle_the_subscription() -> None:
    c = client(BTC_1M)
    c._pending[1] = [BTC_1M]
    c.receive('{"code":2,"msg":"Invalid request: too many parameters","id":1}', recv_ms=E)
    s = c.stats[BTC_1M]
    assert (s.ack, s.ack_error) == ("rejected", "code 2: Invalid request: too many parameters")
