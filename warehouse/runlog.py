"""The run log of the warehouse: ingest runs and their series, liveness runs and their
streams, and the rate-limit bans a run met (so that runs started during a ban send nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb

from .connection import WarehouseFile
from .files import transaction


class RunLog(WarehouseFile):
    """The run-log tables of a warehouse file (mixed into :class:`warehouse.store.Warehouse`)."""

    def record_ban(self, base_url: str, until_epoch_ms: int, detail: str) -> None:
        """Remember a 418 ban so that runs started during it send nothing."""
        with self.connect() as con:
            con.execute(
                "INSERT INTO rate_limit_bans VALUES (?, epoch_ms(?::BIGINT) AT TIME ZONE 'UTC', now(), ?)",
                [base_url, until_epoch_ms, detail],
            )

    def active_ban_ms(self, base_url: str, now_epoch_ms: int) -> int | None:
        """End (local epoch ms) of a remembered ban on ``base_url`` still in force, if any."""
        if not self.path.exists():
            return None
        with self.connect() as con:
            row = con.execute(
                "SELECT epoch_ms(max(banned_until)) FROM rate_limit_bans WHERE base_url = ?",
                [base_url],
            ).fetchone()
        until = row[0] if row else None
        return int(until) if until is not None and until > now_epoch_ms else None

    def record_run(self, run: dict[str, Any], series: Sequence[dict[str, Any]]) -> None:
        """Append one run and its per-series summary to the run log."""
        with self.connect() as con, transaction(con):
            _insert(con, "ingest_runs", run)
            for row in series:
                _insert(con, "ingest_run_series", row)

    def record_liveness(self, run: dict[str, Any], streams: Sequence[dict[str, Any]]) -> None:
        """Append one liveness run and one row per stream, in one transaction."""
        with self.connect() as con, transaction(con):
            _insert(con, "liveness_runs", run)
            for row in streams:
                _insert(con, "liveness_streams", row)


def _insert(con: duckdb.DuckDBPyConnection, table: str, row: dict[str, Any]) -> None:
    """Insert ``row`` into ``table`` by column name, each value cast to its column's kind."""
    columns = ", ".join(f"?::{_sql_type(v)} AS {k}" for k, v in row.items())
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM (SELECT {columns})", list(row.values()))


def _sql_type(value: Any) -> str:
    if isinstance(value, list):
        return "VARCHAR[]"
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "BIGINT"
    if isinstance(value, float):
        return "DOUBLE"
    return "VARCHAR"
