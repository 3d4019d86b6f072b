"""What indexing a stored trace's reached accounts costs (`trace_run_accounts`, written on
every stored trace: `TraceRepository.add_accounts`).

Two ways, interleaved sample by sample on the same database so that the machine's load falls
alike on each (median and fastest of ``--repeat`` samples, each a commit of its own):

* ``by key``: as revision f2f334ab30d4 stored them: a row per account with its key (text), a
  primary key and an index on the key, inserted as one executemany (in a table of that shape
  the benchmark makes beside the real one);
* ``by hash``: the code path now: the keys' 64-bit hashes in one statement (PostgreSQL:
  ``unnest`` of an array; SQLite: ``json_each``).

The database is a fresh one at the head revision: SQLite in a temporary folder, or with
``--postgres URL`` (a server URL whose database the benchmark creates and drops).

Usage::

    python -m benchmarks.trace_run_accounts [--accounts 100000] [--repeat 5] [--postgres URL]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from app import migrate
from app.apikey.models import ApiKey
from app.db import make_engine
from app.trace.models import TraceRun
from app.trace.repository import TraceRepository

_BESIDE = sa.MetaData()
sa.Table("trace_runs", _BESIDE, sa.Column("id", sa.String(32), primary_key=True))  # made already
LEGACY = sa.Table(
    "bench_trace_run_accounts_by_key",
    _BESIDE,
    sa.Column("trace_id", sa.String(32), sa.ForeignKey("trace_runs.id"), primary_key=True),
    sa.Column("account_key", sa.String(300), primary_key=True, index=True),
)


def _keys(n: int) -> list[str]:
    rnd = random.Random(7)
    return sorted({f"iban:DE{rnd.randrange(10**20):020d}" for _ in range(n)})


def _run(session: Session, key_id: str) -> str:
    run = TraceRun(
        id=uuid.uuid4().hex,
        created_by=key_id,
        created_at=datetime.now(UTC),
        status="done",
        request={},
    )
    session.add(run)
    session.flush()
    return run.id


def _by_key(session: Session, trace_id: str, keys: list[str]) -> None:
    rows = [{"trace_id": trace_id, "account_key": k} for k in sorted(set(keys))]
    session.execute(sa.insert(LEGACY), rows)


def _by_hash(session: Session, trace_id: str, keys: list[str]) -> None:
    TraceRepository(session).add_accounts(trace_id, keys)


def measure(url: str, accounts: int, repeat: int) -> dict[str, tuple[float, float]]:
    migrate.upgrade(url)
    engine = make_engine(url)
    LEGACY.metadata.create_all(engine, tables=[LEGACY])
    with Session(engine) as session:
        # the API key a run names (created_by); the benchmark's own, never used to call
        session.add(
            ApiKey(
                id="benchkey",
                name="benchmark",
                role="admin",
                key_hash="0" * 64,
                created_at=datetime.now(UTC),
            )
        )
        session.commit()
    keys = _keys(accounts)
    variants: dict[str, Callable[[Session, str, list[str]], None]] = {
        "by key": _by_key,
        "by hash": _by_hash,
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeat + 1):  # the first round warms up, not counted
        order = list(variants)
        random.shuffle(order)
        for name in order:
            with Session(engine) as session:
                trace_id = _run(session, "benchkey")
                session.commit()
                start = time.perf_counter()
                variants[name](session, trace_id, keys)
                session.commit()
                times[name].append(time.perf_counter() - start)
    engine.dispose()
    return {n: (statistics.median(t[1:]), min(t[1:])) for n, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres", help="a PostgreSQL server URL (a database is made on it)")
    args = parser.parse_args()
    load = "{:.1f} / {:.1f} / {:.1f}".format(*os.getloadavg())
    if args.postgres:
        import psycopg

        server = sa.make_url(args.postgres)
        name = f"bench_{uuid.uuid4().hex[:8]}"
        admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            url = server.set(database=name).render_as_string(hide_password=False)
            found = measure(url, args.accounts, args.repeat)
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        where = "PostgreSQL"
    else:
        with tempfile.TemporaryDirectory() as folder:
            found = measure(f"sqlite:///{Path(folder) / 'bench.db'}", args.accounts, args.repeat)
        where = "SQLite"
    print(f"{where}, {args.accounts} reached accounts, {args.repeat} samples, load {load}")
    for name, (median, fastest) in found.items():
        print(f"  {name:8}  median {median * 1000:8.1f} ms  fastest {fastest * 1000:8.1f} ms")
    print("load at the end {:.1f} / {:.1f} / {:.1f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
