"""Errors of the flows that the command line names (kept apart: importing them loads no Prefect)."""

from __future__ import annotations


class IngestIncomplete(Exception):
    """The run finished but not everything loaded (failed series or rejected rows)."""

    def __init__(self, message: str, summary: dict[str, object]) -> None:
        super().__init__(message)
        self.summary = summary
