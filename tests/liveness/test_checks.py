"""Each check of one stream, on literal measurements (no sockets, no sleeps)."""

from __future__ import annotations

from collections import deque

import pytest

from liveness.checks import (
    CHECKS,
    FAIL,
    NOT_OBSERVED,
    PASS,
    SKIP,
    WARN,
    CandleCheck,
    Check,
    Finding,
    check_buffer,
    check_connect,
    check_connection,
    check_events,
    check_lag,
    check_order,
    check_parse,
    check_rest,
    check_stall,
    check_subscribe,
    compare_candle,
    lag_summary,
    stall_limit,
    stream_checks,
    worst,
)
from tests.liveness.literals import (
    BTC,
    BTC_MARK,
    OPEN_MS,
    closed_candle,
    connection,
    rest_row,
    stats,
)


def test_worst_is_fail_then_warn_then_pass() -> None:
    assert worst([PASS, WARN, FAIL, SKIP]) == FAIL
    assert worst([PASS, WARN, NOT_OBSERVED]) == WARN
    assert worst([PASS, NOT_OBSERVED, SKIP]) == worst([]) == PASS


# ---------------------------------------------------------------------- connect


def test_a_connection_that_opened_passes_with_its_time() -> None:
    assert check_connect(connection()).check == Check("connect", PASS, "connected in 12 ms")


@pytest.mark.parametrize(
    ("stage", "detail", "status", "text", "category", "advice"),
    [
        ("dns_tcp", "OSError: refused", None, "DNS/TCP failure: OSError: refused", "dns_tcp", "dns_tcp"),
        ("tls", "SSLError: wrong version", None, "TLS failure: SSLError: wrong version", "tls", "tls"),
        ("timeout", "no handshake within 10 s", None, "opening handshake timed out: no handshake within 10 s", "timeout", "timeout"),
        ("upgrade", "HTTP 451", 451, "HTTP upgrade refused: HTTP 451", "upgrade-451", "upgrade-451"),
        ("upgrade", "HTTP 403", 403, "HTTP upgrade refused: HTTP 403", "upgrade-403", "upgrade-403"),
        ("upgrade", "HTTP 404", 404, "HTTP upgrade refused: HTTP 404", "upgrade-404", "upgrade"),
    ],
)  # fmt: skip
def test_a_failed_connection_names_its_stage(
    stage: str, detail: str, status: int | None, text: str, category: str, advice: str
) -> None:
    conn = connection(
        connect_ms=None, failure_stage=stage, failure_detail=detail, failure_status=status
    )
    outcome = check_connect(conn)
    assert outcome.check == Check("connect", FAIL, text)
    assert outcome.finding == Finding(category, text, advice)


# ---------------------------------------------------------------------- subscribe


def test_subscribe_acknowledged_rejected_or_unanswered() -> None:
    assert check_subscribe(stats()).check == Check(
        "subscribe", PASS, 'acknowledged ({"result": null})'
    )
    rejected = check_subscribe(stats(ack="rejected", ack_error="code 2: Invalid request"))
    text = "subscription rejected by the server: code 2: Invalid request"
    assert rejected.check == Check("subscribe", FAIL, text)
    assert rejected.finding == Finding("rejected", text, "rejected")
    silent = check_subscribe(stats(ack="no-reply"))
    assert silent.check == Check("subscribe", FAIL, "no reply to SUBSCRIBE")
    assert silent.finding is not None and silent.finding.advice == "no-ack"


# ---------------------------------------------------------------------- events


def test_events_pass_with_count_first_event_and_rate() -> None:
    outcome = check_events(stats(), 30.0, None)
    assert outcome == check_events(stats(), 30.0, "/market")  # a route is blamed only for silence
    assert outcome.check == Check("events", PASS, "120 events, first after 0.25 s, 4.00/s")
    assert outcome.finding is None


def test_zero_events_fail_and_blame_a_missing_route_only_when_there_is_one() -> None:
    plain = check_events(stats(events=0), 0.6, None)
    assert plain.check == Check("events", FAIL, "subscribed but silent: 0 events in 0.6 s")
    assert plain.finding == Finding("silent", plain.check.detail, "silent")
    blamed = check_events(stats(events=0), 30.0, "/market")
    assert blamed.check.detail == (
        "subscribed but silent: the server acknowledged, then sent 0 events in 30 s; "
        "the URL lacks the /market route, the likely cause"
    )
    assert blamed.finding is not None and blamed.finding.advice == "silent-route"
    assert "/private route" in check_events(stats(events=0), 30.0, "/private").check.detail


# ---------------------------------------------------------------------- stall


def test_stall_fails_after_the_limit_passes_before_and_skips_without_events() -> None:
    stalled = check_stall(stats(events=7, silence_at_end_s=6.25), 5.0)
    assert stalled.check == Check(
        "stall", FAIL, "stream stalled after 7 events: nothing for the last 6.2 s (limit 5 s)"
    )
    assert stalled.finding is not None and stalled.finding.category == "stalled"
    assert check_stall(stats(silence_at_end_s=5.0), 5.0).check == Check(
        "stall", PASS, "last event 5.00 s before the end"
    )
    assert check_stall(stats(events=0, silence_at_end_s=None), 5.0).check.status == SKIP


def test_a_stall_is_at_least_two_missed_events_of_the_stream() -> None:
    assert stall_limit(5.0, 0.25) == 5.0  # futures klines: the window's limit
    assert stall_limit(0.5, 2.0) == 4.0  # spot klines in a short window: two periods
    assert stall_limit(0.5, 1.0) == 2.0  # a mark price @1s
    assert stall_limit(0.5, 0.0) == 0.5  # no known cadence
    quiet_second = stats(BTC_MARK, events=1, silence_at_end_s=1.2)
    assert check_stall(quiet_second, stall_limit(0.5, 1.0)).check.status == PASS
    assert check_stall(quiet_second, 0.5).check.status == FAIL


# ---------------------------------------------------------------------- connection


def test_a_disconnect_reconnected_once_is_a_warning() -> None:
    closed = "at +0.4 s: close code 1000 (connection age limit reached)"
    outcome = check_connection(connection(disconnects=[closed], reconnects=1))
    assert outcome.check == Check(
        "connection",
        WARN,
        f"disconnected by the server mid-sample ({closed}); reconnected once and resubscribed",
    )
    assert outcome.finding is not None and outcome.finding.advice == "reconnected"


def test_a_second_disconnect_or_a_failed_reconnect_fails() -> None:
    twice = ["at +0.2 s: close code 1000", "at +0.4 s: close code 1000"]
    again = check_connection(connection(disconnects=twice, reconnects=1))
    assert again.check.status == FAIL
    assert again.check.detail.endswith("; closed again after the one reconnect")
    refused = check_connection(
        connection(disconnects=twice[:1], reconnect_failure="DNS/TCP failure: refused")
    )
    assert refused.check.detail == (
        "disconnected by the server mid-sample (at +0.2 s: close code 1000); "
        "DNS/TCP failure: refused"
    )
    assert refused.finding is not None and refused.finding.advice == "reconnect-failed"
    assert check_connection(connection()).check == Check("connection", PASS, "no disconnect")


# ---------------------------------------------------------------------- parse, lag, order, buffer


def test_parse_failures_fail_with_the_first_example() -> None:
    s = stats(parse_failures=4, parse_examples=["bad kline event: TypeError expected a decimal string: {...}"])  # fmt: skip
    assert check_parse(s).check == Check(
        "parse",
        FAIL,
        "4 frames could not be parsed (e.g. bad kline event: TypeError expected a decimal string: {...})",
    )
    assert check_parse(stats(events=0, parse_failures=2)).check.status == FAIL  # nothing parsed
    assert check_parse(stats()).check == Check("parse", PASS, "every frame parsed")
    assert check_parse(stats(events=0)).check == Check("parse", SKIP, "no events")


def test_lag_percentiles_are_inclusive_and_a_high_p95_warns() -> None:
    assert lag_summary([100.0]) is not None and lag_summary([100.0]).p95 == 100.0  # type: ignore[union-attr]
    assert lag_summary([]) is None
    ok = check_lag(stats(lag_ms=deque(float(ms) for ms in range(0, 101))))
    assert ok.check == Check("lag", PASS, "lag E→receive p50 50 ms, p95 95 ms, max 100 ms")
    slow = check_lag(stats(lag_ms=deque([100.0] * 90 + [2500.0] * 10)))
    assert slow.check.status == WARN and "p95 2500 ms" in slow.check.detail
    assert slow.finding is not None and slow.finding.message.startswith(
        "high lag between event time and receipt: lag E→receive p50 100 ms"
    )
    edge = [100.0] * 90 + [2000.0] * 10  # exactly at the limit: not above it
    assert check_lag(stats(lag_ms=deque(edge))).check.status == PASS
    assert check_lag(stats(events=0, lag_ms=deque())).check == Check("lag", SKIP, "no events")


def test_out_of_order_or_duplicate_events_warn() -> None:
    outcome = check_order(stats(out_of_order=2, duplicates=1))
    assert outcome.check == Check("order", WARN, "2 out-of-order and 1 duplicate events")
    assert check_order(stats(duplicates=1)).check.status == WARN
    assert check_order(stats()).check == Check("order", PASS, "in order, no duplicates")
    assert check_order(stats(events=0)).check.status == SKIP


def test_a_full_buffer_warns() -> None:
    outcome = check_buffer(stats(overflow=17))
    assert outcome.check == Check(
        "buffer", WARN, "17 events dropped from a full buffer (consumer too slow)"
    )
    assert outcome.finding is not None and outcome.finding.advice == "overflow"
    assert check_buffer(stats()).check == Check("buffer", PASS, "no overflow")
    assert check_buffer(stats(events=0)).check.status == SKIP


# ---------------------------------------------------------------------- rest


def test_closed_candles_identical_to_rest_pass() -> None:
    candle = closed_candle()
    checked = [compare_candle(candle, [rest_row(candle)])]
    assert checked == [CandleCheck(OPEN_MS, [])]
    assert check_rest(stats(closed=[candle]), checked, None, 30.0).check == Check(
        "rest", PASS, "1 closed candles identical to REST, field by field"
    )


def test_a_disagreement_or_a_missing_candle_fails_naming_the_fields() -> None:
    candle, later = closed_candle(), closed_candle(OPEN_MS + 60_000)
    checked = [
        compare_candle(candle, [rest_row(candle, close="65000.11", trade_count=10)]),
        compare_candle(later, []),  # REST has no such candle
    ]
    assert checked[1] == CandleCheck(OPEN_MS + 60_000, missing=True)
    outcome = check_rest(stats(closed=[candle, later]), checked, None, 30.0)
    assert outcome.check == Check(
        "rest",
        FAIL,
        "REST/WS disagreement on 2 of 2 closed candles: 2026-11-02 00:06: close ws 65000.10 "
        "≠ rest 65000.11, trade_count ws 9 ≠ rest 10; 2026-11-02 00:07 missing from REST",
    )
    assert outcome.finding is not None and outcome.finding.advice == "rest-mismatch"


def test_no_close_in_the_window_is_not_observed_even_when_rest_failed() -> None:
    assert check_rest(stats(), None, None, 30.0).check == Check(
        "rest", NOT_OBSERVED, "no candle closed within the 30 s window"
    )
    assert check_rest(stats(), None, "HTTP 503", 30.0).check.status == NOT_OBSERVED


def test_rest_that_could_not_be_asked_fails_when_a_candle_closed() -> None:
    outcome = check_rest(stats(closed=[closed_candle()]), None, "HTTP 503 from /fapi/v1/time", 30.0)
    assert outcome.check == Check(
        "rest", FAIL, "REST cross-check failed: HTTP 503 from /fapi/v1/time"
    )
    assert outcome.finding is not None and outcome.finding.advice == "rest-error"


# ---------------------------------------------------------------------- one stream


def run(s: object = None, conn: object = None, **kw: object) -> list[Check]:
    values: dict[str, object] = dict(
        seconds=30.0, stall_after=5.0, missing_route=None, candles=None, rest_error=None
    )
    values.update(kw)
    outcomes = stream_checks(s or stats(), conn or connection(), **values)  # type: ignore[arg-type]
    return [o.check for o in outcomes]


def test_a_healthy_kline_stream_has_every_check_in_order() -> None:
    checks = run()
    assert [c.name for c in checks] == list(CHECKS)
    assert [c.status for c in checks] == [PASS] * 9 + [NOT_OBSERVED]


def test_a_mark_price_stream_has_every_check_but_rest() -> None:
    checks = run(stats(BTC_MARK))
    assert [c.name for c in checks] == [n for n in CHECKS if n != "rest"]
    assert {c.status for c in checks} == {PASS}


def test_after_a_failed_connection_every_other_check_is_skipped() -> None:
    conn = connection(connect_ms=None, failure_stage="dns_tcp", failure_detail="refused")
    checks = run(stats(ack="not-sent", events=0, lag_ms=deque()), conn)
    assert checks[0].status == FAIL
    assert {(c.status, c.detail) for c in checks[1:]} == {(SKIP, "no connection")}
    assert len(run(stats(BTC_MARK), conn)) == len(CHECKS) - 1


def test_after_a_rejected_subscription_the_later_checks_are_skipped() -> None:
    checks = run(stats(ack="rejected", ack_error="code 2: x", events=0, lag_ms=deque()))
    assert [c.status for c in checks[:2]] == [PASS, FAIL]
    assert {(c.status, c.detail) for c in checks[2:]} == {(SKIP, "not subscribed")}


def test_an_unanswered_subscription_still_runs_the_later_checks() -> None:
    checks = run(stats(ack="no-reply", events=0, lag_ms=deque(), silence_at_end_s=None))
    assert [(c.name, c.status) for c in checks[1:4]] == [
        ("subscribe", FAIL),
        ("events", FAIL),
        ("stall", SKIP),
    ]


def test_one_stream_can_fail_several_checks_at_once() -> None:
    s = stats(BTC, parse_failures=3, parse_examples=["e"], overflow=2, silence_at_end_s=9.0)
    statuses = {c.name: c.status for c in run(s)}
    assert (statuses["parse"], statuses["stall"], statuses["buffer"]) == (FAIL, FAIL, WARN)
    assert statuses["events"] == PASS
