"""The ``klines`` command: it parses the command line, runs a flow, prints, exits.

Exit codes: 0 success (liveness: healthy); 1 a failed or partial run (liveness: unhealthy);
2 bad input. Every failure prints one line naming the problem and what to do (the
traceback only with ``--debug``). The flows validate what they are given (deployments call
them directly); the command runs the same checks first only to fail fast, before a Prefect
API is started. Commands: :mod:`cli.ingest` (ingest, demo), :mod:`cli.checks` (liveness,
audit), :mod:`cli.analysts` (symbols, sql, export), :mod:`cli.serve` (serve, simulator).
"""

from __future__ import annotations

import atexit
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from exchange.errors import ExchangeError, ExchangeUnreachable
from flows.errors import RunFinding
from flows.outcomes import first_line

from .prefect_api import PrefectApi, choose_api

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _run_guarded(debug: bool, body: Callable[[], int]) -> None:
    """Run ``body`` and turn any error into one line and an exit code (with ``debug``, the
    traceback first)."""
    try:
        code = body()
    except Exception as exc:
        if debug:
            traceback.print_exc()
        _fail(*failure(exc))
    sys.exit(code)


def failure(exc: Exception) -> tuple[str, int]:
    """The one line and the exit code an error ends the command with."""
    if isinstance(exc, ExchangeUnreachable):
        return (
            f"cannot reach the REST API at {exc.url} ({exc.detail}): check KLINES_REST_URL "
            "or --rest-url and your network",
            EXIT_BAD_INPUT,
        )
    if isinstance(exc, ValueError):  # InvalidInput, NotAWarehouse, WarehouseUnwritable ...
        return first_line(exc), EXIT_BAD_INPUT
    if isinstance(exc, RunFinding | ExchangeError):
        return str(exc), EXIT_FAILED
    name = type(exc).__name__
    return f"{name}: {first_line(exc)} (rerun with --debug for the traceback)", EXIT_FAILED


_API: list[PrefectApi] = []  # the Prefect API of this command, once chosen


@contextmanager
def prefect_api() -> Iterator[None]:
    """Choose the Prefect API before Prefect is imported, say which, and stop a temporary
    one when the command ends (``cli.prefect_api``)."""
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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Keep a DuckDB warehouse of Binance USD-M klines complete, correct and fresh."""
    # The library's own loggers ("klines.*": retries, lock waits) go to the Prefect run log too.
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "klines")


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


# The commands register themselves on ``main`` when imported.
from . import analysts, checks, ingest, serve  # noqa: E402, F401

if __name__ == "__main__":
    run()
