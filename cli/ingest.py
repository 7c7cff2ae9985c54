"""``klines ingest`` and ``klines demo``: one ingest flow run, and its summary table."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from exchange.markets import DEFAULT_KIND, DEFAULT_MARKET
from flows.inputs import (
    check_range,
    parse_intervals,
    parse_kinds,
    parse_markets,
    parse_selection,
    parse_time,
)
from flows.settings import Settings

from .main import EXIT_OK, _run_guarded, main, prefect_api, run_flow
from .options import (
    DB,
    DEBUG,
    DELIVERY_HELP,
    MARKET_HELP,
    NETWORK,
    SYMBOLS_HELP,
    TOP_HELP,
)

SUMMARY_COLUMNS = (
    "market",
    "kind",
    "symbol",
    "interval",
    "status",
    "fetched",
    "from_archive",
    "from_rest",
    "inserted",
    "updated",
    "rejected",
    "open_skipped",
    "requests",
    "weight",
    "seconds",
)


def print_summary(summary: dict[str, Any]) -> None:
    """The per-series table, then one line of totals."""
    rows = [[str(r.get(c, "")) for c in SUMMARY_COLUMNS] for r in summary.get("series", [])]
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(SUMMARY_COLUMNS)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(SUMMARY_COLUMNS, widths, strict=True)))
    for row in rows:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))
    retries = summary.get("retries") or {}
    retry_text = ", ".join(f"{k} {v}" for k, v in sorted(retries.items())) or "none"
    archive = (
        f", {summary['archive_requests']} archive requests "
        f"({int(summary.get('archive_bytes') or 0) / 1e6:.1f} MB)"
        if summary.get("archive_requests")
        else ""
    )
    click.echo(
        f"run {summary.get('run_id')}: {summary.get('status')}; {summary.get('requests')} requests, "
        f"weight {summary.get('weight')}{archive}, retries: {retry_text}"
    )
    for note in summary.get("selection") or []:  # how each pattern (and --top) resolved
        click.echo(f"  note: {note}")
    for note in summary.get("notes") or []:
        if "archive" in note:
            click.echo(f"  note: {note}")
    for series in summary.get("series", []):
        if series.get("error"):
            lead = "" if series.get("kind", "trade") == "trade" else f"{series['kind']} "
            click.echo(f"  {lead}{series['symbol']} {series['interval']}: {series['error']}")


@main.command()
@click.option("--symbols", default=None, help=SYMBOLS_HELP)
@click.option("--delivery", is_flag=True, help=DELIVERY_HELP)
@click.option("--top", type=int, default=None, metavar="N", help=TOP_HELP)
@click.option("--intervals", required=True, help="Comma-separated, e.g. 1m,1h (1M is a month).")
@click.option(
    "--start", default=None, help="ISO 8601, UTC unless an offset is given. Default: resume."
)
@click.option("--end", default=None, help="ISO 8601, exclusive. Default: the newest closed candle.")
@DB
@click.option("--rest-url", default=None, help="REST base URL [env KLINES_REST_URL].")
@click.option(
    "--reverify-gaps", is_flag=True, help="Fetch gaps the exchange confirmed empty again."
)
@click.option(
    "--source",
    type=click.Choice(["auto", "archive", "rest"]),
    default="auto",
    show_default=True,
    help="Where whole past days come from: the bulk archive [env KLINES_ARCHIVE_URL], "
    "REST, or auto (the archive when it saves requests).",
)
@click.option("--market", default=None, help=MARKET_HELP + " Several: comma-separated.")
@NETWORK
@click.option(
    "--kind",
    default="trade",
    show_default=True,
    help="trade (klines), mark, index or premium (mark, index and premium index prices, "
    "futures only, table price_klines), or several, comma-separated; index prices are "
    "by pair: --symbols BTCUSDT (USDⓈ-M), BTCUSD (COIN-M).",
)
@DEBUG
def ingest(
    symbols: str | None,
    delivery: bool,
    top: int | None,
    intervals: str,
    start: str | None,
    end: str | None,
    db: str | None,
    rest_url: str | None,
    reverify_gaps: bool,
    source: str,
    market: str | None,
    network: str | None,
    kind: str,
    debug: bool,
) -> None:
    """Fetch closed klines (bulk archive and REST) and upsert them into DuckDB (one Prefect
    flow run)."""
    if symbols is None and top is None:
        raise click.UsageError("Missing option '--symbols' (or --top N for the most traded).")

    def body() -> int:
        from warehouse.files import check_path

        settings = Settings.from_env(db_path=db, rest_url=rest_url, network=network, market=market)
        markets = parse_markets(settings.market)
        kinds = parse_kinds(kind, markets)
        selection, notes = parse_selection(symbols, delivery, top)
        ivs = parse_intervals(intervals, markets)
        check_range(parse_time(start, "--start"), parse_time(end, "--end"), datetime.now(UTC))
        check_path(settings.db_path)
        for note in notes:
            click.echo(f"note: {note}", err=True)
        with prefect_api():
            summary = run_ingest(
                [*selection.exact, *selection.patterns],
                ivs,
                start,
                end,
                settings.db_path,
                settings.rest_url,
                reverify_gaps,
                source=source,
                archive_url=settings.archive_url,
                delivery=delivery,
                top=top,
                market=settings.market,
                network=settings.network,
                kind=[k.name for k in kinds],
            )
        print_summary(summary)
        return EXIT_OK

    _run_guarded(debug, body)


def run_ingest(
    symbols: list[str],
    intervals: list[str],
    start: str | None,
    end: str | None,
    db: str,
    rest_url: str | None,
    reverify_gaps: bool = False,
    source: str = "auto",
    archive_url: str | None = None,
    delivery: bool = False,
    top: int | None = None,
    market: str | list[str] = DEFAULT_MARKET,
    network: str | None = None,
    kind: str | list[str] = DEFAULT_KIND,
) -> dict[str, Any]:
    """Run the ingest flow once; print the summary of an incomplete run before its error."""
    from flows.errors import IngestIncomplete
    from flows.ingest import ingest_klines

    try:
        return run_flow(
            ingest_klines,
            symbols=symbols,
            intervals=intervals,
            start=start,
            end=end,
            db=db,
            rest_url=rest_url,
            reverify_gaps=reverify_gaps,
            source=source,
            archive_url=archive_url,
            delivery=delivery,
            top=top,
            market=market,
            network=network,
            kind=kind,
        )
    except IngestIncomplete as exc:
        print_summary(exc.summary)
        raise


@main.command()
@click.option("--db", default="data/demo.duckdb", show_default=True, help="DuckDB file to fill.")
@DEBUG
def demo(db: str, debug: bool) -> None:
    """Offline demo: start the local exchange simulator and ingest two markets from it
    (USDⓈ-M perpetuals and spot), then compare them."""

    def body() -> int:
        with prefect_api():
            from simulator.server import Simulator

            with Simulator() as sim:
                click.echo(f"simulator listening on {sim.url}", err=True)
                summary = run_ingest(
                    ["BTCUSDT", "ETHUSDT"],
                    ["1m", "1h"],
                    None,
                    None,
                    db,
                    sim.url,
                    market="usdm,spot",
                    network="mainnet",
                )
        print_summary(summary)
        _show_sample(db)
        return EXIT_OK

    _run_guarded(debug, body)


def _show_sample(db: str) -> None:
    from warehouse.store import Warehouse

    with Warehouse(db).connect(read_only=True) as con:
        rows = con.execute(
            "SELECT market, symbol, interval, count(*) AS candles, min(open_time) AS first, "
            "max(open_time) AS last FROM klines GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        basis = con.execute(BASIS_SQL).fetchone()
    click.echo(
        f"\n{db}: SELECT market, symbol, interval, count(*), min(open_time), max(open_time) ..."
    )
    for market, symbol, interval, n, first, last in rows:
        click.echo(
            f"  {market:<5} {symbol:<10} {interval:<4} {n:>6}  "
            f"{first:%Y-%m-%d %H:%M} .. {last:%Y-%m-%d %H:%M} UTC"
        )
    if basis:
        at, perp, spot, pct = basis
        click.echo(
            f"\nBTCUSDT basis at the {at:%H:%M} UTC 1h close: perpetual {perp} − spot {spot} "
            f"= {perp - spot} ({pct:+.3f} %)  (docs/analysts.md: the basis question)"
        )


BASIS_SQL = """
SELECT f.open_time, f.close, s.close, round(100 * (f.close - s.close) / s.close, 3)
FROM klines f JOIN klines s USING (symbol, interval, open_time)
WHERE f.market = 'usdm' AND s.market = 'spot' AND symbol = 'BTCUSDT' AND interval = '1h'
ORDER BY open_time DESC LIMIT 1
"""
