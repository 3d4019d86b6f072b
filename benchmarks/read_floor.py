"""The least an audited read can cost on this stack, beside moneytrail's read (issue 23).

Issue 23 asks an authenticated, audited read to come within 1 ms of `GET /healthz` with one
client and to reach half of its throughput with eight. This benchmark asks what any service
built as the issue requires (FastAPI under uvicorn, a bearer key, the row read from the
database, an audit entry durable before the answer) can reach here, by serving a skeleton that
does only that:

- the key compared with one kept in memory (no look-up, no roles, no cases);
- one primary-key SELECT of a 1,000-row table, on the event loop (no thread hand-off, no ORM);
- the audit entry handed to one writer thread that chains (SHA-256) and commits what has queued
  (group commit, as moneytrail's), the answer sent once its batch committed;
- a JSON object of six fields, no pydantic model, no middleware.

It starts moneytrail (`benchmarks.office`: demo case, one stored trace) and the skeleton, each
on a fresh database of the same kind, and measures them in interleaved rounds with the same
httpx client: moneytrail's floor (`GET /healthz`), moneytrail's audited reads
(`GET /accounts/{key}`, `GET /traces/{id}`) and the skeleton's read, with 1 and with 8 clients.
Every ratio is to moneytrail's floor of the same client count, as the issue's targets are.

    .venv/bin/python -m benchmarks.read_floor --db sqlite --db postgresql --rounds 3 --seconds 5
"""

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import queue
import random
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from fastapi import FastAPI, HTTPException, Request

from benchmarks import service
from benchmarks.load import pct
from benchmarks.office import READS, Office, Run, drive, prepare

ACCOUNTS = [f"acct:{i:06d}" for i in range(1000)]
_SCHEMA = (
    "CREATE TABLE accounts (key TEXT PRIMARY KEY, kind TEXT, name TEXT, n INTEGER,"
    " received NUMERIC, paid NUMERIC)",
    "CREATE TABLE audit (id {serial} PRIMARY KEY, at TEXT, actor TEXT, method TEXT, path TEXT,"
    " status INTEGER, hash TEXT)",
)


def _connect(database: str) -> Any:
    if database.startswith("postgresql://"):
        return psycopg.connect(database)
    conn = sqlite3.connect(database, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def _placeholder(database: str) -> str:
    return "%s" if database.startswith("postgresql://") else "?"


class AuditWriter:
    """One thread: takes every entry queued, chains and commits them, then wakes their callers."""

    def __init__(self, database: str) -> None:
        self._database = database
        self._queue: queue.SimpleQueue[tuple[dict[str, Any], asyncio.Future[None]]] = (
            queue.SimpleQueue()
        )
        self._last = "0" * 64
        threading.Thread(target=self._run, daemon=True, name="audit").start()

    def write(self, entry: dict[str, Any]) -> "asyncio.Future[None]":
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put((entry, done))
        return done

    def _run(self) -> None:
        conn = _connect(self._database)
        p = _placeholder(self._database)
        insert = f"INSERT INTO audit (at, actor, method, path, status, hash) VALUES ({p}, {p}, {p}, {p}, {p}, {p})"  # noqa: E501
        while True:
            batch = [self._queue.get()]
            with contextlib.suppress(queue.Empty):
                while len(batch) < 256:
                    batch.append(self._queue.get_nowait())
            rows = []
            for entry, _ in batch:
                body = json.dumps(entry, sort_keys=True)
                self._last = hashlib.sha256(f"{self._last}{body}".encode()).hexdigest()
                rows.append((*entry.values(), self._last))
            if isinstance(conn, sqlite3.Connection):
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(insert, rows)
                conn.execute("COMMIT")
            else:
                with conn.cursor() as cur:
                    cur.executemany(insert, rows)
                conn.commit()
            for _, done in batch:
                done.get_loop().call_soon_threadsafe(_settle, done)


def _settle(done: "asyncio.Future[None]") -> None:
    if not done.done():
        done.set_result(None)


def create_skeleton() -> FastAPI:
    """The skeleton service (uvicorn factory); MT_SKELETON_DB and MT_SKELETON_KEY configure it."""
    database, secret = os.environ["MT_SKELETON_DB"], os.environ["MT_SKELETON_KEY"]
    expected = f"Bearer {secret}".encode()
    reader = _connect(database)
    select = f"SELECT key, kind, name, n, received, paid FROM accounts WHERE key = {_placeholder(database)}"  # noqa: E501
    app = FastAPI()
    writer = AuditWriter(database)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/accounts/{key}")
    async def account(key: str, request: Request) -> dict[str, Any]:
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            raise HTTPException(401)
        row = reader.execute(select, (key,)).fetchone()
        if not isinstance(reader, sqlite3.Connection):
            reader.commit()  # ends the read's transaction, as a session would
        status = 200 if row is not None else 404
        await writer.write(
            {
                "at": datetime.now(UTC).isoformat(),
                "actor": "bench",
                "method": "GET",
                "path": request.url.path,
                "status": status,
            }
        )
        if row is None:
            raise HTTPException(404)
        return dict(
            zip(
                ("key", "kind", "name", "transactions", "received", "paid"),
                map(str, row),
                strict=True,
            )
        )

    return app


def _prepare_database(database: str) -> None:
    conn = _connect(database)
    p = _placeholder(database)
    serial = "BIGSERIAL" if database.startswith("postgresql://") else "INTEGER"
    for statement in _SCHEMA:
        conn.execute(statement.format(serial=serial))
    rows = [(k, "iban", f"holder {k}", 12, "1000.00", "250.00") for k in ACCOUNTS]
    if isinstance(conn, sqlite3.Connection):
        conn.executemany(f"INSERT INTO accounts VALUES ({p}, {p}, {p}, {p}, {p}, {p})", rows)
    else:
        with conn.cursor() as cur:
            cur.executemany(f"INSERT INTO accounts VALUES ({p}, {p}, {p}, {p}, {p}, {p})", rows)
        conn.commit()
    conn.close()


@contextlib.contextmanager
def running_skeleton(kind: str, folder: Path) -> Iterator[tuple[str, str, int]]:
    """(base URL, key, pid) of a skeleton on a fresh database of `kind`."""
    with service.fresh_database(kind, folder) as url:
        database = url.replace("postgresql+psycopg://", "postgresql://").replace("sqlite:///", "")
        _prepare_database(database)
        key, port = secrets.token_urlsafe(24), service.free_port()
        env = {**os.environ, "MT_SKELETON_DB": database, "MT_SKELETON_KEY": key}
        with (folder / "skeleton.log").open("ab") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "benchmarks.read_floor:create_skeleton",
                 "--factory", "--host", "127.0.0.1", "--port", str(port), "--log-level",
                 "warning", "--no-access-log"],
                env=env,
                stdout=log,
                stderr=log,
            )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the skeleton did not start; see {folder}/skeleton.log")
                time.sleep(0.2)
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as c:
                for k in ACCOUNTS[:20]:
                    c.get(f"/accounts/{k}").raise_for_status()
            yield base, key, server.pid
        finally:
            service.stop(server, within=20)


class SkeletonOps(Office):
    def __init__(self) -> None:
        super().__init__("")

    async def call(self, client: httpx.AsyncClient, op: str) -> int:
        if op == "healthz":
            return (await client.get("/healthz")).status_code
        return (await client.get(f"/accounts/{random.choice(ACCOUNTS)}")).status_code


def bench(kind: str, rounds: int, seconds: float) -> int:
    folder = Path(tempfile.mkdtemp(prefix="mt-read-floor-"))
    env = {"MONEYTRAIL_LOG_LEVEL": "WARNING", "MONEYTRAIL_DATA_DIR": str(folder)}
    plan = [
        ("floor", "mt", [("healthz", 1)]),
        ("reads", "mt", READS),
        ("skeleton", "sk", [("skeleton_read", 1)]),
        ("skeleton floor", "sk", [("healthz", 1)]),
    ]
    runs: dict[tuple[str, int], Run] = {}
    with (
        service.fresh_database(kind, folder) as url,
        service.running_service(url, folder / "service.log", role="admin", env=env) as svc,
        running_skeleton(kind, folder) as (sk_base, sk_key, sk_pid),
    ):
        office = Office(prepare(svc.base, svc.key))
        targets = {
            "mt": (svc.base, svc.key, office, svc.pid),
            "sk": (sk_base, sk_key, SkeletonOps(), sk_pid),
        }
        for r in range(rounds):
            for clients in (1, 8):
                order = plan if r % 2 == 0 else plan[::-1]
                for name, target, mix in order:
                    base, key, ops, pid = targets[target]
                    run = Run(name, clients, seconds)
                    asyncio.run(drive(base, key, ops, run, mix, pid))
                    total = runs.setdefault((name, clients), Run(name, clients))
                    for op, values in run.samples.items():
                        total.samples[op].extend(values)
                    for op, n in run.errors.items():
                        total.errors[op] += n
                    total.seconds += run.seconds
                    total.load = run.load
    print(f"\n### {kind}: {rounds} rounds of {seconds:g} s per run, interleaved\n")
    print("| run | clients | requests | req/s | ratio to moneytrail's floor | p50 ms | "
          "p50 above floor | p99 ms | errors |")  # fmt: skip
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    errors = 0
    for clients in (1, 8):
        floor = runs[("floor", clients)]
        for name, _, _ in plan:
            run = runs[(name, clients)]
            values = run.everything
            above = pct(values, 0.5) - pct(floor.everything, 0.5)
            errors += sum(run.errors.values())
            print(
                f"| {name} | {clients} | {len(values)} | {run.rate:.1f} | "
                f"{run.rate / floor.rate:.2f} | {pct(values, 0.5):.2f} | {above:+.2f} | "
                f"{pct(values, 0.99):.2f} | {sum(run.errors.values())} |"
            )
    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return errors


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql"], action="append")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()
    random.seed(7)
    print(f"audited read vs its skeleton, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(service.environment())
    errors = sum(bench(db, args.rounds, args.seconds) for db in args.db or ["sqlite"])
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
