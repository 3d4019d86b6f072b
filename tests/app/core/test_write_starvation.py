"""A long write never turns other requests into 500s (issue 13, item 6).

Each test holds the lock a long write would hold, from a connection of its own, against an app
with real sessions on a database of its own: requests that need the lock are answered 503 with
Retry-After once `lock_wait_seconds` have passed; requests that only read, parse or trace never
wait for it; /readyz reports the starvation. The holder lets go after a while whatever happens,
so that code waiting without bound fails the test instead of hanging it.
"""

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from app.db import make_engine
from app.health import AUDIT_APPEND_LOCK
from app.source.models import SourceDocument
from tests.factories import DE, FR, batch, tx
from tests.isolated import lock_waiting_app

# Beyond the 30 s SQLite waited before: code that waits for the lock fails here, not hangs.
RELEASE_AFTER_SECONDS = 40.0
HEADER = "external_id,from_account,to_account,amount,currency,value_time"


def _app(database: str, tmp_path: Path, *, audit_in_memory: bool) -> Any:
    return lock_waiting_app(
        database,
        tmp_path,
        lock_wait_seconds=0.3,
        ready_lock_probe_seconds=0.3,
        audit_in_memory=audit_in_memory,
    )


@contextmanager
def long_write(database: str) -> Iterator[None]:
    """Holds what a long bulk write holds: SQLite's write lock; on PostgreSQL the lock every
    audit append queues on and the tables an upload writes."""
    url = make_url(database)
    if url.get_backend_name() == "sqlite":
        conn: Any = sqlite3.connect(
            url.database or "", isolation_level=None, check_same_thread=False
        )
        conn.execute("BEGIN IMMEDIATE")
    else:
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        conn = psycopg.connect(dsn)
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (AUDIT_APPEND_LOCK,))
        conn.execute("LOCK TABLE source_documents, transactions IN EXCLUSIVE MODE")
    releaser = threading.Timer(RELEASE_AFTER_SECONDS, conn.rollback)
    releaser.start()
    try:
        yield
    finally:
        releaser.cancel()
        conn.rollback()
        conn.close()


def assert_busy(r) -> None:
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "database_busy"
    assert int(r.headers["retry-after"]) >= 1


def test_requests_behind_a_long_write_get_503_with_retry_after(
    isolated_database, isolated_key, tmp_path
) -> None:
    app = _app(isolated_database, tmp_path, audit_in_memory=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        with long_write(isolated_database):
            # A read needs the lock for its audit entry; a write for itself.
            assert_busy(client.get("/api/v1/cases", headers=isolated_key))
            assert_busy(
                client.post(
                    "/api/v1/transactions/batch",
                    json=batch(tx("B-1", DE, FR, "1.00")),
                    headers=isolated_key,
                )
            )
        assert client.get("/api/v1/cases", headers=isolated_key).status_code == 200
        r = client.post(
            "/api/v1/transactions/batch",
            json=batch(tx("B-1", DE, FR, "1.00")),
            headers=isolated_key,
        )
        assert r.status_code == 201, r.text


def test_a_file_is_checked_without_the_write_lock(
    isolated_database, isolated_key, tmp_path
) -> None:
    app = _app(isolated_database, tmp_path, audit_in_memory=True)
    with TestClient(app, raise_server_exceptions=False) as client, long_write(isolated_database):
        r = client.post(
            "/api/v1/transactions/upload",
            headers=isolated_key,
            files={"file": ("t.csv", b"external_id,amount\nT-1,1.00\n")},
            data={"kind": "bank_statement", "reference": "STARVE-1"},
        )
        # Refused by what the file says, while the other write still holds the lock.
        assert (r.status_code, r.json()["code"]) == (422, "missing_columns"), r.text


def test_the_engine_runs_without_the_write_lock(isolated_database, isolated_key, tmp_path) -> None:
    app = _app(isolated_database, tmp_path, audit_in_memory=True)
    with TestClient(app, raise_server_exceptions=False) as client, long_write(isolated_database):
        r = client.post(
            "/api/v1/traces", headers=isolated_key, json={"seeds": [{"transaction": "NOPE"}]}
        )
        assert (r.status_code, r.json()["code"]) == (404, "unknown_seed"), r.text


def test_a_write_that_cannot_get_the_lock_stores_nothing(
    isolated_database, isolated_key, tmp_path
) -> None:
    app = _app(isolated_database, tmp_path, audit_in_memory=True)
    csv = f"{HEADER}\nU-1,{DE},{FR},1.00,EUR,2026-01-05T10:00:00Z\n".encode()
    with TestClient(app, raise_server_exceptions=False) as client, long_write(isolated_database):
        r = client.post(
            "/api/v1/transactions/upload",
            headers=isolated_key,
            files={"file": ("t.csv", csv)},
            data={"kind": "bank_statement", "reference": "STARVE-2"},
        )
        assert_busy(r)
    engine = make_engine(isolated_database)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(SourceDocument)).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM transactions")).scalar_one() == 0
    engine.dispose()


def test_readyz_reports_write_starvation(isolated_database, tmp_path) -> None:
    app = _app(isolated_database, tmp_path, audit_in_memory=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/readyz").status_code == 200
        with long_write(isolated_database):
            r = client.get("/readyz")
            assert r.status_code == 503, r.text
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["code"] == "write_starved"
        assert client.get("/readyz").status_code == 200
