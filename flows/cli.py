"""The ``klines`` command. Thin: it checks input, runs a flow, prints, exits.

Exit codes: 0 success (liveness: healthy); 1 a failed or partial run (liveness: unhealthy);
2 bad input.
Every failure prints one line naming the problem and what to do
(the traceback only with ``--debug``).
"""

from __future__ import annotations

import atexit
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import click

from exchange.errors import ExchangeError, ExchangeUnreachable
from exchange.markets import DEFAULT_MARKET

from .errors import RunFinding
from .inputs import (
    check_range,
    check_seconds,
    parse_intervals,
    parse_markets,
    parse_selection,
    parse_symbols,
    parse_time,
)
from .outcomes import first_line
from .prefect_api import PrefectApi, choose_api
from .settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
SUMMARY_COLUMNS = (
    "market",
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


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _run_guarded(debug: bool, body: Callable[[], int]) -> None:
    """Run ``body`` and turn any error into one line and an exit code."""
    try:
        code = body()
    except RunFinding as exc:
        if debug:
            traceback.print_exc()
        _fail(str(exc), EXIT_FAILED)
    except ExchangeUnreachable as exc:
        if debug:
            traceback.print_exc()
        _fail(
            f"cannot reach the REST API at {exc.url} ({exc.detail}): check KLINES_REST_URL "
            "or --rest-url and your network",
            EXIT_BAD_INPUT,
        )
    except ValueError as exc:  # InvalidInput, NotAWarehouse, WarehouseUnwritable
        if debug:
            traceback.print_exc()
        _fail(first_line(exc), EXIT_BAD_INPUT)
    except ExchangeError as exc:
        if debug:
            traceback.print_exc()
        _fail(str(exc), EXIT_FAILED)
    except Exception as exc:
        if debug:
            traceback.print_exc()
        _fail(
            f"{type(exc).__name__}: {first_line(exc)} (rerun with --debug for the traceback)",
            EXIT_FAILED,
        )
    sys.exit(code)


_API: list[PrefectApi] = []  # the Prefect API of this command, once chosen


@contextmanager
def prefect_api() -> Iterator[None]:
    """Choose the Prefect API before Prefect is imported, say which, and stop a temporary
    one when the command ends (``flows.prefect_api``)."""
    api = choose_api()
    if api is None:  # Prefect was imported already (tests): its settings stand
        yield
        return
    click.echo(f"prefect: {api.description}", err=True)
    if api.note:
        click.echo(f"note: {api.note}", err=True)
    _API.append(api)
    try:
        yield
    finally:
        _API.remove(api)
        api.stop()


def run_flow(flow_fn: Callable[..., Any], **parameters: Any) -> Any:
    """Run a flow once as a real Prefect flow run; return its result, or raise the error
    its run failed with."""
    for api in _API:
        api.wait_ready()
    state = flow_fn(**parameters, return_state=True)
    result = state.result(raise_on_failure=False)
    if isinstance(result, BaseException):
        raise result
    return result


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
            click.echo(f"  {series['symbol']} {series['interval']}: {series['error']}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Keep a DuckDB warehouse of Binance USD-M klines complete, correct and fresh."""
    # The library's own loggers ("klines.*": retries, lock waits) go to the Prefect run log too.
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "klines")


SYMBOLS_HELP = (
    "Comma-separated names and patterns, e.g. BTCUSDT,ETHUSDT or '*USDT','1000*' or ALL "
    "(patterns select TRADING perpetuals when the run starts)."
)
DELIVERY_HELP = "Let patterns and ALL select delivery (quarterly) contracts too."
TOP_HELP = (
    "Keep the N selected symbols with the highest 24-hour quote volume "
    "(none named: every TRADING perpetual)."
)


@main.command()
@click.option("--symbols", default=None, help=SYMBOLS_HELP)
@click.option("--delivery", is_flag=True, help=DELIVERY_HELP)
@click.option("--top", type=int, default=None, metavar="N", help=TOP_HELP)
@click.option("--intervals", required=True, help="Comma-separated, e.g. 1m,1h (1M is a month).")
@click.option(
    "--start", default=None, help="ISO 8601, UTC unless an offset is given. Default: resume."
)
@click.option("--end", default=None, help="ISO 8601, exclusive. Default: the newest closed candle.")
@click.option("--db", default=None, help="DuckDB file [env KLINES_DB; default data/klines.duckdb].")
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
@click.option(
    "--market",
    default=None,
    help="usdm (USDⓈ-M futures), coinm (COIN-M futures), spot, or several, comma-separated "
    "[env KLINES_MARKET; default usdm].",
)
@click.option(
    "--network",
    default=None,
    help="mainnet or testnet [env KLINES_NETWORK; default mainnet]; a warehouse file keeps "
    "one network's data only.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
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
        )
    except IngestIncomplete as exc:
        print_summary(exc.summary)
        raise


@main.command()
@click.argument("pattern", required=False)
@click.option("--delivery", is_flag=True, help=DELIVERY_HELP)
@click.option("--top", type=int, default=None, metavar="N", help=TOP_HELP)
@click.option("--db", default=None, help="DuckDB file [env KLINES_DB; default data/klines.duckdb].")
@click.option("--rest-url", default=None, help="REST base URL [env KLINES_REST_URL].")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def symbols(
    pattern: str | None,
    delivery: bool,
    top: int | None,
    db: str | None,
    rest_url: str | None,
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

        settings = Settings.from_env(db_path=db, rest_url=rest_url)
        selection, notes = parse_selection(pattern or ALL, delivery, top)
        client = RestClient(settings.rest_config())
        info = client.exchange_info()
        resolved = resolve(selection, info)
        volumes = None
        if selection.top is not None:
            volumes = client.quote_volumes()
            resolved = keep_top(resolved, selection.top, volumes)
        held = holdings(settings.db_path, resolved.symbols, lock_timeout=settings.lock_timeout)
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
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def audit(symbols: str, intervals: str, days: int, db: str | None, debug: bool) -> None:
    """Check that stored 1m candles aggregate exactly to the stored higher intervals."""

    def body() -> int:
        syms, _ = parse_symbols(symbols)
        ivs = parse_intervals(intervals)
        if days < 1:
            raise ValueError(f"--days {days}: use a positive number of days")
        with prefect_api():
            from flows.audit import AuditFailed, audit_klines

            try:
                summary, failure = (
                    run_flow(audit_klines, symbols=syms, intervals=ivs, days=days, db=db),
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


@main.command()
@click.option("--db", default="data/demo.duckdb", show_default=True, help="DuckDB file to fill.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def demo(db: str, debug: bool) -> None:
    """Offline demo: start the local exchange simulator and ingest from it."""

    def body() -> int:
        with prefect_api():
            from simulator.server import Simulator

            with Simulator() as sim:
                click.echo(f"simulator listening on {sim.url}", err=True)
                summary = run_ingest(["BTCUSDT", "ETHUSDT"], ["1m", "1h"], None, None, db, sim.url)
        print_summary(summary)
        _show_sample(db)
        return EXIT_OK

    _run_guarded(debug, body)


def _show_sample(db: str) -> None:
    from warehouse.store import Warehouse

    with Warehouse(db).connect(read_only=True) as con:
        rows = con.execute(
            "SELECT symbol, interval, count(*) AS candles, min(open_time) AS first, "
            "max(open_time) AS last FROM klines GROUP BY ALL ORDER BY ALL"
        ).fetchall()
    click.echo(f"\n{db}: SELECT symbol, interval, count(*), min(open_time), max(open_time) ...")
    for symbol, interval, n, first, last in rows:
        click.echo(
            f"  {symbol:<10} {interval:<4} {n:>6}  {first:%Y-%m-%d %H:%M} .. {last:%Y-%m-%d %H:%M} UTC"
        )


@main.command()
@click.option(
    "--port", default=0, show_default=True, help="TCP port on 127.0.0.1 (0: any free one)."
)
@click.option(
    "--universe",
    type=click.Choice(["default", "full"]),
    default="default",
    show_default=True,
    help="default: seven symbols; full: hundreds of contracts, as a real exchangeInfo lists.",
)
def simulator(port: int, universe: str) -> None:
    """Run the local Binance simulator until interrupted (prints its URL)."""
    from simulator.__main__ import main as sim_main

    sim_main(["--port", str(port), "--universe", universe])


@main.command()
@click.argument("query")
@click.option("--db", default=None, help="DuckDB file [env KLINES_DB; default data/klines.duckdb].")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
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
@click.option("--db", default=None, help="DuckDB file [env KLINES_DB; default data/klines.duckdb].")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def export(out: str, db: str | None, debug: bool) -> None:
    """Write klines as Parquet, hive-partitioned by market/symbol/interval/month.

    Incremental (only changed months are rewritten, see OUT/_manifest.json) and atomic
    (each file is moved into place whole). Read it back with
    read_parquet('OUT/**/*.parquet', hive_partitioning = true).
    """

    def body() -> int:
        settings = Settings.from_env(db_path=db)
        from warehouse.export import export_parquet

        result = export_parquet(settings.db_path, out, lock_timeout=settings.lock_timeout)
        for key in result.written:
            click.echo(f"wrote   {key}")
        for key in result.removed:
            click.echo(f"removed {key}")
        click.echo(
            f"{out}: {len(result.written)} partitions written ({result.rows} rows), "
            f"{result.unchanged} unchanged, {len(result.removed)} removed"
        )
        return EXIT_OK

    _run_guarded(debug, body)


@main.command()
@click.option(
    "--file",
    "spec_file",
    default=None,
    help="The prefect.yaml whose deployments to serve [default: the project's].",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Local Prefect server host.")
@click.option(
    "--port",
    default=4200,
    show_default=True,
    help="Local Prefect server port (API and UI); used when PREFECT_API_URL is not set.",
)
@click.option(
    "--debug",
    is_flag=True,
    help="Show tracebacks, and the output of a server it starts (instead of its log file).",
)
def serve(spec_file: str | None, host: str, port: int, debug: bool) -> None:
    """Run every deployment of prefect.yaml on its schedule, in this one process.

    With PREFECT_API_URL set, registers with that server. Without it, reuses or starts a
    local `prefect server start` on HOST:PORT (the temporary in-process API cannot run
    schedules), prints the UI's URL and where the server logs. Ctrl-C (or SIGTERM) stops
    serving, pauses the schedules, stops the server it started and exits 0.
    """

    def body() -> int:
        import os
        import signal
        from contextlib import nullcontext
        from pathlib import Path

        from .deployments import (
            DEFAULT_FILE,
            LocalServer,
            build_deployments,
            load_specs,
            local_server,
            server_log_path,
        )

        path = Path(spec_file or DEFAULT_FILE).resolve()
        if not path.is_file():
            raise ValueError(f"no deployments file at {path}: pass --file PATH/prefect.yaml")
        specs = load_specs(path)
        os.chdir(path.parent)  # entrypoints are relative to the project root
        deployments, skipped = build_deployments(specs)
        for note in skipped:
            click.echo(f"note: not serving {note}", err=True)
        if not deployments:
            raise ValueError(f"no deployment of {path} can be loaded: nothing to serve")

        def stop(signum: int, frame: object) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        api = os.environ.get("PREFECT_API_URL")
        server_cm = (
            nullcontext(LocalServer(api))
            if api
            else local_server(host, port, log=None if debug else server_log_path(port))
        )
        try:
            with server_cm as server:
                _serve(deployments, server)
        except KeyboardInterrupt:  # a second Ctrl-C while the server was starting or stopping
            click.echo("stopped", err=True)
            return EXIT_OK
        if server.started:
            click.echo(f"stopped the Prefect server on {host}:{port}", err=True)
        return EXIT_OK

    _run_guarded(debug, body)


def _serve(deployments: list[Any], server: Any) -> None:
    """Serve until Ctrl-C or SIGTERM; the server keeps running until this returns, so
    Prefect can pause the schedules on the way out."""
    import os
    import signal

    from prefect import serve as prefect_serve
    from prefect.settings import PREFECT_API_URL, temporary_settings

    os.environ["PREFECT_API_URL"] = server.api_url
    click.echo(f"Prefect UI: {server.api_url.removesuffix('/api')}", err=True)
    if server.log is not None:
        click.echo(f"Prefect server log: {server.log}", err=True)
    names = ", ".join(f"{d.flow_name}/{d.name}" for d in deployments)
    click.echo(f"serving {names}", err=True)
    with temporary_settings({PREFECT_API_URL: server.api_url}):
        try:
            prefect_serve(*deployments)  # returns on Ctrl-C and SIGTERM
        except KeyboardInterrupt:
            pass
        finally:  # one stop is enough: later signals must not cut the shutdown short
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
    click.echo(
        f"stopped serving {len(deployments)} deployments (their schedules are paused until "
        "the next `klines serve`)",
        err=True,
    )


def run() -> None:
    """The ``klines`` program: run the command, then exit without the interpreter's teardown.

    Tearing down the modules of Prefect, pandas and DuckDB takes 0.6-1 s and does nothing a
    user needs: by then every exit handler has run (Prefect's have sent the last logs and
    events), every file and connection is closed, and the output is flushed here.
    """
    try:
        main()
        code: object = 0
    except SystemExit as stop:
        code = stop.code
    atexit._run_exitfuncs()
    if isinstance(code, str):
        print(code, file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else 0 if code is None else 1)


if __name__ == "__main__":
    run()
