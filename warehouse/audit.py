"""Cross-interval consistency: stored 1m candles must aggregate exactly to the stored
higher-interval candles (first open, max high, min low, last close, summed volumes
and trades), wherever both exist.

A bucket is compared only when its 1m candles are all there, counting minutes the
exchange confirmed empty (the gap ledger) as present; otherwise it is skipped and
counted, never reported as a disagreement.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from exchange.markets import DEFAULT_KIND  # the ``klines`` table's kind: trade candles

FIELDS = (
    "open",
    "high",
    "low",
    "close",
    "volume",
    "quote_volume",
    "trades",
    "taker_buy_base_volume",
    "taker_buy_quote_volume",
)

_SQL = f"""
WITH agg AS (SELECT * FROM resample(?, ?, mkt := ?)),
stored AS (
    SELECT * FROM klines
    WHERE market = ? AND symbol = ? AND interval = ? AND open_time >= now() - to_days(?::INTEGER)
),
empty_minutes AS (
    SELECT s.open_time,
           -- least()/greatest() skip NULLs, so a bucket without a gap must add 0 explicitly
           coalesce(sum(CASE WHEN g.gap_start IS NOT NULL THEN
               epoch_ms(least(g.gap_end, s.close_time + INTERVAL 1 MILLISECOND))
               - epoch_ms(greatest(g.gap_start, s.open_time)) END) // 60000, 0) AS minutes
    FROM stored s LEFT JOIN klines_gaps g
      ON g.market = s.market AND g.kind = ? AND g.symbol = s.symbol AND g.interval = '1m'
     AND g.cause = 'exchange_empty'
     AND g.gap_start <= s.close_time AND g.gap_end > s.open_time
    GROUP BY s.open_time
)
SELECT s.open_time,
       (epoch_ms(s.close_time) + 1 - epoch_ms(s.open_time)) // 60000 AS bucket_minutes,
       coalesce(a.minutes, 0) + e.minutes AS accounted_minutes,
       {", ".join(f"s.{f}::VARCHAR, a.{f}::VARCHAR" for f in FIELDS)}
FROM stored s
JOIN empty_minutes e USING (open_time)
LEFT JOIN agg a USING (open_time)
ORDER BY s.open_time
"""


@dataclass
class SeriesAudit:
    """The outcome for one (symbol, higher interval) pair."""

    symbol: str
    interval: str
    compared: int = 0
    skipped_incomplete: int = 0
    disagreements: list[dict[str, str]] = field(default_factory=list)

    def as_row(self) -> dict[str, object]:
        return {
            "symbol": self.symbol,
            "interval": self.interval,
            "compared": self.compared,
            "agreeing": self.compared - len({d["open_time"] for d in self.disagreements}),
            "disagreeing": len({d["open_time"] for d in self.disagreements}),
            "skipped_incomplete_1m": self.skipped_incomplete,
        }


def audit_series(
    con: duckdb.DuckDBPyConnection, market: str, symbol: str, interval: str, days: int
) -> SeriesAudit:
    """Compare one symbol's stored ``interval`` candles of the last ``days`` days with its 1m."""
    result = SeriesAudit(symbol, interval)
    params = [symbol, interval, market, market, symbol, interval, days, DEFAULT_KIND]
    rows = con.execute(_SQL, params).fetchall()
    for open_time, bucket_minutes, accounted, *values in rows:
        if accounted != bucket_minutes:
            result.skipped_incomplete += 1
            continue
        result.compared += 1
        for i, name in enumerate(FIELDS):
            stored, aggregated = values[2 * i], values[2 * i + 1]
            if _number(stored) != _number(aggregated):
                result.disagreements.append(
                    {
                        "symbol": symbol,
                        "interval": interval,
                        "open_time": open_time.strftime("%Y-%m-%d %H:%M UTC"),
                        "field": name,
                        "stored": str(stored),
                        "from_1m": str(aggregated),
                    }
                )
    return result


def _number(text: str | None) -> object:
    from decimal import Decimal

    return None if text is None else Decimal(text)
