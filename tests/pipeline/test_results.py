"""A run's results and verdict, on literal results."""

from __future__ import annotations

from pipeline.results import SeriesResult, merge_results, problem_line, run_status


def test_a_repaired_hole_and_the_main_range_of_a_series_add_up_to_one_row() -> None:
    main = SeriesResult("BTCUSDT", "1m", fetched=10, inserted=10, requests=1, seconds=0.5)
    hole = SeriesResult("BTCUSDT", "1m", fetched=5, inserted=5, requests=1, seconds=0.8)
    (row,) = merge_results([main, hole])
    assert (row.fetched, row.inserted, row.requests, row.seconds) == (15, 15, 2, 0.8)


def test_a_failed_part_makes_the_whole_series_failed_with_its_error() -> None:
    ok = SeriesResult("BTCUSDT", "1m", fetched=10)
    failed = SeriesResult("BTCUSDT", "1m", status="failed", error="HTTP 500")
    (row,) = merge_results([ok, failed])
    assert (row.status, row.error) == ("failed", "HTTP 500")


def test_nothing_to_do_gives_way_to_what_the_other_part_did() -> None:
    idle = SeriesResult("BTCUSDT", "1m", status="nothing-to-do")
    rejected = SeriesResult("BTCUSDT", "1m", status="rejected-rows", rejected=2)
    assert merge_results([idle, rejected])[0].status == "rejected-rows"


def test_the_run_is_ok_partial_or_failed_by_how_many_series_failed() -> None:
    ok, bad = SeriesResult("A", "1m"), SeriesResult("B", "1m", status="failed")
    assert run_status([ok, SeriesResult("C", "1m", status="nothing-to-do")]) == "ok"
    assert run_status([ok, bad]) == "partial"
    assert run_status([bad]) == "failed"


def test_the_problem_line_names_the_first_failure_and_the_rejected_rows() -> None:
    results = [
        SeriesResult("BTCUSDT", "1m", status="failed", error="HTTP 500"),
        SeriesResult("ETHUSDT", "1h", status="rejected-rows", rejected=3),
    ]
    assert problem_line(results) == (
        "1 series failed (first: BTCUSDT 1m: HTTP 500); 3 rows rejected by validation "
        "(see table klines_rejected); rerun to resume where it stopped"
    )


def test_a_ban_is_the_whole_problem() -> None:
    banned = SeriesResult("BTCUSDT", "1m", status="banned", error="banned until 12:00")
    assert problem_line([SeriesResult("ETHUSDT", "1m"), banned]) == "banned until 12:00"


def test_each_kind_of_a_series_keeps_its_own_row_led_by_market_and_kind() -> None:
    trade = SeriesResult("BTCUSDT", "1m", fetched=10)
    mark = SeriesResult("BTCUSDT", "1m", fetched=7, kind="mark")
    rows = [r.as_row() for r in merge_results([trade, mark])]
    assert [(r["kind"], r["fetched"]) for r in rows] == [("trade", 10), ("mark", 7)]
    assert list(rows[1])[:4] == ["market", "kind", "symbol", "interval"]
