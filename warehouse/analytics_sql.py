"""SQL of migrations 4 and 7: the analysts' views and macros (they live in the DuckDB file).

Every time computation is written to give the same answer whatever the session's
``TimeZone`` is (a naive ``AT TIME ZONE 'UTC'`` round trip for calendar steps, epoch
milliseconds for fixed ones), so the views also hold in a ``duckdb`` shell set to local time.

- ``klines_interval_ms(iv)``: milliseconds of a fixed interval; NULL for ``1M``.
- ``klines_bucket(iv, ts)``: open time of the ``iv`` candle containing ``ts`` on Binance's
  grid: fixed intervals from the Unix epoch, ``1w`` from Monday 00:00 UTC, ``1M`` calendar.
- ``klines_next_open(iv, open_time)``: the following open time on that grid.
- ``klines_grid_count(iv, t0, t1)``: how many open times of ``iv`` lie in ``[t0, t1)``.
- ``latest_klines``: the newest stored candle per series, with ``since_close``.
- ``gaps``: the gap ledger ``klines_gaps`` with ``duration`` and ``recoverable``.
- ``coverage``: per series and UTC day, expected / present / missing by cause.
- ``resample(sym, target_interval, mkt := 'usdm')``: stored 1m candles aggregated the way
  the exchange aggregates them (first open, max high, min low, last close, summed volumes);
  ``minutes`` counts the 1m candles used and ``complete`` says the bucket lies wholly inside
  the stored 1m range (the first and last buckets usually do not).

Migration 7 (price kinds) adds ``price_klines`` to them: ``gaps`` and ``coverage`` gain a
``kind`` column (``trade`` for the ``klines`` table) and cover both tables;
``latest_price_klines`` is ``latest_klines`` for price candles; the table macro
``resample_prices(sym, price_kind, target_interval, mkt := 'usdm')`` is ``resample`` for
them (prices only: first open, max high, min low, last close); ``klines_pair(symbol)`` is
a contract's pair (``BTCUSD_PERP`` → ``BTCUSD``), what index prices are keyed by.
"""

from __future__ import annotations

_FIXED_MS = {
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
    "3d": 259_200_000,
    "1w": 604_800_000,
}
_WEEK_OFFSET_MS = 345_600_000  # 1970-01-05, the first Monday after the epoch
_CASES = " ".join(f"WHEN '{k}' THEN {v}" for k, v in _FIXED_MS.items())
_CAUSES = ("exchange_empty", "before_listing", "after_delisting", "not_fetched", "fetch_failed")
_MISSING_COLUMNS = ",\n       ".join(
    f"coalesce(m.missing_{c}, 0)::BIGINT AS missing_{c}" for c in _CAUSES
)
_MISSING_PIVOT = ",\n           ".join(
    f"sum(n) FILTER (WHERE cause = '{c}') AS missing_{c}" for c in _CAUSES
)
_MISSING_TOTAL = " + ".join(f"coalesce(m.missing_{c}, 0)" for c in _CAUSES)

ANALYST_SQL = f"""
CREATE MACRO klines_interval_ms(iv) AS (CASE iv {_CASES} END)::BIGINT;

CREATE MACRO klines_interval_offset_ms(iv) AS
    (CASE WHEN iv = '1w' THEN {_WEEK_OFFSET_MS} ELSE 0 END)::BIGINT;

CREATE MACRO klines_bucket(iv, ts) AS CASE
    WHEN iv = '1M' THEN date_trunc('month', ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
    ELSE epoch_ms(
        (epoch_ms(ts) - klines_interval_offset_ms(iv)) // klines_interval_ms(iv)
            * klines_interval_ms(iv) + klines_interval_offset_ms(iv)
    ) AT TIME ZONE 'UTC'
END;

CREATE MACRO klines_next_open(iv, open_time) AS CASE
    WHEN iv = '1M' THEN ((open_time AT TIME ZONE 'UTC') + INTERVAL 1 MONTH) AT TIME ZONE 'UTC'
    ELSE open_time + to_milliseconds(klines_interval_ms(iv))
END;

CREATE MACRO klines_grid_count(iv, t0, t1) AS (CASE
    WHEN t1 <= t0 THEN 0
    WHEN iv = '1M' THEN
        (year((t1 - INTERVAL 1 MILLISECOND) AT TIME ZONE 'UTC') * 12
            + month((t1 - INTERVAL 1 MILLISECOND) AT TIME ZONE 'UTC'))
        - (year((t0 - INTERVAL 1 MILLISECOND) AT TIME ZONE 'UTC') * 12
            + month((t0 - INTERVAL 1 MILLISECOND) AT TIME ZONE 'UTC'))
    ELSE (epoch_ms(t1) - klines_interval_offset_ms(iv) - 1) // klines_interval_ms(iv)
        - (epoch_ms(t0) - klines_interval_offset_ms(iv) - 1) // klines_interval_ms(iv)
END)::BIGINT;

CREATE VIEW latest_klines AS
SELECT *, now() - (close_time + INTERVAL 1 MILLISECOND) AS since_close
FROM klines
QUALIFY row_number() OVER (PARTITION BY market, symbol, interval ORDER BY open_time DESC) = 1;

CREATE VIEW gaps AS
SELECT market, symbol, interval, gap_start, gap_end, gap_end - gap_start AS duration, missing,
       cause, cause IN ('not_fetched', 'fetch_failed') AS recoverable, detail,
       first_seen_at, verified_at, run_id
FROM klines_gaps;

CREATE VIEW coverage AS
WITH spans AS (
    SELECT market, symbol, interval, min(t0) AS t0, max(t1) AS t1
    FROM (
        SELECT market, symbol, interval, min(open_time) AS t0,
               max(close_time) + INTERVAL 1 MILLISECOND AS t1
        FROM klines GROUP BY market, symbol, interval
        UNION ALL
        SELECT market, symbol, interval, min(gap_start), max(gap_end)
        FROM klines_gaps GROUP BY market, symbol, interval
    )
    GROUP BY market, symbol, interval
),
days AS (
    SELECT market, symbol, interval, t0, t1, day,
           day AT TIME ZONE 'UTC' AS d0, (day + INTERVAL 1 DAY) AT TIME ZONE 'UTC' AS d1
    FROM (
        SELECT *, unnest(generate_series(
            date_trunc('day', t0 AT TIME ZONE 'UTC'),
            date_trunc('day', (t1 - INTERVAL 1 MILLISECOND) AT TIME ZONE 'UTC'),
            INTERVAL 1 DAY)) AS day
        FROM spans
    )
),
present AS (
    SELECT market, symbol, interval, date_trunc('day', open_time AT TIME ZONE 'UTC') AS day,
           count(*) AS present
    FROM klines GROUP BY ALL
),
missing AS (
    SELECT market, symbol, interval, day,
           {_MISSING_PIVOT}
    FROM (
        SELECT d.market, d.symbol, d.interval, d.day, g.cause,
               klines_grid_count(d.interval, greatest(g.gap_start, d.d0), least(g.gap_end, d.d1)) AS n
        FROM days d JOIN klines_gaps g
          ON g.market = d.market AND g.symbol = d.symbol AND g.interval = d.interval
         AND g.gap_start < d.d1 AND g.gap_end > d.d0
    )
    GROUP BY ALL
)
SELECT d.market, d.symbol, d.interval, d.day::DATE AS day,
       klines_grid_count(d.interval, greatest(d.t0, d.d0), least(d.t1, d.d1)) AS expected,
       coalesce(p.present, 0) AS present,
       {_MISSING_COLUMNS},
       (klines_grid_count(d.interval, greatest(d.t0, d.d0), least(d.t1, d.d1))
           - coalesce(p.present, 0) - ({_MISSING_TOTAL}))::BIGINT AS unexplained,
       round(coalesce(p.present, 0)
           / nullif(klines_grid_count(d.interval, greatest(d.t0, d.d0), least(d.t1, d.d1)), 0),
           6) AS completeness
FROM days d
LEFT JOIN present p USING (market, symbol, interval, day)
LEFT JOIN missing m USING (market, symbol, interval, day);

CREATE MACRO resample(sym, target_interval, mkt := 'usdm') AS TABLE
SELECT market, symbol, target_interval AS interval, bucket AS open_time,
       arg_min(open, t) AS open, max(high) AS high, min(low) AS low, arg_max(close, t) AS close,
       sum(volume) AS volume,
       klines_next_open(target_interval, bucket) - INTERVAL 1 MILLISECOND AS close_time,
       sum(quote_volume) AS quote_volume, sum(trades)::BIGINT AS trades,
       sum(taker_buy_base_volume) AS taker_buy_base_volume,
       sum(taker_buy_quote_volume) AS taker_buy_quote_volume,
       count(*) AS minutes,
       bucket >= any_value(first_open)
           AND klines_next_open(target_interval, bucket) <= any_value(last_end) AS complete
FROM (
    SELECT *, open_time AS t, klines_bucket(target_interval, open_time) AS bucket,
           min(open_time) OVER () AS first_open,
           max(close_time) OVER () + INTERVAL 1 MILLISECOND AS last_end
    FROM klines
    WHERE market = mkt AND symbol = sym AND interval = '1m'
      AND CASE WHEN target_interval = '1M' OR klines_interval_ms(target_interval) IS NOT NULL
               THEN true
               ELSE error('resample: unknown interval ' || target_interval
                          || '; use one of 1m,3m,5m,15m,30m,1h,2h,4h,6h,8h,12h,1d,3d,1w,1M')
          END
)
GROUP BY market, symbol, bucket
ORDER BY open_time;
"""

# Migration 7: the candles of both tables, each with its kind (the trade table's is 'trade').
_CANDLES = """SELECT market, 'trade' AS kind, symbol, interval, open_time, close_time FROM klines
    UNION ALL
    SELECT market, kind, symbol, interval, open_time, close_time FROM price_klines"""

PRICE_KINDS_SQL = f"""
CREATE MACRO klines_pair(sym) AS split_part(sym, '_', 1);

CREATE VIEW latest_price_klines AS
SELECT *, now() - (close_time + INTERVAL 1 MILLISECOND) AS since_close
FROM price_klines
QUALIFY row_number() OVER (PARTITION BY market, kind, symbol, interval ORDER BY open_time DESC) = 1;

CREATE OR REPLACE VIEW gaps AS
SELECT market, kind, symbol, interval, gap_start, gap_end, gap_end - gap_start AS duration,
       missing, cause, cause IN ('not_fetched', 'fetch_failed') AS recoverable, detail,
       first_seen_at, verified_at, run_id
FROM klines_gaps;

CREATE OR REPLACE VIEW coverage AS
WITH candles AS (
    {_CANDLES}
),
spans AS (
    SELECT market, kind, symbol, interval, min(t0) AS t0, max(t1) AS t1
    FROM (
        SELECT market, kind, symbol, interval, min(open_time) AS t0,
               max(close_time) + INTERVAL 1 MILLISECOND AS t1
        FROM candles GROUP BY market, kind, symbol, interval
        UNION ALL
        SELECT market, kind, symbol, interval, min(gap_start), max(gap_end)
        FROM klines_gaps GROUP BY market, kind, symbol, interval
    )
    GROUP BY market, kind, symbol, interval
),
days AS (
    SELECT market, kind, symbol, interval, t0, t1, day,
           day AT TIME ZONE 'UTC' AS d0, (day + INTERVAL 1 DAY) AT TIME ZONE 'UTC' AS d1
    FROM (
        SELECT *, unnest(generate_series(
            date_trunc('day', t0 AT TIME ZONE 'UTC'),
            date_trunc('day', (t1 - INTERVAL 1 MILLISECOND) AT TIME ZONE 'UTC'),
            INTERVAL 1 DAY)) AS day
        FROM spans
    )
),
present AS (
    SELECT market, kind, symbol, interval, date_trunc('day', open_time AT TIME ZONE 'UTC') AS day,
           count(*) AS present
    FROM candles GROUP BY ALL
),
missing AS (
    SELECT market, kind, symbol, interval, day,
           {_MISSING_PIVOT}
    FROM (
        SELECT d.market, d.kind, d.symbol, d.interval, d.day, g.cause,
               klines_grid_count(d.interval, greatest(g.gap_start, d.d0), least(g.gap_end, d.d1)) AS n
        FROM days d JOIN klines_gaps g
          ON g.market = d.market AND g.kind = d.kind AND g.symbol = d.symbol
         AND g.interval = d.interval AND g.gap_start < d.d1 AND g.gap_end > d.d0
    )
    GROUP BY ALL
)
SELECT d.market, d.kind, d.symbol, d.interval, d.day::DATE AS day,
       klines_grid_count(d.interval, greatest(d.t0, d.d0), least(d.t1, d.d1)) AS expected,
       coalesce(p.present, 0) AS present,
       {_MISSING_COLUMNS},
       (klines_grid_count(d.interval, greatest(d.t0, d.d0), least(d.t1, d.d1))
           - coalesce(p.present, 0) - ({_MISSING_TOTAL}))::BIGINT AS unexplained,
       round(coalesce(p.present, 0)
           / nullif(klines_grid_count(d.interval, greatest(d.t0, d.d0), least(d.t1, d.d1)), 0),
           6) AS completeness
FROM days d
LEFT JOIN present p USING (market, kind, symbol, interval, day)
LEFT JOIN missing m USING (market, kind, symbol, interval, day);

CREATE MACRO resample_prices(sym, price_kind, target_interval, mkt := 'usdm') AS TABLE
SELECT market, kind, symbol, target_interval AS interval, bucket AS open_time,
       klines_next_open(target_interval, bucket) - INTERVAL 1 MILLISECOND AS close_time,
       arg_min(open, t) AS open, max(high) AS high, min(low) AS low, arg_max(close, t) AS close,
       count(*) AS minutes,
       bucket >= any_value(first_open)
           AND klines_next_open(target_interval, bucket) <= any_value(last_end) AS complete
FROM (
    SELECT *, open_time AS t, klines_bucket(target_interval, open_time) AS bucket,
           min(open_time) OVER () AS first_open,
           max(close_time) OVER () + INTERVAL 1 MILLISECOND AS last_end
    FROM price_klines
    WHERE market = mkt AND kind = price_kind AND symbol = sym AND interval = '1m'
      AND CASE WHEN target_interval = '1M' OR klines_interval_ms(target_interval) IS NOT NULL
               THEN true
               ELSE error('resample_prices: unknown interval ' || target_interval
                          || '; use one of 1m,3m,5m,15m,30m,1h,2h,4h,6h,8h,12h,1d,3d,1w,1M')
          END
)
GROUP BY market, kind, symbol, bucket
ORDER BY open_time;
"""
