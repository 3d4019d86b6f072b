"""Ingest throughput: the HTTP upload endpoint against the database's own bulk path.

Each run loads the same deterministic synthetic ledger (``benchmarks.synthetic``) into a fresh,
migrated database, either

* through the API: ``moneytrail serve`` in a subprocess on a free loopback port and one
  ``POST /api/v1/transactions/upload`` streaming the CSV or Parquet file with httpx; the clock
  covers the whole request (upload, parsing, validation, account creation, load, commit). It
  starts once the service has finished its start-up warm-up (compiling the tracing engine's
  kernels in a background thread, several CPU seconds on the same two cores), or
* raw: the rows already mapped onto the ``transactions`` table (account ids resolved, minor
  units, UTC text times) go in with PostgreSQL ``COPY ... FROM STDIN (FORMAT csv)`` streamed
  from a CSV file, or with one SQLite ``executemany`` of prepared tuples in one transaction;
  the clock covers only that statement and the commit. The accounts, the API key and the
  source document the foreign keys need are created before the clock starts.

Both paths write into the same schema (same indexes, constraints and reference checks: foreign
keys on SQLite, the statement-level triggers on PostgreSQL; built by the migrations), through
connections with the application's own settings. Runs are interleaved
and each figure is the median of ``--repeat`` runs. Beside wall time the table shows the CPU
seconds of the processes doing the work (the service or the client, and the PostgreSQL
backends), which tell the two paths apart even when other work shares the machine.

Usage (from the repository root; PostgreSQL at 127.0.0.1:5432, user postgres, trust auth)::

    .venv/bin/python -m benchmarks.ingest                 # one run each, a few minutes
    .venv/bin/python -m benchmarks.ingest --repeat 3      # medians of three
    .venv/bin/python -m benchmarks.ingest --rows 100000 --db sqlite --formats csv
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import polars as pl
import psycopg
from sqlalchemy import text

from app import migrate
from app.account.keys import account_attributes
from app.apikey import service as apikey_service
from app.db import make_engine, make_sessionmaker
from app.principal import Role
from app.transaction.bulk import SQLITE_BULK_PRAGMAS
from benchmarks import service
from benchmarks.synthetic import generate_ledger, with_valid_ibans

PG_TARGET_TX_PER_S = 50_000
TARGET_RATIO = 0.5
MEDIA_TYPES = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}
TX_COLUMNS = (
    "external_id",
    "engine_id",  # the shared pool's: the external id (app.transaction.models.engine_id_of)
    "from_account_id",
    "to_account_id",
    "amount_minor",
    "currency",
    "value_time",
    "sequence",
    "source_document_id",
    "source_row",
)
ACCOUNT_COLUMNS = ("key", "kind", "iban", "number", "chain", "address", "name")
_CHUNK = 1024 * 1024
# Logged by the service when its start-up warm-up ends (app/trace/lifecycle.py).
WARM_EVENTS = ("ledger_warm", "ledger_not_warmed")
WARM_WITHIN_S = 300
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Run:
    seconds: float
    # CPU seconds of the processes doing the work (service or client, and PostgreSQL backends):
    # unlike wall time, it hardly moves when other work shares the machine.
    cpu: float | None


@dataclass
class Figures:
    api: dict[str, list[Run]]
    raw: list[Run]


# --- databases ----------------------------------------------------------------------------


def _cpu_seconds(pids: list[int]) -> dict[int, float] | None:
    """User + system CPU seconds of each local process (None where /proc cannot tell)."""
    seen = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        seen[pid] = (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    return seen


def _cpu_used(before: dict[int, float] | None, after: dict[int, float] | None) -> float | None:
    if before is None or after is None:
        return None
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())


def _pg_backends(url: str) -> list[int]:
    """Server processes connected to the database of `url` (none for SQLite)."""
    if not url.startswith("postgresql"):
        return []
    with psycopg.connect(service.PG_ADMIN_DSN) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (url.rsplit("/", 1)[1],)
        ).fetchall()
    return [int(r[0]) for r in rows]


# --- the API path -------------------------------------------------------------------------


@contextlib.contextmanager
def running_service(url: str, log_path: Path) -> Iterator[tuple[str, str, int]]:
    """`moneytrail serve` on a free port (benchmarks/service.py), warm, stopped after."""
    warmed_before = _warm_events(log_path)
    with service.running_service(url, log_path, role="ingest", ready_within=60) as svc:
        _wait_until_warm(log_path, warmed_before)
        yield svc.base, svc.key, svc.pid


def _warm_events(log_path: Path) -> int:
    if not log_path.exists():
        return 0
    text = log_path.read_text(errors="replace")
    return sum(text.count(event) for event in WARM_EVENTS)


def _wait_until_warm(log_path: Path, seen: int) -> None:
    """Wait for the start-up work the service does in the background.

    At start the service compiles the tracing engine's kernels (or loads them from numba's
    cache) and loads the ledger (app/trace/lifecycle.py): several CPU seconds on a fresh
    checkout, once per process, on the same two cores. That is not part of an upload, so the
    clock starts after it.
    """
    deadline = time.monotonic() + WARM_WITHIN_S
    while _warm_events(log_path) <= seen:
        if time.monotonic() > deadline:
            print(f"warning: no warm-up event within {WARM_WITHIN_S} s", file=sys.stderr)
            return
        time.sleep(0.2)


def api_run(url: str, path: Path, fmt: str, rows: int, log_path: Path) -> Run:
    """One upload of `path` through the HTTP endpoint into a fresh database."""
    with running_service(url, log_path) as (base, key, pid), httpx.Client(timeout=None) as client:
        with path.open("rb") as f:
            cpu_before = _cpu_seconds([pid, *_pg_backends(url)])
            started = time.perf_counter()
            response = client.post(
                f"{base}/api/v1/transactions/upload",
                headers={"Authorization": f"Bearer {key}"},
                data={"kind": "bank_statement", "reference": f"bench-{fmt}"},
                files={"file": (path.name, f, MEDIA_TYPES[fmt])},
            )
            elapsed = time.perf_counter() - started
            cpu = _cpu_used(cpu_before, _cpu_seconds([pid, *_pg_backends(url)]))
        if response.status_code != 201:
            raise RuntimeError(f"upload answered {response.status_code}: {response.text[:2000]}")
        body = response.json()
        if body["inserted"] != rows:
            raise RuntimeError(f"upload stored {body['inserted']} of {rows} rows: {body}")
    _check_stored(url, rows)
    return Run(elapsed, cpu)


def _check_stored(url: str, rows: int) -> None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT count(*) FROM transactions")).scalar_one()
    finally:
        engine.dispose()
    if stored != rows:
        raise RuntimeError(f"{stored} transactions stored, expected {rows}")


# --- the raw path -------------------------------------------------------------------------


def _prepare_raw(url: str, ledger: pl.DataFrame) -> pl.DataFrame:
    """Migrate, add the key, source document and accounts; the ledger as `transactions` rows."""
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            key, _ = apikey_service.create_key(
                session, name="bench", role=Role.INGEST, created_by=None
            )
            doc = uuid.uuid4().hex
            now = datetime.now(UTC)
            session.execute(
                text(
                    "INSERT INTO source_documents (id, kind, reference, received_at, uploaded_by,"
                    " sha256, filename, media_type, size_bytes, row_count, inserted,"
                    " already_present) VALUES (:id, 'bank_statement', 'bench-raw', :now, :key,"
                    " :sha, NULL, 'text/csv', 0, :n, :n, 0)"
                ),
                {
                    "id": doc,
                    "now": now.isoformat(),
                    "key": key.id,
                    "sha": "0" * 64,
                    "n": ledger.height,
                },
            )
            keys = pl.concat([ledger["from_account"], ledger["to_account"]]).unique().sort()
            accounts = account_attributes(keys).select(ACCOUNT_COLUMNS)
            session.execute(
                text(
                    "INSERT INTO accounts (key, kind, iban, number, chain, address, name,"
                    " source_document_id, created_at) VALUES (:key, :kind, :iban, :number,"
                    " :chain, :address, :name, :doc, :now)"
                ),
                [{**a, "doc": doc, "now": now.isoformat()} for a in accounts.iter_rows(named=True)],
            )
            ids = pl.DataFrame(
                session.execute(text("SELECT key, id FROM accounts")).all(),
                schema={"key": pl.String, "id": pl.Int64},
                orient="row",
            )
            session.commit()
    finally:
        engine.dispose()
    time_format = "%Y-%m-%d %H:%M:%S%.6f" + ("+00" if url.startswith("postgresql") else "")
    return (
        ledger.with_row_index("source_row", offset=1)
        .join(ids.rename({"id": "from_account_id"}), left_on="from_account", right_on="key")
        .join(ids.rename({"id": "to_account_id"}), left_on="to_account", right_on="key")
        .sort("source_row")
        .with_columns(
            (pl.col("amount") * 100).cast(pl.Int64).alias("amount_minor"),
            pl.col("value_time").dt.strftime(time_format),
            pl.lit(doc).alias("source_document_id"),
            pl.col("source_row").cast(pl.Int64),
            pl.col("external_id").alias("engine_id"),
        )
        .select(TX_COLUMNS)
    )


def raw_run(url: str, ledger: pl.DataFrame, folder: Path) -> Run:
    """The database's own bulk load of the same rows into a fresh database."""
    rows = _prepare_raw(url, ledger)
    columns = ", ".join(TX_COLUMNS)
    if url.startswith("postgresql"):
        path = folder / "raw-transactions.csv"
        rows.write_csv(path, include_header=False)
        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn) as conn, path.open("rb") as f:
            backend = conn.info.backend_pid
            cpu_before, client_before = _cpu_seconds([backend]), time.process_time()
            started = time.perf_counter()
            with (
                conn.cursor() as cur,
                cur.copy(f"COPY transactions ({columns}) FROM STDIN (FORMAT csv)") as copy,
            ):
                while chunk := f.read(_CHUNK):
                    copy.write(chunk)
            conn.commit()
            elapsed = time.perf_counter() - started
            cpu = _cpu_used(cpu_before, _cpu_seconds([backend]))
            if cpu is not None:
                cpu += time.process_time() - client_before
        path.unlink()
    else:
        tuples = rows.rows()
        engine = make_engine(url)  # the application's connection pragmas
        try:
            raw = engine.raw_connection()
            lite = raw.cursor()
            for pragma in SQLITE_BULK_PRAGMAS:
                lite.execute(pragma)
            marks = ", ".join("?" * len(TX_COLUMNS))
            cpu_started, started = time.process_time(), time.perf_counter()
            lite.execute("BEGIN")
            lite.executemany(f"INSERT INTO transactions ({columns}) VALUES ({marks})", tuples)
            lite.execute("COMMIT")
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            lite.close()
            raw.close()
        finally:
            engine.dispose()
    _check_stored(url, ledger.height)
    return Run(elapsed, cpu)


# --- report -------------------------------------------------------------------------------


def _median(runs: list[Run]) -> tuple[float, float | None]:
    cpu = [r.cpu for r in runs if r.cpu is not None]
    return (
        statistics.median(r.seconds for r in runs),
        statistics.median(cpu) if len(cpu) == len(runs) else None,
    )


def _cpu_text(cpu: float | None) -> str:
    return "n/a" if cpu is None else f"{cpu:.1f}"


def report(rows: int, figures: dict[str, Figures], formats: list[str]) -> str:
    """The results table: medians, API against raw, and whether each target is met."""
    header = (
        f"{'database':<11} {'format':<8} {'rows':>9} {'seconds':>8} {'tx/s':>8} {'cpu s':>6} "
        f"{'raw s':>7} {'raw tx/s':>8} {'raw cpu':>7} {'ratio':>6}  targets"
    )
    lines = [header, "-" * len(header)]
    for db, fig in figures.items():
        raw_seconds, raw_cpu = _median(fig.raw)
        for fmt in formats:
            seconds, cpu = _median(fig.api[fmt])
            ratio = raw_seconds / seconds
            verdicts = [f"half of raw: {'met' if ratio >= TARGET_RATIO else 'MISSED'}"]
            if db == "postgresql":
                met = rows / seconds >= PG_TARGET_TX_PER_S
                verdicts.append(f"{PG_TARGET_TX_PER_S:,} tx/s: {'met' if met else 'MISSED'}")
            lines.append(
                f"{db:<11} {fmt:<8} {rows:>9,} {seconds:>8.2f} {rows / seconds:>8,.0f} "
                f"{_cpu_text(cpu):>6} {raw_seconds:>7.2f} {rows / raw_seconds:>8,.0f} "
                f"{_cpu_text(raw_cpu):>7} {ratio:>6.2f}  {'; '.join(verdicts)}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", type=service.csv_list, default=["sqlite", "postgresql"])
    parser.add_argument("--formats", type=service.csv_list, default=["csv", "parquet"])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    if unknown := set(args.db) - {"sqlite", "postgresql"}:
        parser.error(f"unknown database(s): {sorted(unknown)}")
    if unknown := set(args.formats) - set(MEDIA_TYPES):
        parser.error(f"unknown format(s): {sorted(unknown)}")

    started_load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="moneytrail-bench-") as tmp:
        folder = Path(tmp)
        ledger = with_valid_ibans(generate_ledger(args.rows, seed=args.seed))
        files = {"csv": folder / "ledger.csv", "parquet": folder / "ledger.parquet"}
        ledger.write_csv(files["csv"])
        ledger.write_parquet(files["parquet"])
        sizes = ", ".join(f"{f} {files[f].stat().st_size / 1e6:.0f} MB" for f in args.formats)
        print(
            f"ledger: {args.rows:,} transactions ({sizes}); {service.environment()}",
            file=sys.stderr,
        )
        log_path = folder / "service.log"
        figures = {db: Figures({f: [] for f in args.formats}, []) for db in args.db}
        for run in range(1, args.repeat + 1):
            for db in args.db:
                with service.fresh_database(db, folder) as url:
                    result = raw_run(url, ledger, folder)
                figures[db].raw.append(result)
                _progress(run, db, "raw", args.rows, result)
                for fmt in args.formats:
                    with service.fresh_database(db, folder) as url:
                        result = api_run(url, files[fmt], fmt, args.rows, log_path)
                    figures[db].api[fmt].append(result)
                    _progress(run, db, f"api {fmt}", args.rows, result)
        print(
            f"\nmedian of {args.repeat} run(s); ratio = API tx/s / raw tx/s on the same rows; "
            "cpu s = CPU seconds of the service (or client) and the PostgreSQL backends; "
            f"load average {started_load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end\n"
        )
        print(report(args.rows, figures, args.formats))


def _progress(run: int, db: str, path: str, rows: int, result: Run) -> None:
    print(
        f"run {run} {db:<10} {path:<11} {result.seconds:7.2f} s {rows / result.seconds:>9,.0f} tx/s"
        f"  cpu {_cpu_text(result.cpu)} s",
        file=sys.stderr,
        flush=True,
    )


if __name__ == "__main__":
    main()
