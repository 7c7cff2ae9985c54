"""``klines symbols``, ``klines sql`` and ``klines export``: what an analyst reads, without
a flow run (no Prefect is loaded)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from flows.inputs import parse_markets, parse_selection
from flows.settings import Settings

from .main import EXIT_OK, _run_guarded, main
from .options import (
    DB,
    DEBUG,
    DELIVERY_HELP,
    FORMAT,
    MARKET,
    NETWORK,
    TOP_HELP,
)


@main.command()
@click.argument("pattern", required=False)
@click.option("--delivery", is_flag=True, help=DELIVERY_HELP)
@click.option("--top", type=int, default=None, metavar="N", help=TOP_HELP)
@DB
@click.option("--rest-url", default=None, help="REST base URL [env KLINES_REST_URL].")
@MARKET
@NETWORK
@FORMAT
@DEBUG
def symbols(
    pattern: str | None,
    delivery: bool,
    top: int | None,
    db: str | None,
    rest_url: str | None,
    market: str | None,
    network: str | None,
    fmt: str,
    debug: bool,
) -> None:
    """List what PATTERN selects now (names and patterns such as '*USDT', comma-separated;
    default ALL): status, contract type, listing date, and what the warehouse holds.

    Reads exchangeInfo (and, with --top, the 24-hour ticker); opens the warehouse read-only,
    and only if the file exists. No flow run.
    """

    def body() -> int:
        from exchange.rest import RestClient
        from exchange.symbols import ALL, keep_top, resolve
        from warehouse.holdings import holdings

        from .output import render

        settings = Settings.from_env(db_path=db, rest_url=rest_url, market=market, network=network)
        (spec,) = parse_markets(settings.market, one=True)
        selection, notes = parse_selection(pattern or ALL, delivery, top)
        client = RestClient(settings.rest_config(spec))
        info = client.exchange_info()
        resolved = resolve(selection, info)
        volumes = None
        if selection.top is not None:
            volumes = client.quote_volumes()
            resolved = keep_top(resolved, selection.top, volumes, spec.path("ticker/24hr"))
        held = holdings(
            settings.db_path, resolved.symbols, spec.name, lock_timeout=settings.lock_timeout
        )
        columns = ["symbol", "status", "contract", "listed", "intervals", "candles", "newest"]
        if volumes is not None:
            columns.insert(4, "quote_volume_24h")
        rows = []
        for name in resolved.symbols:
            listing, stored = info.symbols[name], held.get(name)
            row: list[object] = [
                name,
                listing.status,
                listing.contract_type,
                datetime.fromtimestamp(listing.onboard_ms / 1000, UTC).date(),
                ", ".join(stored.intervals) if stored else None,
                stored.candles if stored else None,
                stored.newest if stored else None,
            ]
            if volumes is not None:
                row.insert(4, volumes.get(name))
            rows.append(row)
        click.echo(render(columns, rows, fmt))
        for note in [*notes, *resolved.notes]:
            click.echo(f"note: {note}", err=True)
        if not held:
            click.echo(f"note: nothing stored in {settings.db_path} for these symbols", err=True)
        return EXIT_OK

    _run_guarded(debug, body)


@main.command()
@click.argument("query")
@DB
@FORMAT
@DEBUG
def sql(query: str, db: str | None, fmt: str, debug: bool) -> None:
    """Run one SQL statement on the warehouse, opened read-only, and print the result.

    Views: latest_klines, coverage, gaps; table macro resample(symbol, interval).
    Bad SQL prints one line and exits 2.
    """

    def body() -> int:
        settings = Settings.from_env(db_path=db)
        from warehouse.query import run_query

        from .output import render

        result = run_query(settings.db_path, query, lock_timeout=settings.lock_timeout)
        if result.columns:
            click.echo(render(result.columns, result.rows, fmt))
        return EXIT_OK

    _run_guarded(debug, body)


@main.command()
@click.option("--out", required=True, help="Folder of the Parquet copy (created if missing).")
@click.option(
    "--prices-out",
    default=None,
    help="Folder of price_klines' Parquet copy [default: OUT-prices beside OUT; written once "
    "price klines are stored].",
)
@DB
@DEBUG
def export(out: str, prices_out: str | None, db: str | None, debug: bool) -> None:
    """Write klines as Parquet, hive-partitioned by market/symbol/interval/month, and
    price_klines (mark, index, premium index) by market/kind/symbol/interval/month.

    Incremental (only changed months are rewritten, see OUT/_manifest.json) and atomic
    (each file is moved into place whole). Read it back with
    read_parquet('OUT/**/*.parquet', hive_partitioning = true), the prices with
    read_parquet('OUT-prices/**/*.parquet', hive_partitioning = true).
    """

    def body() -> int:
        settings = Settings.from_env(db_path=db)
        from warehouse.export import export_parquet, prices_folder

        folders = {"klines": out, "price_klines": prices_out or str(prices_folder(out))}
        for table, folder in folders.items():
            result = export_parquet(
                settings.db_path,
                folder,
                lock_timeout=settings.lock_timeout,
                table=table,
                only_if_any=table != "klines",
            )
            if table != "klines" and not Path(folder).exists():
                continue  # no price klines stored, none exported before
            for key in result.written:
                click.echo(f"wrote   {key}")
            for key in result.removed:
                click.echo(f"removed {key}")
            click.echo(
                f"{folder}: {len(result.written)} partitions written ({result.rows} rows), "
                f"{result.unchanged} unchanged, {len(result.removed)} removed"
            )
        return EXIT_OK

    _run_guarded(debug, body)
