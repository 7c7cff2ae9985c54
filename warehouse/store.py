"""The DuckDB warehouse: one class composed of the modules that do the work.

- :mod:`warehouse.files`: checking a path, opening the file (waiting while another process
  holds it), and the one :func:`~warehouse.files.transaction` helper of every write;
- :mod:`warehouse.connection`: sharing a connection among this process's writes
  (:meth:`Warehouse.connect`, :meth:`Warehouse.session`);
- :mod:`warehouse.candles`: writing candles (upserts, revisions, rejects, the gap ledger in
  the same transaction) and reading what is stored;
- :mod:`warehouse.runlog`: ingest and liveness runs, remembered bans;
- :mod:`warehouse.errors`: the warehouse's errors, and the one mapping of DuckDB's to them.

``from warehouse.store import Warehouse, check_path, BatchSeries, WriteResult`` is the
import the flows and tasks use.
"""

from __future__ import annotations

from .candles import BatchSeries, Candles, WriteResult
from .files import check_path
from .runlog import RunLog


class Warehouse(Candles, RunLog):
    """A DuckDB file of klines.

    Args:
        path: the database file; created with its folder on the first write.
        lock_timeout: seconds to keep retrying while another process holds the file.
        holder: how this process names itself to processes that find the file locked
            (its flow run; by default its command line).
    """


__all__ = ["BatchSeries", "Warehouse", "WriteResult", "check_path"]
