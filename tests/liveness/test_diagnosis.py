"""The run's verdict, diagnosis, next steps and notes, from literal samples (pure)."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import liveness
from exchange.stream import SampleResult
from exchange.ws_events import USDM_MARKET_ROUTE, RequiredRoute
from liveness.checks import FAIL, NOT_OBSERVED, PASS, WARN, CandleCheck, Finding, compare_candle
from liveness.diagnosis import ADVICE, MarketSample, advice, build_report, diagnose
from liveness.report import LivenessReport
from tests.liveness.literals import (
    BTC,
    BTC_MARK,
    ETH,
    closed_candle,
    connection,
    rest_row,
    sample,
    stats,
)

MARKET_URL = "wss://exchange.test/market"
LEGACY_URL = "wss://exchange.test"
SILENT = dict(events=0, lag_ms=deque(), first_event_s=None, silence_at_end_s=None)


def market_sample(
    s: SampleResult | None = None,
    candles: dict[str, list[CandleCheck]] | None = None,
    rest_error: str | None = None,
    **kw: Any,
) -> MarketSample:
    values: dict[str, Any] = dict(
        market="usdm",
        title="USDⓈ-M futures",
        ws_url=MARKET_URL,
        rest_url="https://rest.test",
        clock_offset_ms=-12,
        required_route=USDM_MARKET_ROUTE,
    )
    values.update(kw)
    return MarketSample(sample=s or sample(), candles=candles, rest_error=rest_error, **values)


def build(*markets: MarketSample, stall_after: float = 5.0) -> LivenessReport:
    return build_report(
        markets,
        run_id="run-1",
        started_at=datetime(2026, 11, 2, 0, 7, 30, tzinfo=UTC),
        network="mainnet",
        api_key_masked=None,
        versions={},
        stall_after=stall_after,
    )


def report(
    s: SampleResult | None = None,
    candles: dict[str, list[CandleCheck]] | None = None,
    rest_error: str | None = None,
    **kw: Any,
) -> LivenessReport:
    """One market's report (USDⓈ-M on /market unless told otherwise)."""
    return build(market_sample(s, candles, rest_error, **kw))


def status(r: LivenessReport, check: str, stream: str = BTC) -> tuple[str, str]:
    s = next(s for s in r.streams if s.stream == stream)
    c = next(c for c in s.checks if c.name == check)
    return c.status, c.detail


def test_a_healthy_sample_passes_and_its_closed_candles_equal_rest() -> None:
    candle = closed_candle()
    checked = {BTC: [compare_candle(candle, [rest_row(candle)])]}
    r = report(sample(stats(closed=[candle])), checked)
    assert (r.verdict, r.healthy, r.diagnosis, r.next_steps, r.notes) == (PASS, True, [], [], [])
    assert status(r, "rest") == (PASS, "1 closed candles identical to REST, field by field")
    assert r.streams[0].candles == checked[BTC]
    assert r.streams[0].metrics == {
        "connect_ms": 12.0, "ack": "ok", "ack_error": None, "first_event_s": 0.25,
        "events": 120, "events_per_s": 4.0, "parse_failures": 0, "lag_p50_ms": 55.0,
        "lag_p95_ms": 81.25, "lag_max_ms": 85.0, "out_of_order": 0, "duplicates": 0,
        "overflow": 0, "closed_seen": 1, "rest_mismatches": 0, "disconnects": 0,
        "reconnects": 0,
    }  # fmt: skip
    assert (r.seconds, r.network) == (30.0, "mainnet")
    assert (r.markets[0].clock_offset_ms, r.markets[0].ws_url) == (-12, MARKET_URL)


def test_a_window_without_a_close_is_not_observed_not_failed() -> None:
    r = report(sample(stats()), {BTC: []})
    assert status(r, "rest")[0] == NOT_OBSERVED and r.verdict == PASS
    assert r.notes == [
        "No candle closed during the 30 s window on some streams, so their REST cross-check "
        "was not observed (not a failure): sample longer than the interval (e.g. --seconds 90 "
        "for 1m) to cover a close."
    ]


def test_a_refused_connection_fails_every_stream_with_one_diagnosis_line() -> None:
    conn = connection(BTC, ETH, connect_ms=None, failure_stage="dns_tcp", failure_detail="refused")
    r = report(sample(stats(BTC, ack="not-sent", **SILENT), stats(ETH, ack="not-sent", **SILENT), conn=conn))  # fmt: skip
    assert (r.verdict, r.healthy) == (FAIL, False)
    assert status(r, "events") == ("SKIP", "no connection")
    assert r.diagnosis == [f"{BTC}, {ETH}: DNS/TCP failure: refused"]
    assert r.next_steps == [
        "Check the host and port in KLINES_WS_URL, DNS, and that outbound TCP to it is "
        "allowed (firewall, proxy)."
    ]


def test_each_refused_upgrade_gets_its_own_advice() -> None:
    def steps(code: int) -> list[str]:
        conn = connection(failure_stage="upgrade", failure_detail=f"HTTP {code}", failure_status=code)  # fmt: skip
        return report(sample(stats(**SILENT), conn=conn)).next_steps

    assert "location" in steps(451)[0] and "WAF" in steps(403)[0]
    assert steps(404) == [
        "Check the URL path: kline streams are at <base>/ws and <base>/stream under /market."
    ]
    conn = connection(failure_stage="upgrade", failure_detail="HTTP 404", failure_status=404)
    no_rule = report(sample(stats(**SILENT), conn=conn), required_route=None)
    assert no_rule.next_steps == [
        "Check the URL path: kline streams are at <base>/ws and <base>/stream."
    ]


def test_a_rejected_subscription_quotes_the_server_once_for_its_streams() -> None:
    why = dict(ack="rejected", ack_error="code 2: Invalid request: too many parameters")
    r = report(sample(stats(BTC, **why, **SILENT), stats(ETH, **why, **SILENT)))
    assert status(r, "subscribe") == (
        FAIL,
        "subscription rejected by the server: code 2: Invalid request: too many parameters",
    )
    assert r.diagnosis == [
        f"{BTC}, {ETH}: subscription rejected by the server: code 2: Invalid request: too many parameters"
    ]
    assert status(r, "lag", ETH) == ("SKIP", "not subscribed")


def test_silence_on_a_url_without_the_required_route_blames_the_route() -> None:
    r = report(sample(stats(**SILENT)), ws_url=LEGACY_URL)
    assert status(r, "subscribe")[0] == PASS
    state, detail = status(r, "events")
    assert state == FAIL and "subscribed but silent" in detail and "/market route" in detail
    assert r.next_steps == [
        "Set KLINES_WS_URL=wss://fstream.binance.com/market (klines are served only under "
        "/market since 2026-04-23) and rerun."
    ]
    assert r.notes[-1] == (
        "wss://exchange.test has no /market route: since 2026-04-23 Binance serves kline "
        "streams only under wss://fstream.binance.com/market."
    )


def test_silence_on_the_route_or_without_a_rule_is_still_a_fail_without_blame() -> None:
    for r in (
        report(sample(stats(**SILENT))),  # on /market
        report(sample(stats(**SILENT)), ws_url=LEGACY_URL, required_route=None),  # no rule
    ):
        assert status(r, "events") == (FAIL, "subscribed but silent: 0 events in 30 s")
        assert r.verdict == FAIL and "/market" not in " ".join(r.diagnosis + r.notes)
        assert r.next_steps == [ADVICE["silent"]]


def test_a_caller_given_route_rule_is_the_one_advised() -> None:
    testnet = RequiredRoute("/public", "wss://testnet.exchange.test/public", "2026-09-01")
    r = report(sample(stats(**SILENT)), ws_url=MARKET_URL, required_route=testnet)
    assert "lacks the /public route" in status(r, "events")[1]
    assert r.next_steps == [
        "Set KLINES_WS_URL=wss://testnet.exchange.test/public (klines are served only under "
        "/public since 2026-09-01) and rerun."
    ]
    # a URL with a route is not blamed when there is data: the rule explains silence only
    assert report(sample(stats()), required_route=testnet).diagnosis == []


def test_a_stream_that_stops_is_stalled_though_it_had_events() -> None:
    r = report(sample(stats(events=40, silence_at_end_s=7.5)))
    assert status(r, "stall") == (
        FAIL,
        "stream stalled after 40 events: nothing for the last 7.5 s (limit 5 s)",
    )
    assert status(r, "events")[0] == PASS and r.verdict == FAIL


def test_a_reconnected_disconnect_leaves_the_run_healthy_with_a_warning() -> None:
    closed = "at +0.4 s: close code 1000 (connection age limit reached)"
    r = report(sample(stats(), conn=connection(disconnects=[closed], reconnects=1)))
    assert (status(r, "connection")[0], r.verdict, r.healthy) == (WARN, WARN, True)
    assert status(r, "stall")[0] == PASS
    assert r.next_steps == [ADVICE["reconnected"]]
    assert r.streams[0].metrics["disconnects"] == r.streams[0].metrics["reconnects"] == 1


def test_a_second_disconnect_fails_the_run() -> None:
    conn = connection(disconnects=["at +0.2 s: close code 1000"] * 2, reconnects=1)
    r = report(sample(stats(), conn=conn))
    state, detail = status(r, "connection")
    assert (state, r.verdict) == (FAIL, FAIL) and "closed again after the one reconnect" in detail


def test_a_rest_disagreement_fails_and_lists_the_field() -> None:
    candle = closed_candle()
    checked = {BTC: [compare_candle(candle, [rest_row(candle, close="65001.10")])]}
    r = report(sample(stats(closed=[candle])), checked)
    state, detail = status(r, "rest")
    assert state == FAIL and detail.startswith("REST/WS disagreement on 1 of 1 closed candles")
    assert "2026-11-02 00:06: close ws 65000.10 ≠ rest 65001.10" in detail
    assert "reconciling them with REST" in r.next_steps[0]
    assert r.streams[0].metrics["rest_mismatches"] == 1


def test_rest_that_failed_fails_only_the_streams_that_saw_a_close() -> None:
    r = report(sample(stats(BTC, closed=[closed_candle()]), stats(ETH)), None, "HTTP 503")
    assert status(r, "rest", BTC) == (FAIL, "REST cross-check failed: HTTP 503")
    assert status(r, "rest", ETH)[0] == NOT_OBSERVED
    assert r.next_steps == ["Check KLINES_REST_URL and the network, then rerun."]


def test_warnings_alone_leave_the_run_healthy() -> None:
    s = stats(lag_ms=deque([3000.0] * 4), duplicates=2, overflow=5)
    r = report(sample(s))
    assert (r.verdict, r.healthy) == (WARN, True)
    assert r.diagnosis == [
        f"{BTC}: high lag between event time and receipt: "
        "lag E→receive p50 3000 ms, p95 3000 ms, max 3000 ms",
        f"{BTC}: 0 out-of-order and 2 duplicate events",
        f"{BTC}: 5 events dropped from a full buffer (consumer too slow)",
    ]
    assert r.next_steps == [ADVICE["lag"], ADVICE["order"], ADVICE["overflow"]]


def test_a_mark_price_stream_is_judged_without_rest_and_needs_no_close() -> None:
    r = report(sample(stats(BTC_MARK)), {BTC_MARK: []})
    assert (r.verdict, r.notes, r.diagnosis) == (PASS, [], [])
    assert "rest" not in {c.name for c in r.streams[0].checks}
    assert r.streams[0].kind == "markPrice"
    silent = report(sample(stats(BTC_MARK, **SILENT)), ws_url=LEGACY_URL)
    assert "lacks the /market route" in status(silent, "events", BTC_MARK)[1]


def test_no_stream_at_all_is_a_fail() -> None:
    empty = SampleResult("wss://exchange.test/market/ws", 30.0, 0, [], [])
    assert report(empty).verdict == FAIL


def test_the_diagnosis_groups_findings_names_five_streams_and_dedups_steps() -> None:
    streams = [f"s{i}usdt@kline_1m" for i in range(7)]
    findings = [(name, Finding("silent", "subscribed but silent", "silent")) for name in streams]
    findings.insert(2, ("x", Finding("lag", "high lag", "lag")))
    findings.append(("y", Finding("order", "late", "lag")))  # the same advice as "lag"
    diagnosis, steps = diagnose(findings, None)
    assert diagnosis == [
        "s0usdt@kline_1m, s1usdt@kline_1m, s2usdt@kline_1m, s3usdt@kline_1m, "
        "s4usdt@kline_1m and 2 more: subscribed but silent",
        "x: high lag",
        "y: late",
    ]
    assert steps == [ADVICE["silent"], ADVICE["lag"]]


def test_every_advice_is_filled_in_from_the_route_rule() -> None:
    for key in ADVICE:
        text = advice(Finding("c", "m", key), USDM_MARKET_ROUTE)
        assert text and "{" not in text and "}" not in text, key


def test_the_liveness_package_names_no_exchange_url_or_route() -> None:
    # the route rule and the stream names are the caller's (flows/liveness.py)
    for path in Path(liveness.__file__).parent.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "fstream" not in text and "/market" not in text, path.name


# ---------------------------------------------------------------------- several markets


def test_several_markets_keep_their_streams_routes_and_advice_apart() -> None:
    usdm = market_sample(
        sample(stats(**SILENT)), ws_url=LEGACY_URL, ws_setting="KLINES_WS_URL_USDM"
    )
    spot = market_sample(
        sample(stats(**SILENT)),
        market="spot",
        title="spot",
        ws_url="wss://spot.exchange.test",
        required_route=None,
        ws_setting="KLINES_WS_URL_SPOT",
    )
    r = build(usdm, spot)
    assert [m.market for m in r.markets] == ["usdm", "spot"]
    assert [s.stream for s in r.streams] == [BTC, BTC]  # one name, two markets
    assert r.verdict == FAIL
    assert r.diagnosis == [
        f"[USDⓈ-M futures] {BTC}: subscribed but silent: the server acknowledged, then sent 0 "
        "events in 30 s; the URL lacks the /market route, the likely cause",
        f"[spot] {BTC}: subscribed but silent: 0 events in 30 s",
    ]
    assert r.next_steps == [
        "Set KLINES_WS_URL_USDM=wss://fstream.binance.com/market (klines are served only "
        "under /market since 2026-04-23) and rerun.",
        ADVICE["silent"],
    ]
    assert r.notes[1:] == [  # after the window's note (no close seen)
        "wss://exchange.test has no /market route: since 2026-04-23 Binance serves kline "
        "streams only under wss://fstream.binance.com/market."
    ]


def test_the_same_advice_from_two_markets_is_one_step() -> None:
    slow = dict(lag_ms=deque([3000.0] * 4))
    r = build(
        market_sample(sample(stats(**slow))),
        market_sample(sample(stats(**slow)), market="coinm", title="COIN-M futures"),
    )
    assert (r.verdict, r.next_steps) == (WARN, [ADVICE["lag"]])
    assert [line.split("]")[0] for line in r.diagnosis] == ["[USDⓈ-M futures", "[COIN-M futures"]


def test_a_route_assumed_on_the_testnet_is_advised_as_unconfirmed() -> None:
    testnet = RequiredRoute("/market", "wss://fstream.binancefuture.com/market")
    r = report(sample(stats(**SILENT)), ws_url=LEGACY_URL, required_route=testnet)
    assert "lacks the /market route" in status(r, "events")[1]
    assert r.next_steps == [
        "Set KLINES_WS_URL=wss://fstream.binancefuture.com/market (klines are served only "
        "under /market on mainnet; assumed here, unconfirmed) and rerun."
    ]
    assert r.notes[1:] == [
        "wss://exchange.test has no /market route: Binance serves kline streams only under "
        "wss://fstream.binancefuture.com/market (documented for mainnet; assumed on this "
        "network, unconfirmed)."
    ]


def test_a_stream_is_stalled_only_after_two_of_its_periods() -> None:
    quiet = sample(stats(BTC_MARK, events=2, silence_at_end_s=1.2))
    kept = build(market_sample(quiet, periods={BTC_MARK: 1.0}), stall_after=0.5)
    assert status(kept, "stall", BTC_MARK)[0] == PASS
    stalled = build(market_sample(quiet), stall_after=0.5)
    assert status(stalled, "stall", BTC_MARK) == (
        FAIL,
        "stream stalled after 2 events: nothing for the last 1.2 s (limit 0.5 s)",
    )
