"""``klines liveness`` and ``klines audit``: the checks, each one flow run."""

from __future__ import annotations

from typing import Any

import click

from flows.inputs import check_seconds, parse_intervals, parse_markets, parse_symbols
from flows.settings import Settings

from .main import EXIT_FAILED, EXIT_OK, _run_guarded, main, prefect_api, run_flow
from .options import MARKET_HELP

LIVENESS_EXIT = {"PASS": EXIT_OK, "WARN": EXIT_OK, "FAIL": EXIT_FAILED}
"""Exit code per verdict: healthy (PASS, or WARN) 0, unhealthy 1; bad input is 2."""


@main.command()
@click.option("--symbols", required=True, help="Comma-separated, e.g. BTCUSDT,ETHUSDT.")
@click.option("--intervals", required=True, help="Comma-separated, e.g. 1m.")
@click.option("--seconds", default=30.0, show_default=True, type=float, help="Sampling window.")
@click.option("--report", "report_path", default=None, help="Also write the Markdown report here.")
@click.option("--db", default=None, help="DuckDB file [env KLINES_DB; default data/klines.duckdb].")
@click.option("--ws-url", default=None, help="WebSocket base URL [env KLINES_WS_URL].")
@click.option("--rest-url", default=None, help="REST base URL [env KLINES_REST_URL].")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def liveness(
    symbols: str,
    intervals: str,
    seconds: float,
    report_path: str | None,
    db: str | None,
    ws_url: str | None,
    rest_url: str | None,
    debug: bool,
) -> None:
    """Diagnose the kline WebSocket streams: sample, cross-check with REST, report."""

    def body() -> int:
        settings = Settings.from_env(db_path=db, rest_url=rest_url, ws_url=ws_url)
        from exchange.ws_events import check_ws_url
        from warehouse.files import check_path

        syms, notes = parse_symbols(symbols)
        ivs = parse_intervals(intervals)
        check_seconds(seconds)
        check_ws_url(settings.ws_url)
        check_path(settings.db_path)
        for note in notes:
            click.echo(f"note: {note}", err=True)
        with prefect_api():
            from flows.liveness import LivenessUnhealthy, ws_liveness

            try:
                result = run_flow(
                    ws_liveness,
                    symbols=syms,
                    intervals=ivs,
                    seconds=seconds,
                    report_path=report_path,
                    db=settings.db_path,
                    ws_url=settings.ws_url,
                    rest_url=settings.rest_url,
                )
            except LivenessUnhealthy as exc:
                result = exc.summary
        print_liveness(result)
        return LIVENESS_EXIT[result["verdict"]]

    _run_guarded(debug, body)


def print_liveness(summary: dict[str, Any]) -> None:
    """One line per stream, the verdict, the diagnosis and the next steps."""
    for s in summary["streams"]:
        click.echo(
            f"{s['stream']:<24} {s['status']:<5} events {s['events']:<6} "
            f"rate {s['events_per_s']}/s  closed {s['closed_seen']}  "
            f"parse failures {s['parse_failures']}  lag p95 {s['lag_p95_ms'] or '-'} ms"
        )
    click.echo(f"verdict: {summary['verdict']} (run {summary['run_id']})")
    for line in summary["diagnosis"]:
        click.echo(f"  diagnosis: {line}")
    for step in summary["next_steps"]:
        click.echo(f"  next: {step}")
    if summary.get("report_path"):
        click.echo(f"report: {summary['report_path']}")


@main.command()
@click.option("--symbols", required=True, help="Comma-separated, e.g. BTCUSDT,ETHUSDT.")
@click.option("--intervals", required=True, help="Higher intervals to check, e.g. 1h,1d.")
@click.option("--days", default=7, show_default=True, help="How many days back to check.")
@click.option("--db", default=None, help="DuckDB file [env KLINES_DB; default data/klines.duckdb].")
@click.option("--market", default=None, help=MARKET_HELP)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def audit(
    symbols: str, intervals: str, days: int, db: str | None, market: str | None, debug: bool
) -> None:
    """Check that stored 1m candles aggregate exactly to the stored higher intervals."""

    def body() -> int:
        settings = Settings.from_env(market=market)
        (spec,) = parse_markets(settings.market, one=True)
        syms, _ = parse_symbols(symbols)
        ivs = parse_intervals(intervals, [spec])
        if days < 1:
            raise ValueError(f"--days {days}: use a positive number of days")
        with prefect_api():
            from flows.audit import AuditFailed, audit_klines

            try:
                summary, failure = (
                    run_flow(
                        audit_klines,
                        symbols=syms,
                        intervals=ivs,
                        days=days,
                        db=db,
                        market=spec.name,
                    ),
                    None,
                )
            except AuditFailed as exc:
                summary, failure = exc.summary, exc
        for row in summary["series"]:
            click.echo("  ".join(f"{k}={v}" for k, v in row.items()))
        for d in summary["disagreements"][:50]:
            click.echo(
                f"DISAGREE {d['symbol']} {d['interval']} {d['open_time']} {d['field']}: "
                f"stored {d['stored']} vs 1m {d['from_1m']}"
            )
        if failure is not None:
            raise failure
        return EXIT_OK

    _run_guarded(debug, body)
