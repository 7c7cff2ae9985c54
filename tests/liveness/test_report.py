"""The Markdown report, from a literal report value (pure): the layout the Prefect UI shows."""

from __future__ import annotations

from datetime import UTC, datetime

from exchange.ws_events import USDM_MARKET_ROUTE, FieldMismatch, RequiredRoute
from liveness.checks import CHECKS, CandleCheck, Check
from liveness.report import LivenessReport, MarketReport, StreamReport, render_report
from tests.liveness.literals import BTC_MARK, OPEN_MS


def literal_report() -> LivenessReport:
    ok = [Check(n, "PASS", "fine") for n in ("connect", "subscribe", "events")]
    usdm = MarketReport(
        market="usdm",
        title="USDⓈ-M futures",
        ws_url="wss://fstream.binance.com/market",
        rest_url="https://fapi.binance.com",
        clock_offset_ms=-12,
        route=USDM_MARKET_ROUTE,
        streams=[
            StreamReport("btcusdt@kline_1m", ok, {"events": 120, "lag_p95_ms": 85.0}),
            StreamReport(
                "ethusdt@kline_1m",
                [*ok, Check("rest", "FAIL", "REST/WS disagreement on 1 of 1 closed candles")],
                {"events": 118, "lag_p95_ms": None},
                [CandleCheck(OPEN_MS, [FieldMismatch("close", "3200.01", "3200.00")])],
            ),
        ],
    )
    return LivenessReport(
        run_id="run-1",
        started_at=datetime(2026, 11, 2, 0, 7, 30, tzinfo=UTC),
        network="mainnet",
        seconds=30.0,
        api_key_masked="6qv2KVTj...1NiD",
        versions={"Python": "3.11.7", "websockets": "16.1.1"},
        markets=[usdm],
        diagnosis=["ethusdt@kline_1m: REST/WS disagreement on 1 of 1 closed candles"],
        next_steps=["Do not store WebSocket candles without reconciling them with REST."],
    )


def test_the_report_has_metadata_summary_verdict_diagnosis_and_details() -> None:
    text = render_report(literal_report())
    assert text.startswith("# WebSocket liveness: FAIL\n")
    for expected in (
        "- **run:** `run-1`\n",
        "- **time (UTC):** 2026-11-02 00:07:30\n",
        "- **network:** mainnet\n",
        "- **markets:** USDⓈ-M futures (`usdm`)\n",
        "- **window:** 30 s\n",
        "- **API key:** 6qv2KVTj...1NiD\n",
        "- **versions:** Python 3.11.7, websockets 16.1.1\n",
        "- **USDⓈ-M futures** (`usdm`):\n",
        "  - **WebSocket URL:** `wss://fstream.binance.com/market`\n",
        "  - **REST URL:** `https://fapi.binance.com`\n",
        "  - **route rule:** kline streams only under `/market`, since 2026-04-23: "
        "`wss://fstream.binance.com/market`\n",
        "  - **clock offset:** -12 ms (exchange − local)\n",
        "  - **streams:** `btcusdt@kline_1m`, `ethusdt@kline_1m`\n",
        # five columns: the checks that did not pass are named, the rest follow per stream
        "## Summary\n\n### USDⓈ-M futures (`usdm`)\n\n"
        "| stream | verdict | events | lag p95 | checks not passed |\n|---|---|---|---|---|\n",
        "| `btcusdt@kline_1m` | **PASS** | 120 | 85 ms | 7 skipped |\n",
        "| `ethusdt@kline_1m` | **FAIL** | 118 | – | rest FAIL; 6 skipped |\n",
        "## Verdict: FAIL\n\nUnhealthy: see the diagnosis.",
        "- ethusdt@kline_1m: REST/WS disagreement on 1 of 1 closed candles",
        "1. Do not store WebSocket candles without reconciling them with REST.",
        "## Per-stream details\n\n### USDⓈ-M futures (`usdm`)\n\n#### `btcusdt@kline_1m`: PASS",
        "#### `ethusdt@kline_1m`: FAIL",
        "- **rest** FAIL: REST/WS disagreement on 1 of 1 closed candles\n",
        "- numbers: events 118, lag_p95_ms –",
        "| closed candle (UTC) | REST comparison |\n|---|---|\n",
        "| 2026-11-02 00:06 | close: ws 3200.01 ≠ rest 3200.00 |",
    ):
        assert expected in text, expected


def test_the_report_has_no_table_without_a_header_and_no_row_wider_than_five_columns() -> None:
    lines = render_report(literal_report()).splitlines()
    tables = [i for i, line in enumerate(lines) if line.startswith("|---")]
    assert all(lines[i - 1].strip("| ") for i in tables)  # every table has a real header
    assert max(line.count("|") for line in lines) <= 6


def test_a_healthy_report_says_so() -> None:
    report = literal_report()
    report.markets[0].streams = report.streams[:1]
    report.diagnosis, report.next_steps = [], []
    report.streams[0].checks = [Check(n, "PASS", "fine") for n in CHECKS]
    report.streams[0].metrics["events_per_s"] = 4.0
    text = render_report(report)
    assert "# WebSocket liveness: PASS" in text and "- nothing wrong was seen" in text
    assert "| `btcusdt@kline_1m` | **PASS** | 120 (4/s) | 85 ms | none |" in text
    assert "1. none" in text and "closed candle (UTC)" not in text


def test_warnings_notes_and_unknown_clock_are_shown() -> None:
    report = literal_report()
    report.streams[1].checks[-1] = Check("lag", "WARN", "lag E→receive p95 2500 ms")
    report.markets[0].clock_offset_ms, report.api_key_masked = None, None
    report.notes = ["No candle closed during the 30 s window on some streams"]
    text = render_report(report)
    assert "## Verdict: WARN\n\nHealthy, with warnings (see the diagnosis)." in text
    assert "| lag WARN; 6 skipped |" in text
    assert "  - **clock offset:** unknown (REST time unavailable)\n" in text
    assert "- **API key:** not set (public market data needs none)\n" in text
    assert "- note: No candle closed during the 30 s window on some streams\n" in text


def test_a_mark_price_stream_counts_only_its_own_checks() -> None:
    report = literal_report()
    checks = [Check(n, "PASS", "fine") for n in CHECKS if n != "rest"]
    report.markets[0].streams = [StreamReport(BTC_MARK, checks, {"events": 30}, kind="markPrice")]
    assert f"| `{BTC_MARK}` | **PASS** | 30 | – | none |" in render_report(report)


def test_several_markets_are_named_and_their_streams_grouped() -> None:
    report = literal_report()
    report.network = "testnet"
    spot = MarketReport(
        market="spot",
        title="spot",
        ws_url="wss://stream.testnet.binance.vision",
        rest_url="https://testnet.binance.vision",
        clock_offset_ms=3,
        route=None,
        streams=[StreamReport("btcusdt@kline_1m", [Check("connect", "PASS", "ok")], {})],
    )
    report.markets.append(spot)
    text = render_report(report)
    assert "- **network:** testnet\n- **markets:** USDⓈ-M futures (`usdm`), spot (`spot`)\n" in text
    assert (
        "- **spot** (`spot`):\n"
        "  - **WebSocket URL:** `wss://stream.testnet.binance.vision`\n"
        "  - **REST URL:** `https://testnet.binance.vision`\n"
        "  - **route rule:** none known (silence is not blamed on the URL)\n"
        "  - **clock offset:** +3 ms (exchange − local)\n"
        "  - **streams:** `btcusdt@kline_1m`\n"
    ) in text
    summary = text.split("## Summary")[1].split("## Verdict")[0]
    assert summary.index("### USDⓈ-M futures (`usdm`)") < summary.index("### spot (`spot`)")
    assert summary.count("| `btcusdt@kline_1m` |") == 2
    details = text.split("## Per-stream details")[1]
    assert details.count("#### `btcusdt@kline_1m`") == 2 and "### spot (`spot`)" in details
    assert [s.stream for s in report.streams] == [
        "btcusdt@kline_1m", "ethusdt@kline_1m", "btcusdt@kline_1m",
    ]  # fmt: skip


def test_a_route_assumed_without_a_date_says_so() -> None:
    report = literal_report()
    report.markets[0].route = RequiredRoute("/market", "wss://fstream.binancefuture.com/market")
    assert (
        "  - **route rule:** kline streams only under `/market`, as on mainnet (assumed, "
        "unconfirmed): `wss://fstream.binancefuture.com/market`\n"
    ) in render_report(report)
