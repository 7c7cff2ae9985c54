"""The audit flow: do the stored 1m candles add up to the stored higher intervals?"""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from warehouse.audit import SeriesAudit, audit_series
from warehouse.store import Warehouse, check_path

from .errors import AuditFailed
from .inputs import parse_intervals, parse_markets, parse_symbols
from .outcomes import reports_failures
from .runinfo import run_label
from .settings import Settings


@flow(name="audit-klines", persist_result=False)
@reports_failures
def audit_klines(
    symbols: list[str],
    intervals: list[str],
    days: int = 7,
    db: str | None = None,
    market: str | None = None,
    network: str | None = None,
) -> dict[str, object]:
    """Check, for the last ``days`` days, that stored 1m candles of ``market`` (default
    ``KLINES_MARKET``, else usdm) aggregate exactly to every stored candle of ``intervals``
    (higher than 1m). Fails the run on any disagreement."""
    logger = get_run_logger()
    settings = Settings.from_env(db_path=db, market=market, network=network)
    (spec,) = parse_markets(settings.market, one=True)
    syms, _ = parse_symbols(symbols)
    ivs = [i for i in parse_intervals(intervals, [spec]) if i != "1m"]
    if days < 1:
        raise ValueError(f"--days {days}: use a positive number of days")
    check_path(settings.db_path)
    warehouse = Warehouse(settings.db_path, lock_timeout=settings.lock_timeout, holder=run_label())
    results: list[SeriesAudit] = []
    with warehouse.connect() as con:
        for symbol in syms:
            for interval in ivs:
                results.append(audit_series(con, spec.name, symbol, interval, days))
    rows = [r.as_row() for r in results]
    disagreements = [d for r in results for d in r.disagreements]
    create_table_artifact(
        key="klines-audit",
        table=[{k: str(v) for k, v in row.items()} for row in rows],
        description="Buckets compared between stored higher-interval candles and their 1m aggregation.",
    )
    if disagreements:
        create_markdown_artifact(
            key="klines-audit-disagreements",
            markdown=_disagreement_table(disagreements[:200]),
        )
    summary = {"series": rows, "disagreements": disagreements}
    compared = sum(r.compared for r in results)
    logger.info("audit: %d buckets compared, %d disagreements", compared, len(disagreements))
    if disagreements:
        first = disagreements[0]
        raise AuditFailed(
            f"{len(disagreements)} disagreements between stored candles and their 1m aggregation "
            f"(first: {first['symbol']} {first['interval']} {first['open_time']} {first['field']} "
            f"stored {first['stored']} vs 1m {first['from_1m']}); re-ingest that range with --start",
            summary,
        )
    return summary


def _disagreement_table(rows: list[dict[str, str]]) -> str:
    head = (
        "| symbol | interval | open_time | field | stored | from 1m |\n|---|---|---|---|---|---|\n"
    )
    return (
        "# Audit disagreements\n\n"
        + head
        + "\n".join(
            f"| {r['symbol']} | {r['interval']} | {r['open_time']} | {r['field']} | {r['stored']} | {r['from_1m']} |"
            for r in rows
        )
    )
