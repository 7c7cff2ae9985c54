"""Benchmark (c): archive backfill through the ingest flow, next to DuckDB's own CSV ceiling.

Measured where a user stands, so the figures outlive any redesign of the pipeline: the
``ingest-klines`` flow with ``source="archive"``, run in this process with Prefect's
temporary API (as the other benchmarks do), against the simulator in its own process
(20 ± 5 ms per request, ``--universe full``, its clock frozen at 2026-10-25T00:07:30Z, so
October comes as 24 daily files and every earlier month as a monthly file). The symbols are
the first TRADING USDT perpetuals of that universe listed before the job starts (BTCUSDT,
ETHUSDT, BNBUSDT, ...). Jobs:

- ``daily`` (default): 8 symbols × 90 days of 1m ending yesterday (2026-07-27 to 2026-10-25:
  per symbol 5 + 24 daily files and 2 monthly ones; 248 zips, 1,033,560 candles);
- ``monthly``: 2 symbols × 4 whole months (June to September 2026, monthly files only).

Every zip is fetched once before timing (the simulator keeps what it generated, so no
generation is timed) and its CSV kept. Then, for ``--rounds`` rounds, each into a new
file: the flow over the last day of the job (its fixed cost: Prefect, planning, run log,
artifacts), the flow over the whole job, and the ceiling: one ``INSERT … SELECT`` from
DuckDB's ``read_csv`` of the same CSVs into an empty copy of ``klines`` (same types, same
primary key). A job's seconds are the flow's wall time minus the fixed cost (the median of
the one-day runs), its candles/s (candles − the one-day run's) over those seconds, its
share that rate over the ceiling's in the same round; the table shows the round with the
median share and lists every round's. Checked every round: the flow asked for exactly the
planned zips, and its ``klines`` equals the ceiling's table (row count and a hash over
every value). Untimed first: one one-day flow run (it starts Prefect's API) and one ceiling.

Sizes, after the daily job: the DuckDB file after ``CHECKPOINT``, and the Parquet that
``klines export`` writes (:func:`warehouse.export.export_parquet`), per million candles.

``--slow``: 50 symbols × 365 days of 1m (about 26 M candles, 2,100 zips, all generated
first) through ``klines ingest --source archive`` in a child process: wall time from spawn
to exit (its temporary Prefect API included), candles/s, the child's peak RSS (its
``VmHWM``, polled every 0.1 s) against 1 GiB. Then the same command into a
new file, SIGKILLed once the simulator has served it half the clean run's zips, and the
same command again to the end, as a user reruns it: the file must end equal to the clean
one (row count, a hash over every candle's values and source, the gap ledger), and the
rerun should download none of the files whose candles were all stored at the kill (zips
counted by the simulator). The sizes of the clean file follow.

Run: ``uv run python -m bench.archive_backfill [--job daily|monthly|all] [--symbols 8]
[--days 90] [--months 4] [--rounds 3]``; the slow mode: ``... --slow [--symbols 50]
[--days 365]``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from cli.ingest import run_ingest
from exchange.archive import ArchiveFile, plan_archive
from simulator.universe import full_universe
from warehouse.export import export_parquet
from warehouse.schema import KLINES_COLUMNS

from .common import ms, print_table, simulator_process

SIM_NOW = "2026-10-25T00:07:30Z"  # the simulator's frozen clock
TODAY_MS = ms(2026, 10, 25)
LATENCY_MS, JITTER_MS = 20.0, 5.0
DAY_MS = 86_400_000
MIB = 1 << 20
RSS_LIMIT_MIB = 1024
# Every column but the ones a run stamps (when and which run wrote the row).
VALUES = tuple(n for n, _ in KLINES_COLUMNS if n not in ("source", "ingested_at", "run_id"))
HEADERS = ("job", "candles", "seconds", "candles/s", "share of ceiling", "target", "rounds")
SIZE_HEADERS = ("what", "candles", "MiB", "MiB per million candles", "notes")
SLOW_HEADERS = ("run", "candles", "seconds", "candles/s", "peak RSS (MiB)", "limit (MiB)",
                "archive zips", "notes")  # fmt: skip


@dataclass(frozen=True)
class Job:
    """A backfill: 1m of ``symbols`` over ``[start_ms, end_ms)``, all of it from the archive."""

    name: str
    symbols: tuple[str, ...]
    start_ms: int
    end_ms: int
    span: str
    target: str = ""

    def files(self) -> list[ArchiveFile]:
        return [
            f
            for s in self.symbols
            for f in plan_archive(s, "1m", self.start_ms, self.end_ms, TODAY_MS)
        ]

    def one_day(self) -> Job:
        return replace(self, start_ms=self.end_ms - DAY_MS, span="1 day")

    @property
    def label(self) -> str:
        files = self.files()
        monthly = sum(f.period == "monthly" for f in files)
        return (
            f"{self.name}: {len(self.symbols)} symbols × {self.span} of 1m to "
            f"{_day(self.end_ms)} ({monthly} monthly + {len(files) - monthly} daily zips)"
        )


def pick_symbols(n: int, listed_by_ms: int) -> tuple[str, ...]:
    """The first ``n`` TRADING USDT perpetuals of the simulator's full universe listed by
    ``listed_by_ms`` (the universe is the same in every process)."""
    names = [
        s.symbol
        for s in full_universe()
        if s.status == "TRADING"
        and s.contract_type == "PERPETUAL"
        and s.symbol.endswith("USDT")
        and s.onboard_ms <= listed_by_ms
    ]
    if len(names) < n:
        raise SystemExit(f"only {len(names)} symbols listed by {_day(listed_by_ms)}")
    return tuple(names[:n])


def daily_job(symbols: int = 8, days: int = 90, name: str = "daily") -> Job:
    start = TODAY_MS - days * DAY_MS
    return Job(name, pick_symbols(symbols, start), start, TODAY_MS, f"{days} days", "≥ 60 %")


def monthly_job(months: int = 4) -> Job:
    start = ms(2026, 10 - months)
    end = ms(2026, 10)
    return Job("monthly", pick_symbols(2, start), start, end, f"{months} months", "≥ 75 %")


# ------------------------------------------------------------------ the simulator


def prefetch(url: str, files: Sequence[ArchiveFile], csv_dir: Path | None = None) -> list[str]:
    """Fetch every zip once (the simulator generates and keeps it); with ``csv_dir``, keep
    each one's CSV there. Returns the CSV paths (empty strings without ``csv_dir``)."""

    def one(f: ArchiveFile) -> str:
        with urllib.request.urlopen(f"{url}/{f.path}", timeout=600) as resp:
            data = resp.read()
        if csv_dir is None:
            return ""
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            (member,) = zf.namelist()
            target = csv_dir / member
            target.write_bytes(zf.read(member))
        return str(target)

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(one, files))


def zips_served(url: str) -> Counter[str]:
    """Archive zips the simulator has answered so far, by path (checksums aside)."""
    with urllib.request.urlopen(f"{url}/_sim/stats", timeout=30) as resp:
        by_path = json.load(resp)["requests_by_path"]
    return Counter(
        {p[1:]: n for p, n in by_path.items() if p.startswith("/data/") and p.endswith(".zip")}
    )


# ------------------------------------------------------------------ the two sides


def flow_run(job: Job, url: str, db: Path) -> tuple[float, int]:
    """Wall seconds of one ingest flow run of ``job`` into ``db``, and the candles stored."""
    t0 = time.perf_counter()
    summary = run_ingest(
        list(job.symbols), ["1m"], _iso(job.start_ms), _iso(job.end_ms), str(db), url,
        source="archive", archive_url=url, market="usdm", network="mainnet",
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    assert summary["status"] == "ok", summary["status"]
    with duckdb.connect(str(db), read_only=True) as con:
        n, archived = con.execute(
            "SELECT count(*), count(*) FILTER (source = 'archive') FROM klines"
        ).fetchone()
    assert n == archived, f"{n - archived} candles did not come from the archive"
    return seconds, n


def ceiling_sql(files: list[str]) -> tuple[str, str]:
    ddl = ", ".join(f"{name} {sql}" for name, sql in KLINES_COLUMNS)
    create = f"CREATE TABLE k ({ddl}, PRIMARY KEY (market, symbol, interval, open_time))"
    cols = {
        "open_time": "BIGINT", "open": "DECIMAL(18,8)", "high": "DECIMAL(18,8)",
        "low": "DECIMAL(18,8)", "close": "DECIMAL(18,8)", "volume": "DECIMAL(38,12)",
        "close_time": "BIGINT", "quote_volume": "DECIMAL(38,12)", "count": "BIGINT",
        "taker_buy_volume": "DECIMAL(38,12)", "taker_buy_quote_volume": "DECIMAL(38,12)",
        "ignore": "VARCHAR",
    }  # fmt: skip
    file_list = "[" + ", ".join(f"'{f}'" for f in files) + "]"
    insert = f"""INSERT INTO k SELECT 'usdm', split_part(parse_filename(filename), '-', 1), '1m',
        epoch_ms(open_time), open, high, low, close, volume, epoch_ms(close_time),
        quote_volume, count, taker_buy_volume, taker_buy_quote_volume, 'archive', now(), 'bench'
        FROM read_csv({file_list}, header = true, columns = {cols}, filename = true)"""
    return create, insert


def ceiling(csvs: list[str], db: Path) -> tuple[float, int]:
    """Seconds of DuckDB's own load of ``csvs`` into an empty copy of ``klines`` (table
    ``k`` of ``db``), the checkpoint on close included, and the rows loaded."""
    con = duckdb.connect(str(db))
    con.execute("SET TimeZone = 'UTC'")
    create, insert = ceiling_sql(csvs)
    con.execute(create)
    t0 = time.perf_counter()
    con.execute(insert)
    n = con.execute("SELECT count(*) FROM k").fetchone()[0]
    con.close()  # the checkpoint is part of writing the file
    return time.perf_counter() - t0, n


def fingerprint(db: Path, table: str = "klines", extra: Sequence[str] = ()) -> tuple[int, int]:
    """Row count and an order-free hash over ``VALUES`` (and ``extra``) columns of ``table``."""
    cols = ", ".join((*VALUES, *extra))
    with duckdb.connect(str(db), read_only=True) as con:
        n, digest = con.execute(f"SELECT count(*), sum(hash({cols})) FROM {table}").fetchone()
    return n, int(digest or 0)


# ------------------------------------------------------------------ the jobs


@dataclass
class JobResult:
    """A job's rounds: per round the one-day run, the whole flow run and the ceiling."""

    job: Job
    fixed: list[tuple[float, int]] = field(default_factory=list)
    flow: list[tuple[float, int]] = field(default_factory=list)
    ceiling: list[tuple[float, int]] = field(default_factory=list)
    dbs: list[Path] = field(default_factory=list)

    @property
    def fixed_s(self) -> float:
        """The fixed cost: the median of the one-day runs' seconds (one per round)."""
        return statistics.median(s for s, _ in self.fixed)

    def rate(self, k: int) -> float:
        """Candles/s of round ``k``'s flow run, the one-day run's candles and time taken off."""
        (seconds, n), day_n = self.flow[k], self.fixed[0][1]
        return (n - day_n) / (seconds - self.fixed_s)

    def share(self, k: int) -> float:
        seconds, n = self.ceiling[k]
        return self.rate(k) / (n / seconds)

    @property
    def median(self) -> int:
        """The round with the median share."""
        rounds = range(len(self.flow))
        return sorted(rounds, key=self.share)[len(self.flow) // 2]

    def rows(self) -> list[list]:
        k = self.median
        (seconds, n), (ceil_s, _), day_s = self.flow[k], self.ceiling[k], self.fixed_s
        shares = ", ".join(f"{self.share(r):.0%}" for r in range(len(self.flow)))
        fixed = ", ".join(f"{s:.1f}" for s, _ in self.fixed)
        ceilings = ", ".join(f"{s:.2f}" for s, _ in self.ceiling)
        symbols = len(self.job.symbols)
        return [
            [self.job.label, n, seconds - day_s, self.rate(k), f"{self.share(k):.0%}",
             self.job.target, f"median of {len(self.flow)}: {shares}; flow {seconds:.1f} s "
             f"− fixed {day_s:.1f} s"],
            [f"  fixed cost: the same flow over 1 day ({symbols} symbols × 1 day)",
             self.fixed[0][1], day_s, "", "", "", f"median; seconds: {fixed}"],
            ["  DuckDB ceiling: read_csv → klines copy, one statement", n, ceil_s, n / ceil_s,
             "100%", "", f"seconds: {ceilings}"],
        ]  # fmt: skip


def run_job(job: Job, url: str, tmp: Path, rounds: int) -> JobResult:
    files = job.files()
    csv_dir = tmp / f"{job.name}-csv"
    csv_dir.mkdir()
    csvs = prefetch(url, files, csv_dir)
    planned = {f.path for f in files}
    prefetch(url, [f for f in job.one_day().files() if f.path not in planned])
    # Untimed warm-ups (first-call costs: Prefect's API, imports, the CSV reader).
    flow_run(job.one_day(), url, tmp / f"{job.name}-warm-up.duckdb")
    ceiling(csvs, tmp / f"{job.name}-warm-up-ceiling.duckdb")
    result = JobResult(job)
    for k in range(rounds):  # alternating, so a slower moment of a shared machine hits both
        db, ceiling_db = tmp / f"{job.name}-{k}.duckdb", tmp / f"{job.name}-ceiling-{k}.duckdb"
        result.fixed.append(flow_run(job.one_day(), url, tmp / f"{job.name}-day-{k}.duckdb"))
        before = zips_served(url)
        result.flow.append(flow_run(job, url, db))
        asked = set(zips_served(url) - before)
        assert asked == planned, (
            f"zips: {len(asked - planned)} unplanned, {len(planned - asked)} not asked"
        )
        result.ceiling.append(ceiling(csvs, ceiling_db))
        ours, theirs = fingerprint(db), fingerprint(ceiling_db, "k")
        assert ours == theirs, f"the flow's klines differ from DuckDB's: {ours} != {theirs}"
        ceiling_db.unlink()
        result.dbs.append(db)
    return result


def sizes(db: Path, label: str, out: Path) -> list[list]:
    """The file's size after ``CHECKPOINT`` and its ``klines export`` Parquet's, per
    million candles."""
    with duckdb.connect(str(db)) as con:
        con.execute("CHECKPOINT")
        (n,) = con.execute("SELECT count(*) FROM klines").fetchone()
        block, free = con.execute(
            "SELECT block_size, free_blocks FROM pragma_database_size() "
            "WHERE database_name = current_database()"
        ).fetchone()
    db_bytes = sum(p.stat().st_size for p in (db, db.with_name(db.name + ".wal")) if p.exists())
    t0 = time.perf_counter()
    exported = export_parquet(db, out)
    seconds = time.perf_counter() - t0
    parquet = sum(p.stat().st_size for p in out.rglob("*.parquet"))
    return [
        [f"DuckDB file after CHECKPOINT ({label})", n, db_bytes / MIB,
         db_bytes / MIB / (n / 1e6), "the whole file: klines, run log, gap ledger; "
         f"free blocks in it: {block * free / MIB:,.0f} MiB"],
        [f"klines export, Parquet ({label})", exported.rows, parquet / MIB,
         parquet / MIB / (exported.rows / 1e6),
         f"{len(exported.written)} partitions (series × month), zstd; {seconds:.1f} s"],
    ]  # fmt: skip


@dataclass
class Report:
    """What a run printed: the jobs beside their ceilings, the sizes, the slow mode."""

    jobs: list[JobResult] = field(default_factory=list)
    sizes: list[list] = field(default_factory=list)
    slow: list[list] = field(default_factory=list)

    def print(self) -> None:
        if self.jobs:
            rows = [row for result in self.jobs for row in result.rows()]
            print_table("(c) archive backfill through the ingest flow", HEADERS, rows)
        if self.slow:
            print_table("(c) slow mode: a long backfill, killed and rerun", SLOW_HEADERS, self.slow)
        if self.sizes:
            print_table("(c) disk per million candles", SIZE_HEADERS, self.sizes)


def simulator() -> AbstractContextManager[str]:
    """The simulator of this benchmark (see the module doc); yields its URL."""
    return simulator_process(
        "--universe", "full", "--freeze", SIM_NOW, "--archive-cache-files", "4096",
        latency_ms=LATENCY_MS, jitter_ms=JITTER_MS,
    )  # fmt: skip


def run(
    jobs: Sequence[str] = ("daily",),
    symbols: int = 8,
    days: int = 90,
    months: int = 4,
    rounds: int = 3,
) -> Report:
    """The daily and/or monthly jobs (``symbols`` and ``days`` size the daily one)."""
    chosen = {"daily": lambda: daily_job(symbols, days), "monthly": lambda: monthly_job(months)}
    report = Report()
    with tempfile.TemporaryDirectory() as name, simulator() as url:
        tmp = Path(name)
        for job in jobs:
            result = run_job(chosen[job](), url, tmp, rounds)
            report.jobs.append(result)
            if job == "daily":
                db = result.dbs[result.median]
                report.sizes += sizes(db, result.job.label.split(" (")[0], tmp / "export")
    return report


# ------------------------------------------------------------------ the slow mode


@dataclass
class Child:
    """One ``klines ingest`` child process: wall seconds, peak RSS, zips it was served."""

    seconds: float
    peak_mib: float
    zips: Counter[str]
    killed: bool


def klines_ingest(
    job: Job, url: str, db: Path, log: Path, kill_at_zips: int | None = None
) -> Child:
    """Run ``klines ingest --source archive`` for ``job`` as a child process, polling its
    peak RSS; SIGKILL it once the simulator has served it ``kill_at_zips`` zips, if given."""
    cmd = [sys.executable, "-m", "cli", "ingest", "--symbols", ",".join(job.symbols),
           "--intervals", "1m", "--start", _iso(job.start_ms), "--end", _iso(job.end_ms),
           "--source", "archive", "--db", str(db), "--rest-url", url,
           "--market", "usdm", "--network", "mainnet"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLINES_")}
    env["KLINES_ARCHIVE_URL"] = url
    before, peak, killed, polls = zips_served(url), 0, False, 0
    with log.open("w") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        while proc.poll() is None:
            peak = max(peak, _peak_rss_kib(proc.pid))
            polls += 1
            if (
                kill_at_zips is not None
                and polls % 5 == 0  # the simulator's stats every 0.5 s: they cost it CPU
                and (zips_served(url) - before).total() >= kill_at_zips
            ):
                proc.kill()  # SIGKILL: no handler runs (its temporary Prefect API dies with it)
                killed = True
                proc.wait()
                break
            time.sleep(0.1)
        seconds = time.perf_counter() - t0
    if not killed and proc.returncode != 0:
        raise RuntimeError(f"klines ingest exited {proc.returncode}:\n{log.read_text()[-3000:]}")
    return Child(seconds, peak / 1024, zips_served(url) - before, killed)


def _peak_rss_kib(pid: int) -> int:
    """The process's peak resident set so far (``VmHWM``), 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def state(db: Path) -> tuple[tuple[int, int], list[tuple]]:
    """What a converged warehouse must share: every candle (values and source) and the gap
    ledger (without the times and run that wrote its rows)."""
    with duckdb.connect(str(db), read_only=True) as con:
        gaps = con.execute(
            "SELECT market, kind, symbol, interval, gap_start, gap_end, missing, cause, detail "
            "FROM klines_gaps ORDER BY ALL"
        ).fetchall()
    return fingerprint(db, extra=("source",)), gaps


def stored_per_file(db: Path, files: Sequence[ArchiveFile]) -> dict[str, int]:
    """Candles stored in ``db`` in each file's range."""
    with duckdb.connect(str(db), read_only=True) as con:
        days = con.execute(
            "SELECT symbol, epoch_ms(open_time) // 86400000, count(*) FROM klines GROUP BY ALL"
        ).fetchall()
    per_day = {(symbol, day): n for symbol, day, n in days}
    return {
        f.path: sum(
            per_day.get((f.symbol, d), 0) for d in range(f.start_ms // DAY_MS, f.end_ms // DAY_MS)
        )
        for f in files
    }


@dataclass
class Restart:
    """A run killed in the middle, then rerun to the end: what was stored at the kill and
    whether the rerun fetched again what was already there."""

    killed: Child
    rerun: Child
    stored: int  # candles in the file at the kill
    whole: set[str]  # files whose candles were all stored at the kill
    same: bool  # the file ends equal to the clean run's


def kill_and_rerun(job: Job, url: str, tmp: Path, clean: Child, clean_db: Path) -> Restart:
    """The clean run's command into a new file, SIGKILLed once served half the clean run's
    zips, then the same command again, to the end."""
    db, files = tmp / "killed.duckdb", job.files()
    killed = klines_ingest(job, url, db, tmp / "killed.log", kill_at_zips=clean.zips.total() // 2)
    if not killed.killed:
        raise RuntimeError("the run ended before it was killed")
    at_kill, complete = stored_per_file(db, files), stored_per_file(clean_db, files)
    whole = {p for p, n in at_kill.items() if n == complete[p] > 0}
    rerun = klines_ingest(job, url, db, tmp / "rerun.log")
    return Restart(killed, rerun, sum(at_kill.values()), whole, state(db) == state(clean_db))


def slow_rows(job: Job, clean: Child, n: int, restart: Restart, generated_s: float) -> list[list]:
    killed, rerun, whole = restart.killed, restart.rerun, restart.whole
    again = len(whole & set(rerun.zips))
    verdict = "ok" if again == 0 and rerun.zips.total() < clean.zips.total() else "MISSED"
    return [
        [f"klines ingest --source archive, {job.label.split(': ', 1)[1]}", n, clean.seconds,
         n / clean.seconds, clean.peak_mib, RSS_LIMIT_MIB, clean.zips.total(),
         f"RSS {clean.peak_mib / RSS_LIMIT_MIB:.0%} of the limit; the simulator generated "
         f"every zip beforehand ({generated_s:.0f} s)"],
        ["  the same into a new file, SIGKILLed once served half the zips", restart.stored,
         killed.seconds, "", killed.peak_mib, RSS_LIMIT_MIB, killed.zips.total(),
         f"candles stored at the kill: {restart.stored / n:.0%}; files whole: {len(whole)} "
         f"of {len(job.files())}"],
        ["  the same command again, to the end (candles added)", n - restart.stored,
         rerun.seconds, "", rerun.peak_mib, RSS_LIMIT_MIB, rerun.zips.total(),
         f"whole files downloaded again: {again} (target 0, and fewer zips than the clean "
         f"run): {verdict}; the same warehouse as the clean run (rows, value hash, gap "
         f"ledger): {'yes' if restart.same else 'NO'}"],
    ]  # fmt: skip


def run_slow(symbols: int = 50, days: int = 365) -> Report:
    """A long backfill as a user runs it, its memory, and a kill in the middle."""
    job = daily_job(symbols, days, name="slow")
    with tempfile.TemporaryDirectory() as name, simulator() as url:
        tmp = Path(name)
        t0 = time.perf_counter()
        prefetch(url, job.files())
        generated_s = time.perf_counter() - t0
        clean_db = tmp / "clean.duckdb"
        clean = klines_ingest(job, url, clean_db, tmp / "clean.log")
        n = fingerprint(clean_db)[0]
        restart = kill_and_rerun(job, url, tmp, clean, clean_db)
        label = f"slow: {symbols} symbols × {days} days"
        return Report(
            slow=slow_rows(job, clean, n, restart, generated_s),
            sizes=sizes(clean_db, label, tmp / "export"),
        )


def _iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat()


def _day(epoch_ms: int) -> str:
    return f"{datetime.fromtimestamp(epoch_ms / 1000, UTC):%Y-%m-%d}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--job", choices=("daily", "monthly", "all"), default="daily")
    p.add_argument("--symbols", type=int, default=None, help="daily: 8; --slow: 50")
    p.add_argument("--days", type=int, default=None, help="daily: 90; --slow: 365")
    p.add_argument("--months", type=int, default=4, help="the monthly job's months")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--slow", action="store_true", help="the long backfill, killed and rerun")
    args = p.parse_args()
    if args.slow:
        report = run_slow(args.symbols or 50, args.days or 365)
    else:
        jobs = ("daily", "monthly") if args.job == "all" else (args.job,)
        report = run(jobs, args.symbols or 8, args.days or 90, args.months, args.rounds)
    report.print()


if __name__ == "__main__":
    main()
