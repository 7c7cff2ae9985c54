"""Versioned schema migrations, applied in order when a connection opens.

Each migration runs in its own transaction together with its row in
``schema_migrations``, so a crash leaves the file at a whole version.
Append new migrations; never edit one that has shipped.
"""

from __future__ import annotations

import duckdb

from .analytics_sql import ANALYST_SQL as _ANALYST_SQL
from .analytics_sql import PRICE_KINDS_SQL as _PRICE_KINDS_SQL
from .files import transaction
from .schema import KLINES_COLUMNS, PRICE_KLINES_COLUMNS, VALUE_FIELDS

_KLINES_DDL = ",\n    ".join(f"{name} {sql}" for name, sql in KLINES_COLUMNS)
_PRICE_KLINES_DDL = ",\n    ".join(f"{name} {sql}" for name, sql in PRICE_KLINES_COLUMNS)
_VALUES_DDL = ",\n    ".join(
    [
        *(f"{f.name} {f.sql}" for f in VALUE_FIELDS[:5]),
        "close_time TIMESTAMPTZ",
        *(f"{f.name} {f.sql}" for f in VALUE_FIELDS[5:]),
    ]
)

MIGRATIONS: tuple[tuple[int, str, str], ...] = (
    (
        1,
        "klines, revisions, rejects and run log",
        f"""
CREATE TABLE klines (
    {_KLINES_DDL},
    PRIMARY KEY (market, symbol, interval, open_time)
);
CREATE TABLE klines_revisions (
    market VARCHAR NOT NULL,
    symbol VARCHAR NOT NULL,
    interval VARCHAR NOT NULL,
    open_time TIMESTAMPTZ NOT NULL,
    {_VALUES_DDL},
    source VARCHAR,
    ingested_at TIMESTAMPTZ,
    run_id VARCHAR,
    revised_at TIMESTAMPTZ NOT NULL,
    revised_by_run_id VARCHAR NOT NULL
);
CREATE TABLE klines_rejected (
    market VARCHAR NOT NULL,
    symbol VARCHAR NOT NULL,
    interval VARCHAR NOT NULL,
    open_time_ms BIGINT,
    raw VARCHAR NOT NULL,
    failed_checks VARCHAR[] NOT NULL,
    source VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    rejected_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE ingest_runs (
    run_id VARCHAR PRIMARY KEY,
    flow_run_id VARCHAR,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL,
    status VARCHAR NOT NULL,
    parameters JSON,
    requests BIGINT,
    weight BIGINT,
    retries JSON
);
CREATE TABLE ingest_run_series (
    run_id VARCHAR NOT NULL,
    market VARCHAR NOT NULL,
    symbol VARCHAR NOT NULL,
    interval VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    fetched BIGINT,
    inserted BIGINT,
    updated BIGINT,
    rejected BIGINT,
    open_skipped BIGINT,
    requests BIGINT,
    weight BIGINT,
    seconds DOUBLE,
    error VARCHAR
);
""",
    ),
    (
        2,
        "WebSocket liveness runs and their streams",
        """
CREATE TABLE liveness_runs (
    run_id VARCHAR PRIMARY KEY,
    flow_run_id VARCHAR,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL,
    ws_url VARCHAR NOT NULL,
    rest_url VARCHAR NOT NULL,
    seconds DOUBLE NOT NULL,          -- the sampling window
    streams BIGINT NOT NULL,
    verdict VARCHAR NOT NULL,         -- PASS | WARN | FAIL
    healthy BOOLEAN NOT NULL,
    clock_offset_ms BIGINT,           -- exchange clock minus local clock
    diagnosis VARCHAR,                -- one line per finding
    report VARCHAR                    -- the Markdown report
);
CREATE TABLE liveness_streams (
    run_id VARCHAR NOT NULL,
    stream VARCHAR NOT NULL,          -- btcusdt@kline_1m
    status VARCHAR NOT NULL,          -- PASS | WARN | FAIL
    failed_checks VARCHAR[] NOT NULL, -- names of the FAIL and WARN checks
    connect_ms DOUBLE,
    ack VARCHAR,                      -- ok | rejected | no-reply | not-sent
    ack_error VARCHAR,
    first_event_s DOUBLE,
    events BIGINT,
    events_per_s DOUBLE,
    parse_failures BIGINT,
    lag_p50_ms DOUBLE,
    lag_p95_ms DOUBLE,
    lag_max_ms DOUBLE,
    out_of_order BIGINT,
    duplicates BIGINT,
    overflow BIGINT,
    closed_seen BIGINT,
    rest_mismatches BIGINT,
    disconnects BIGINT,
    reconnects BIGINT,
    PRIMARY KEY (run_id, stream)
);
""",
    ),
    (
        3,
        "gap ledger and remembered rate-limit bans",
        """
CREATE TABLE klines_gaps (
    market VARCHAR NOT NULL,
    symbol VARCHAR NOT NULL,
    interval VARCHAR NOT NULL,
    gap_start TIMESTAMPTZ NOT NULL,   -- open time of the first missing candle
    gap_end TIMESTAMPTZ NOT NULL,     -- open time after the last missing candle (exclusive)
    missing BIGINT NOT NULL,          -- candles expected in [gap_start, gap_end)
    cause VARCHAR NOT NULL,           -- exchange_empty | before_listing | after_delisting | not_fetched | fetch_failed
    detail VARCHAR,
    first_seen_at TIMESTAMPTZ NOT NULL,
    verified_at TIMESTAMPTZ NOT NULL,
    run_id VARCHAR,
    PRIMARY KEY (market, symbol, interval, gap_start)
);
CREATE TABLE rate_limit_bans (
    base_url VARCHAR NOT NULL,
    banned_until TIMESTAMPTZ NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL,
    detail VARCHAR
);
""",
    ),
    (4, "analyst views and macros: latest_klines, gaps, coverage, resample", _ANALYST_SQL),
    (
        5,
        "candles per source (bulk archive or REST) in the run log",
        """
ALTER TABLE ingest_run_series ADD COLUMN from_archive BIGINT;
ALTER TABLE ingest_run_series ADD COLUMN from_rest BIGINT;
ALTER TABLE ingest_run_series ADD COLUMN archive_files BIGINT;
ALTER TABLE ingest_run_series ADD COLUMN archive_fallbacks BIGINT;
""",
    ),
    (
        6,
        "facts about the file itself: the network its data comes from",
        """
CREATE TABLE warehouse_info (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
""",
    ),
    (
        7,
        "price kinds: price_klines (mark, index, premium index); kind in the ledger, "
        "revisions, rejects and run log; views and macros over both tables",
        f"""
CREATE TABLE price_klines (
    {_PRICE_KLINES_DDL},
    PRIMARY KEY (market, kind, symbol, interval, open_time)
);
ALTER TABLE klines_revisions ADD COLUMN kind VARCHAR NOT NULL DEFAULT 'trade';
ALTER TABLE klines_rejected ADD COLUMN kind VARCHAR NOT NULL DEFAULT 'trade';
ALTER TABLE ingest_run_series ADD COLUMN kind VARCHAR NOT NULL DEFAULT 'trade';
-- the ledger's primary key gains the kind: a new table, the rows copied, names swapped
CREATE TABLE klines_gaps_by_kind (
    market VARCHAR NOT NULL,
    kind VARCHAR NOT NULL DEFAULT 'trade',
    symbol VARCHAR NOT NULL,
    interval VARCHAR NOT NULL,
    gap_start TIMESTAMPTZ NOT NULL,
    gap_end TIMESTAMPTZ NOT NULL,
    missing BIGINT NOT NULL,
    cause VARCHAR NOT NULL,
    detail VARCHAR,
    first_seen_at TIMESTAMPTZ NOT NULL,
    verified_at TIMESTAMPTZ NOT NULL,
    run_id VARCHAR,
    PRIMARY KEY (market, kind, symbol, interval, gap_start)
);
INSERT INTO klines_gaps_by_kind BY NAME SELECT * FROM klines_gaps;
DROP TABLE klines_gaps;
ALTER TABLE klines_gaps_by_kind RENAME TO klines_gaps;
{_PRICE_KINDS_SQL}
""",
    ),
    (
        8,
        "the market and network of liveness runs and streams",
        """
ALTER TABLE liveness_runs ADD COLUMN market VARCHAR DEFAULT 'usdm';      -- usdm | coinm | spot, or several: usdm,spot
ALTER TABLE liveness_runs ADD COLUMN network VARCHAR DEFAULT 'mainnet';  -- mainnet | testnet
CREATE TABLE liveness_streams_8 (
    run_id VARCHAR NOT NULL,
    market VARCHAR NOT NULL DEFAULT 'usdm',
    network VARCHAR NOT NULL DEFAULT 'mainnet',
    stream VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    failed_checks VARCHAR[] NOT NULL,
    connect_ms DOUBLE,
    ack VARCHAR,
    ack_error VARCHAR,
    first_event_s DOUBLE,
    events BIGINT,
    events_per_s DOUBLE,
    parse_failures BIGINT,
    lag_p50_ms DOUBLE,
    lag_p95_ms DOUBLE,
    lag_max_ms DOUBLE,
    out_of_order BIGINT,
    duplicates BIGINT,
    overflow BIGINT,
    closed_seen BIGINT,
    rest_mismatches BIGINT,
    disconnects BIGINT,
    reconnects BIGINT,
    PRIMARY KEY (run_id, market, stream)  -- one run may sample btcusdt@kline_1m on two markets
);
INSERT INTO liveness_streams_8 BY NAME SELECT * FROM liveness_streams;
DROP TABLE liveness_streams;
ALTER TABLE liveness_streams_8 RENAME TO liveness_streams;
""",
    ),
)


def apply_migrations(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Bring the database up to the newest version; returns the versions applied."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, description VARCHAR, applied_at TIMESTAMPTZ)"
    )
    done = {v for (v,) in con.execute("SELECT version FROM schema_migrations").fetchall()}
    applied = []
    for version, description, sql in MIGRATIONS:
        if version in done:
            continue
        with transaction(con):
            con.execute(sql)
            con.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, now())", [version, description]
            )
        applied.append(version)
    return applied


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT max(version) FROM schema_migrations").fetchone()
    return int(row[0] or 0) if row else 0
