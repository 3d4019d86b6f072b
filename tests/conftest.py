"""Fixtures: a migrated database of the suite's own, a rolled-back transaction per test."""

import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app import migrate
from app.db import get_session, make_engine
from app.main import create_app
from app.settings import Settings, sqlite_url
from tests.factories import bearer, make_key

TEST_DATABASE_ENV = "MONEYTRAIL_TEST_DATABASE_URL"


def _admin_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def fresh_database(folder: Path) -> Iterator[str]:
    """SQLite in a temporary file, or a new database on the server the environment names."""
    given = os.environ.get(TEST_DATABASE_ENV)
    if not given:
        yield sqlite_url(folder / f"moneytrail-test-{secrets.token_hex(4)}.db")
        return
    name = f"moneytrail_test_{os.getpid()}_{secrets.token_hex(4)}"
    # A server that cannot be reached fails the suite here: it is never silently skipped.
    with psycopg.connect(_admin_dsn(given), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(given).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_admin_dsn(given), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def migrated_database(folder: Path) -> Iterator[str]:
    """A fresh database (SQLite in `folder`, or one on the test server) at the head revision."""
    with fresh_database(folder) as url:
        migrate.upgrade(url)
        yield url


@pytest.fixture
def isolated_database(tmp_path: Path) -> Iterator[str]:
    """A database of the test's own, for what the shared rolled-back one cannot show (real
    commits, locks, several connections or processes)."""
    with migrated_database(tmp_path) as url:
        yield url


@pytest.fixture
def isolated_key(isolated_database: str) -> dict[str, str]:
    """An admin key's header on `isolated_database`."""
    engine = make_engine(isolated_database)
    with Session(engine) as session:
        secret = make_key(session)
    engine.dispose()
    return bearer(secret)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    migrate.upgrade(database_url)
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with engine.connect() as conn:
        outer = conn.begin()
        with Session(conn, join_transaction_mode="create_savepoint", expire_on_commit=False) as s:
            yield s
        outer.rollback()


def app_settings(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    """The settings tests run the app with: no first key printed, no deadline sweep, no warm
    ledger, and traces answered in the request unless a test asks otherwise."""
    base: dict[str, Any] = {
        "bootstrap_admin_key": False,
        "deadline_sweep_enabled": False,
        "trace_warm_ledger": False,
        # The first trace of a fresh checkout compiles the engine's kernels; tests that want the
        # hand-off to a job ask for it with a short wait of their own.
        "trace_sync_wait_seconds": 600,
    }
    return Settings(database_url=database_url, data_dir=data_dir, **{**base, **overrides})


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return app_settings(database_url, tmp_path, log_json=True)


@pytest.fixture
def audited() -> list[dict[str, Any]]:
    """The audit entries requests produced. Tests sharing one rolled-back transaction collect
    them here; the chained table itself is tested end to end in tests/app/audit/test_audit.py."""
    return []


@pytest.fixture
def client(
    session: Session, settings: Settings, audited: list[dict[str, Any]]
) -> Iterator[TestClient]:
    app = create_app(settings)
    app.state.audit_sink = audited.append
    app.dependency_overrides[get_session] = lambda: session
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def demo_admin(client: TestClient, session: Session) -> dict[str, str]:
    """An admin key's header, with the demo case loaded through the API."""
    key = bearer(make_key(session))
    assert client.post("/api/v1/demo", headers=key).status_code == 201
    return key


def pytest_terminal_summary(terminalreporter: Any) -> None:
    fuzz = sys.modules.get("tests.test_schemathesis")
    if fuzz is not None and fuzz.GENERATED["cases"]:
        terminalreporter.write_line(f"schemathesis: {fuzz.GENERATED['cases']} generated cases")
