"""How a flow run ends when it did not succeed: a finding, not a crash.

A user's mistake (bad input), a condition of the exchange or the warehouse (a ban, a
lock held too long) and a run that completed with a verdict (incomplete, unhealthy,
disagreeing) all fail the flow run with a one-line message and no traceback: Prefect logs
``Finished in state Failed('<message>')``, and the caller gets the error back from the
state. Only an unexpected exception (a bug) is raised and logged with its traceback.

Importing this module does not import Prefect: the command line uses it before it has
chosen the Prefect API (``cli.prefect_api``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from exchange.errors import ExchangeError
from warehouse.errors import WarehouseError

from .errors import RunFinding

P = ParamSpec("P")
R = TypeVar("R")


EXPECTED: tuple[type[Exception], ...] = (ValueError, ExchangeError, WarehouseError, RunFinding)
"""Failures that are reported in one line; ``ValueError`` is bad input (exit code 2)."""


def first_line(exc: BaseException) -> str:
    """The first line of an error's message, or its type's name."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def reports_failures(fn: Callable[P, R]) -> Callable[P, R]:
    """Make a flow function end in a ``Failed`` state carrying the error, instead of
    raising, for every expected failure (``EXPECTED``)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
        try:
            return fn(*args, **kwargs)
        except EXPECTED as exc:
            from prefect.states import Failed

            setattr(exc, _REPORTED, True)  # noqa: B010
            return Failed(message=first_line(exc), data=exc)

    return wrapper


_REPORTED = "reported_in_one_line"


class _NoSecondReport(logging.Filter):
    """Drop Prefect's second report of a failure already reported in one line.

    A deployment's run (a worker's or ``klines serve``'s) ends in Prefect's engine asking
    the failed state for its result, which raises the error again, and the engine logs
    "Engine execution exited with unexpected exception" with its traceback. For a failure
    ``reports_failures`` returned, that is the same failure as the run's
    ``Finished in state Failed('<message>')`` line; any other error keeps its traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not getattr(error, _REPORTED, False)


logging.getLogger("prefect.flow_runs").addFilter(_NoSecondReport())
