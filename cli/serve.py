"""``klines serve`` (every deployment of prefect.yaml on its schedule, in one process) and
``klines simulator`` (the local exchange)."""

from __future__ import annotations

from typing import Any

import click

from .main import EXIT_OK, _run_guarded, main


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
@click.option(
    "--network",
    type=click.Choice(["mainnet", "testnet"]),
    default="mainnet",
    show_default=True,
    help="testnet: other, synthetic prices and no archive, as Binance's testnet.",
)
def simulator(port: int, universe: str, network: str) -> None:
    """Run the local Binance simulator until interrupted (prints the URLs of every market)."""
    from simulator.__main__ import main as sim_main

    sim_main(["--port", str(port), "--universe", universe, "--network", network])


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

        from flows.deployments import (
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
