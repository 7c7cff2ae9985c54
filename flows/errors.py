"""How the flows' runs can end in a finding: the run did its work and found a problem.

    RunFinding [T]          the run did its work and found a problem
    ├── IngestIncomplete    not everything loaded (failed series or rejected rows)
    ├── LivenessUnhealthy   the streams are unhealthy
    └── AuditFailed         stored candles disagree with their 1m aggregation

A finding fails the flow run with one line and no traceback (``flows.outcomes``), and
carries ``summary``, what the run would have returned, for the command line to print.
Findings are terminal (``[T]``, :class:`exchange.errors.Terminal`): the run already retried
what it could, so running it again at once finds the same. Importing this module loads no
Prefect.
"""

from __future__ import annotations

from typing import Any

from exchange.errors import KlinesError, Terminal


class RunFinding(KlinesError, Terminal):
    """The run did its work and found a problem; ``summary`` is what it would have returned."""

    def __init__(self, message: str, summary: dict[str, Any]) -> None:
        super().__init__(message)
        self.summary = summary


class IngestIncomplete(RunFinding):
    """The run finished but not everything loaded (failed series or rejected rows)."""


class LivenessUnhealthy(RunFinding):
    """The check ran and found the streams unhealthy (exit code 1)."""


class AuditFailed(RunFinding):
    """Stored candles disagree with their 1m aggregation."""
