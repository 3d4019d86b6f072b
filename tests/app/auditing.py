"""A live app on a database of its own, and what an intruder with the database's keys can do."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, select, text, update
from sqlalchemy.orm import Session

from app import migrate
from app.apikey import service as apikey_service
from app.audit.chain import FIELDS, GENESIS, entry_hash
from app.audit.models import AuditEntry
from app.db import table_of
from app.main import create_app
from app.principal import Role
from app.settings import Settings
from tests.conftest import fresh_database
from tests.factories import bearer

AUDIT_TABLES = ("audit_entries", "audit_checkpoints")


@dataclass
class Live:
    client: TestClient
    admin: dict[str, str]
    analyst: dict[str, str]
    settings: Settings

    @property
    def engine(self) -> Engine:
        engine = self.client.app.state.engine  # type: ignore[attr-defined]
        assert isinstance(engine, Engine)
        return engine

    def entries(self, **params: Any) -> list[dict[str, Any]]:
        """The audit entries, oldest first."""
        r = self.client.get("/api/v1/audit", headers=self.admin, params={"limit": 1000, **params})
        assert r.status_code == 200, r.text
        return list(reversed(r.json()["items"]))

    def verify(self, **params: Any) -> dict[str, Any]:
        r = self.client.get("/api/v1/audit/verify", headers=self.admin, params=params)
        assert r.status_code == 200, r.text
        return dict(r.json())


@contextmanager
def migrated(folder: Path, **overrides: Any) -> Iterator[Settings]:
    """A migrated database of the test's own, and settings that point at it."""
    with fresh_database(folder) as url:
        migrate.upgrade(url)
        yield Settings(
            database_url=url,
            data_dir=folder,
            bootstrap_admin_key=False,
            deadline_sweep_enabled=False,
            trace_warm_ledger=False,
            **overrides,
        )


@contextmanager
def serving(settings: Settings) -> Iterator[Live]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        with client.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
            _, admin = apikey_service.create_key(
                session, name="a", role=Role.ADMIN, created_by=None
            )
            _, analyst = apikey_service.create_key(
                session, name="b", role=Role.ANALYST, created_by=None
            )
        yield Live(client, bearer(admin), bearer(analyst), settings)


@contextmanager
def live_app(folder: Path, **overrides: Any) -> Iterator[Live]:
    with migrated(folder, **overrides) as settings, serving(settings) as live:
        yield live


@contextmanager
def intruder(engine: Engine) -> Iterator[Connection]:
    """A transaction that first removes the append-only guards, as the tables' owner can."""
    with engine.begin() as conn:
        for table in AUDIT_TABLES:
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only"))
            else:
                conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_update"))
                conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_delete"))
        yield conn


def rewrite_from(conn: Connection, first_id: int, **changes: Any) -> None:
    """Change every entry from `first_id` on and recompute the chain: it links up again."""
    with Session(conn) as session:
        rows = list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    prev = GENESIS
    for row in rows:
        fields = {name: getattr(row, name) for name in FIELDS}
        if row.id >= first_id:
            fields.update(changes)
            new = entry_hash(prev, fields)
            conn.execute(
                update(table_of(AuditEntry))
                .where(table_of(AuditEntry).c.id == row.id)
                .values(**changes, prev_hash=prev, entry_hash=new)
            )
            prev = new
        else:
            prev = row.entry_hash
