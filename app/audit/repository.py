from collections.abc import Generator
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, text
from sqlalchemy.orm import Session

from app.audit.models import AUDIT_APPEND_LOCK, AuditCheckpoint, AuditEntry
from app.db import table_of
from app.pagination import CursorCodec, IdKey, Keyset, page

AUDIT_ENTRIES = CursorCodec("audit", IdKey)
AUDIT_CHECKPOINTS = CursorCodec("audit_checkpoints", IdKey)
ENTRIES_NEWEST_FIRST: Keyset[IdKey, AuditEntry] = Keyset(
    AUDIT_ENTRIES, (AuditEntry.id,), lambda entry: IdKey(entry.id), descending=True
)
CHECKPOINTS_NEWEST_FIRST: Keyset[IdKey, AuditCheckpoint] = Keyset(
    AUDIT_CHECKPOINTS, (AuditCheckpoint.id,), lambda c: IdKey(c.id), descending=True
)


_LOCK_HEAD = text("SELECT pg_advisory_xact_lock(:key)")
# Core statements built once: the group writer runs them for every batch.
_ENTRIES = table_of(AuditEntry)
_LAST_HASH = select(_ENTRIES.c.entry_hash).order_by(_ENTRIES.c.id.desc()).limit(1)
_INSERT = insert(_ENTRIES)


class AuditRepository:
    """On a session, or on a bare connection (the group writer's, which needs no unit of work)."""

    def __init__(self, session: Session | Connection) -> None:
        self.session = session

    def lock_head(self) -> None:
        # Appends queue here on PostgreSQL; SQLite already admits one writer at a time.
        bind = self.session if isinstance(self.session, Connection) else self.session.get_bind()
        if bind.dialect.name == "postgresql":
            self.session.execute(_LOCK_HEAD, {"key": AUDIT_APPEND_LOCK})

    def last_hash(self) -> str | None:
        return self.session.execute(_LAST_HASH).scalar()

    def head(self) -> tuple[int, str] | None:
        row = self.session.execute(
            select(AuditEntry.id, AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1)
        ).first()
        return (row[0], row[1]) if row is not None else None

    def count_after(self, entry_id: int | None) -> int:
        stmt = select(func.count()).select_from(AuditEntry)
        if entry_id is not None:
            stmt = stmt.where(AuditEntry.id > entry_id)
        return int(self.session.scalar(stmt) or 0)

    def first_at_after(self, entry_id: int | None) -> datetime | None:
        stmt = select(AuditEntry.at).order_by(AuditEntry.id).limit(1)
        if entry_id is not None:
            stmt = stmt.where(AuditEntry.id > entry_id)
        return self.session.scalar(stmt)

    def add_all(self, rows: list[dict[str, Any]]) -> None:
        # A Core INSERT: entries are written once and never loaded back. The rows go in the
        # order given, so ids follow the chain.
        self.session.execute(_INSERT, rows)

    def in_order(self, chunk: int = 5000) -> Generator[AuditEntry]:
        """Every entry by id, `chunk` at a time, each chunk found by the last id of the one
        before: no server-side cursor, which needs a transaction that a read request's session
        on PostgreSQL does not open (`app.db.make_request_readers`). Entries are never changed,
        so a replay that meets entries appended meanwhile only checks more of the chain."""
        after = 0
        while True:
            stmt = select(AuditEntry).where(AuditEntry.id > after).order_by(AuditEntry.id)
            rows = self.session.scalars(stmt.limit(chunk)).all()
            yield from rows
            if len(rows) < chunk:
                return
            after = rows[-1].id

    def page(
        self,
        *,
        limit: int,
        after: IdKey | None,
        key_id: str | None,
        operation: str | None,
        resource: str | None,
        case_id: int | None,
        since: datetime | None,
        until: datetime | None,
    ) -> tuple[list[AuditEntry], str | None]:
        stmt = select(AuditEntry)
        filters = {
            AuditEntry.key_id: key_id,
            AuditEntry.operation: operation,
            AuditEntry.resource: resource,
            AuditEntry.case_id: case_id,
        }
        for column, value in filters.items():
            if value is not None:
                stmt = stmt.where(column == value)
        if since is not None:
            stmt = stmt.where(AuditEntry.at >= since)
        if until is not None:
            stmt = stmt.where(AuditEntry.at < until)
        assert isinstance(self.session, Session), "pages are read through a session"
        return page(self.session, stmt, ENTRIES_NEWEST_FIRST, limit=limit, after=after)


class CheckpointRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def latest(self) -> AuditCheckpoint | None:
        stmt = select(AuditCheckpoint).order_by(AuditCheckpoint.entries.desc()).limit(1)
        return self.session.scalar(stmt)

    def add(self, checkpoint: AuditCheckpoint) -> AuditCheckpoint:
        self.session.add(checkpoint)
        self.session.flush()
        return checkpoint

    def all_in_order(self) -> list[AuditCheckpoint]:
        return list(self.session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.entries)))

    def page(self, *, limit: int, after: IdKey | None) -> tuple[list[AuditCheckpoint], str | None]:
        stmt = select(AuditCheckpoint)
        return page(self.session, stmt, CHECKPOINTS_NEWEST_FIRST, limit=limit, after=after)
