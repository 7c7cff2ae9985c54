"""``klines liveness`` and ``klines audit``: the checks, each one flow run."""

from __future__ import annotations

from typing import Any

import click

from flows.inputs import (
    check_seconds,
    check_ws_url_scope,
    parse_intervals,
    parse_markets,
    parse_symbols,
)
from flows.settings import Settings

from .main import EXIT_FAILED, EXIT_OK, _run_guarded, main, prefect_api, run_flow
from .options import DB, DEBUG, MARKET, NETWORK

LIVENESS_EXIT = {"PASS": EXIT_OK, "WARN": EXIT_OK, "FAIL": EXIT_FAILED}
"""Exit code per verdict: healthy (PASS, or WARN) 0, unhealthy 1; bad input is 2."""


@main.command()
@click.option("--symbols", required=True, help="Comma-separated, e.g. BTCUSDT,ETHUSDT.")
@click.option("--intervals", required=True, help="Comma-separated, e.g. 1m.")
@click.option("--seconds", default=30.0, show_default=True, type=float, help="Sampling window.")
@click.option(
    "--market",
    default=None,
    help="usdm (USDⓈ-M futures), coinm (COIN-M futures), spot, or several, comma-separated "
    "[env KLINES_MARKET; default usdm]; every symbol must be listed on each.",
)
@NETWORK
@click.option(
    "--mark-price",
    is_flag=True,
    help="Also sample each symbol's <symbol>@markPrice@1s stream (futures markets only).",
)
@click.option("--report", "report_path", default=None, help="Also write the Markdown report here.")
@click.option(
    "--db",
    default=None,
    help="DuckDB file [env KLINES_DB; default data/klines.duckdb, on the testnet "
    "data/klines-testnet.duckdb].",
)
@click.option(
    "--ws-url",
    default=None,
    help="WebSocket base URL of the one market checked [env KLINES_WS_URL, or "
    "KLINES_WS_URL_<MARKET> per market; default: the market's on the network].",
)
@click.option("--rest-url", default=None, help="REST base URL [env KLINES_REST_URL].")
@DEBUG
def liveness(
    symbols: str,
    intervals: str,
    seconds: float,
    market: str | None,
    network: str | None,
    mark_price: bool,
    report_path: str | None,
    db: str | None,
    ws_url: str | None,
    rest_url: str | None,
    debug: bool,
) -> None:
    """Diagnose the kline (and mark-price) WebSocket streams of each market: sample,
    cross-check with REST, report."""

    def body() -> int:
        from exchange.ws_events import market_streams
        from warehouse.files import check_path

        settings = Settings.from_env(
            db_path=db, rest_url=rest_url, ws_url=ws_url, network=network, market=market
        )
        markets = parse_markets(settings.market)
        syms, notes = parse_symbols(symbols)
        ivs = parse_intervals(intervals, markets)
        check_seconds(seconds)
        check_ws_url_scope(settings.ws_url, markets)
        for spec in markets:
            market_streams(spec, syms, ivs, mark_price)  # --mark-price on spot: bad input
        check_path(settings.db_path)
        check_file_network(settings.db_path, settings.network)
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
                    market=[m.name for m in markets],
                    network=settings.network,
                    mark_price=mark_price,
                )
            except LivenessUnhealthy as exc:
                result = exc.summary
        print_liveness(result)
        return LIVENESS_EXIT[result["verdict"]]

    _run_guarded(debug, body)


def check_file_network(db_path: str, network: str) -> None:
    """Refuse, before anything runs, a warehouse file that holds the other network's data
    (read-only: the file is left as it is)."""
    from pathlib import Path

    from warehouse.network import check_network
    from warehouse.store import Warehouse

    if not Path(db_path).exists():
        return
    with Warehouse(db_path).connect(read_only=True) as con:
        check_network(con, network, db_path)


def print_liveness(summary: dict[str, Any]) -> None:
    """One line per stream, the verdict, the diagnosis and the next steps."""
    for s in summary["streams"]:
        click.echo(
            f"{s.get('market', ''):<6} {s['stream']:<26} {s['status']:<5} "
            f"events {s['events']:<6} rate {s['events_per_s']}/s  closed {s['closed_seen']}  "
            f"parse failures {s['parse_failures']}  lag p95 {s['lag_p95_ms'] or '-'} ms"
        )
    network = summary.get("network")
    where = f"{network}, " if network else ""
    click.echo(f"verdict: {summary['verdict']} ({where}run {summary['run_id']})")
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
@DB
@MARKET
@DEBUG
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
