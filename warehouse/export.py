"""Publish the warehouse as Parquet: hive-partitioned by series and month, one folder per table.

Layout of ``klines``: ``OUT/market=usdm/symbol=BTCUSDT/interval=1m/month=2026-11/data.parquet``
plus ``OUT/_manifest.json``; of ``price_klines`` (in a folder of its own, since one hive glob
must see one schema and one set of partition keys):
``OUT/market=usdm/kind=mark/symbol=BTCUSDT/interval=1m/month=2026-11/data.parquet``. Each file
holds one partition's rows in ``open_time`` order, without the partition columns
(``read_parquet('OUT/**/*.parquet', hive_partitioning = true)`` adds them back from the path).

Incremental: a partition is rewritten only when its row count or newest ``ingested_at``
differs from the manifest (an update of a candle sets ``ingested_at``), or its file is gone.
Atomic: files are written into a staging folder beside ``OUT`` (same file system), then each
is moved into place with ``os.replace``; a reader sees a partition's old file or its new
one, never half of one. The manifest is replaced last, so a crash in between only makes the
next export redo those partitions.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .query import open_existing
from .schema import TABLES

MANIFEST = "_manifest.json"
FILE_NAME = "data.parquet"


@dataclass
class ExportResult:
    """What one export did: partitions written, left as they were, removed; rows written."""

    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    rows: int = 0


def partition_key(market: str, symbol: str, interval: str, month: str) -> str:
    """The partition's folder of a ``klines`` series, relative to the export root."""
    return f"market={market}/symbol={symbol}/interval={interval}/month={month}"


def export_parquet(
    db: str | os.PathLike[str],
    out: str | os.PathLike[str],
    lock_timeout: float = 120.0,
    table: str = "klines",
    only_if_any: bool = False,
) -> ExportResult:
    """Bring the Parquet copy at ``out`` up to date with ``table`` of ``db`` (``klines`` or
    ``price_klines``), partitioned by the table's series columns and the month.

    With ``only_if_any``, nothing is created while the table holds no row (or does not
    exist yet: a file older than it) and ``out`` holds no earlier export.

    Raises:
        NoWarehouse, NotAWarehouse: ``db`` is missing or not a DuckDB file.
        WarehouseLocked: a writer held the file past ``lock_timeout``.
        OSError: ``out`` cannot be written.
    """
    keys = TABLES[table].series_keys
    stats_sql = f"""
        SELECT {", ".join(keys)}, strftime(open_time, '%Y-%m') AS month,
               count(*) AS rows, max(ingested_at)::VARCHAR AS max_ingested_at
        FROM {table} GROUP BY ALL ORDER BY ALL"""
    root = Path(out)
    manifest_path = root / MANIFEST
    old: dict[str, dict[str, object]] = (
        json.loads(manifest_path.read_text())["partitions"] if manifest_path.exists() else {}
    )
    staging = root.parent / f".{root.name}.staging-{uuid.uuid4().hex[:12]}"
    result = ExportResult()
    new: dict[str, dict[str, object]] = {}
    try:
        with open_existing(db, lock_timeout).connect(read_only=True) as con:
            found = con.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [table]
            ).fetchone()
            stats = con.execute(stats_sql).fetchall() if found and found[0] else []
            if only_if_any and not stats and not old:
                return result
            root.mkdir(parents=True, exist_ok=True)
            for *names, month, rows, newest in stats:
                series = dict(zip(keys, names, strict=True))
                key = "/".join([*(f"{c}={v}" for c, v in series.items()), f"month={month}"])
                entry: dict[str, object] = {"rows": rows, "max_ingested_at": newest}
                new[key] = entry
                if old.get(key) == entry and (root / key / FILE_NAME).exists():
                    result.unchanged += 1
                    continue
                target = staging / key / FILE_NAME
                target.parent.mkdir(parents=True, exist_ok=True)
                start = f"{month}-01 00:00:00+00"
                where = " AND ".join(f"{c} = {_lit(v)}" for c, v in series.items())
                con.execute(
                    f"""COPY (
                        SELECT * EXCLUDE ({", ".join(keys)}) FROM {table}
                        WHERE {where}
                          AND open_time >= {_lit(start)}::TIMESTAMPTZ
                          AND open_time < ({_lit(start)}::TIMESTAMPTZ AT TIME ZONE 'UTC'
                                           + INTERVAL 1 MONTH) AT TIME ZONE 'UTC'
                        ORDER BY open_time
                    ) TO {_lit(str(target))} (FORMAT parquet, COMPRESSION zstd)"""
                )
                result.written.append(key)
                result.rows += int(rows)
        for key in result.written:
            final = root / key / FILE_NAME
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / key / FILE_NAME, final)
        for key in sorted(set(old) - set(new)):
            (root / key / FILE_NAME).unlink(missing_ok=True)
            _prune(root / key, root)
            result.removed.append(key)
        tmp = root / f".{MANIFEST}.{uuid.uuid4().hex[:8]}"
        tmp.write_text(json.dumps({"version": 1, "partitions": new}, indent=1, sort_keys=True))
        os.replace(tmp, manifest_path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result


def _lit(value: str) -> str:
    """A SQL string literal (the values come from the warehouse itself)."""
    return "'" + value.replace("'", "''") + "'"


def _prune(folder: Path, root: Path) -> None:
    """Remove ``folder`` and its parents up to ``root`` while they are empty."""
    while folder != root and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def prices_folder(out: str | os.PathLike[str]) -> Path:
    """Where ``klines export --out OUT`` puts ``price_klines`` by default: ``OUT-prices``
    beside ``OUT`` (a folder of its own: one hive glob must see one schema)."""
    root = Path(out)
    return root.with_name(f"{root.name}-prices")
