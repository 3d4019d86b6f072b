"""Helpers for the tests that run on a database of their own (`isolated_database` in
tests/conftest.py) because they need real commits, locks, threads or processes."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from app.apikey import service as apikey_service
from app.main import create_app
from app.principal import Role
from app.settings import Settings
from tests.conftest import app_settings, migrated_database
from tests.factories import bearer

BATCH = "/api/v1/transactions/batch"


def lock_waiting_app(
    database: str,
    folder: Path,
    *,
    lock_wait_seconds: float,
    audit_in_memory: bool = False,
    **more: Any,
) -> FastAPI:
    """The app with real sessions on an isolated database, giving up on the write lock after
    `lock_wait_seconds` (the long-write and staged-load tests). `audit_in_memory`: a request's
    own work only, its audit entry (which would need the held lock too) kept in memory."""
    app = create_app(app_settings(database, folder, lock_wait_seconds=lock_wait_seconds, **more))
    if audit_in_memory:
        app.state.audit_sink = [].append
    return app


@contextmanager
def live_app(
    folder: Path, **settings: Any
) -> Iterator[tuple[TestClient, dict[str, str], Settings]]:
    """The app live (`live_client`) on a fresh migrated database in `folder`, with `settings`
    over the tests' own; the caller then loads what it traces (the demo, most often)."""
    with migrated_database(folder) as url:
        made = app_settings(url, folder, **settings)
        with live_client(made) as (client, key):
            yield client, key, made


def held_back(
    monkeypatch: pytest.MonkeyPatch, owner: object, name: str, *, within: float
) -> threading.Event:
    """Holds `owner.name` (an engine) back until the event is set, so that a test can act while
    a job is running; a call still held after `within` seconds fails the test."""
    opened = threading.Event()
    real = getattr(owner, name)

    def held(*args: Any, **kwargs: Any) -> Any:
        assert opened.wait(timeout=within)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, held)
    return opened


def count(url: str, rows: str) -> int:
    """`SELECT count(*) FROM <rows>` (a table, with a WHERE clause if need be), on a connection
    of its own that is closed after."""
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        n = int(conn.execute(text(f"SELECT count(*) FROM {rows}")).scalar_one())
    engine.dispose()
    return n


@contextmanager
def live_client(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The app with its own sessions, threads and jobs (the lifespan runs), and an admin key's
    header."""
    with TestClient(create_app(settings)) as client:
        with client.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
            _, secret = apikey_service.create_key(
                session, name="t", role=Role.ADMIN, created_by=None
            )
        yield client, bearer(secret)


def bulk_transactions(rows: int, *, ids: str, accounts: str) -> pl.DataFrame:
    """`rows` transactions as an upload holds them: external ids `<ids>0000000` on, between
    about two thousand accounts `<accounts><n>`, all on one day."""
    return pl.DataFrame(
        {
            "external_id": [f"{ids}{i:07d}" for i in range(rows)],
            "from_account": [f"{accounts}{i % 997}" for i in range(rows)],
            "to_account": [f"{accounts}{(i * 7 + 1) % 991 + 1000}" for i in range(rows)],
            "amount": [f"{1 + i % 5000}.{i % 100:02d}" for i in range(rows)],
            "currency": ["EUR"] * rows,
            "value_time": ["2026-03-01T10:00:00Z"] * rows,
        }
    )


def wait_for_trace(
    client: TestClient,
    key: dict[str, str],
    trace_id: str,
    status: str,
    *,
    within: float = 120,
    pause: float = 0.05,
) -> dict[str, Any]:
    """The trace as the API shows it once it has `status`; an error after `within` seconds (long:
    a trace's first run in a fresh process may compile the engine's kernels, which takes tens of
    seconds on a loaded machine, and a passing test waits no longer than its trace runs)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"/api/v1/traces/{trace_id}", headers=key).json()
        if body["status"] == status:
            return body
        time.sleep(pause)
    raise AssertionError(f"trace {trace_id} never reached {status}: {body}")
