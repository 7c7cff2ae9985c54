"""Errors raised by the warehouse.

    WarehouseError
    ├── NotAWarehouse (ValueError)       the --db path exists but is not a DuckDB file: never touched
    ├── WarehouseUnwritable (ValueError) the path's folder cannot be created or written
    ├── NoWarehouse (ValueError)         a read-only command was pointed at a file that does not exist
    ├── BadQuery (ValueError)            an analyst's SQL failed to parse, bind or run (or tried to write)
    └── WarehouseLocked                  another process holds the file's lock past the wait limit

The ``ValueError`` branch is bad input: the command line exits with code 2.
"""

from __future__ import annotations


class WarehouseError(Exception):
    """Base class of every error raised by :mod:`warehouse`."""


class NotAWarehouse(WarehouseError, ValueError):
    """The path holds something that is not a DuckDB database."""


class WarehouseUnwritable(WarehouseError, ValueError):
    """The database file or its folder cannot be created or written."""


class WarehouseLocked(WarehouseError):
    """Another process kept the file locked for longer than we were willing to wait."""


class NoWarehouse(WarehouseError, ValueError):
    """A command that only reads was given a path with no database file."""


class BadQuery(WarehouseError, ValueError):
    """The SQL could not be run against the warehouse; the message is DuckDB's first line."""
