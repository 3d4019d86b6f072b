"""Appending to the audit trail and checking that nobody rewrote it."""

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.audit.chain import FIELDS, GENESIS, entry_hash
from app.audit.models import AuditEntry
from app.audit.repository import AuditRepository
from app.pagination import encode_cursor, int_cursor

_ATTEMPTS = 5


def append(sessions: sessionmaker[Session], fields: dict[str, Any]) -> None:
    """Add one entry at the head of the chain, in a transaction of its own."""
    for attempt in range(_ATTEMPTS):
        with sessions() as session:
            entries = AuditRepository(session)
            entries.lock_head()
            prev = entries.last_hash() or GENESIS
            try:
                entries.add({**fields, "prev_hash": prev, "entry_hash": entry_hash(prev, fields)})
                session.commit()
                return
            except IntegrityError:
                # Another process appended first (the head moved): take the new head.
                session.rollback()
                if attempt == _ATTEMPTS - 1:
                    raise


def verify(session: Session) -> dict[str, Any]:
    prev, count = GENESIS, 0
    entries = AuditRepository(session).in_order()
    try:
        for entry in entries:
            count += 1
            fields = {name: getattr(entry, name) for name in FIELDS}
            if entry.prev_hash != prev:
                return _broken(count, entry, "prev_hash does not name the entry before it")
            if entry.entry_hash != entry_hash(prev, fields):
                return _broken(count, entry, "the entry's content does not match its hash")
            prev = entry.entry_hash
    finally:
        entries.close()  # a server-side cursor on PostgreSQL: release it even when stopping early
    return {"valid": True, "entries": count, "head": prev, "first_broken": None}


def _broken(count: int, entry: AuditEntry, reason: str) -> dict[str, Any]:
    return {
        "valid": False,
        "entries": count,
        "head": None,
        "first_broken": {"id": entry.id, "position": count, "reason": reason},
    }


def page_entries(
    session: Session, *, limit: int, cursor: str | None, **filters: Any
) -> tuple[list[AuditEntry], str | None]:
    before = int_cursor(cursor)
    rows = AuditRepository(session).page(limit=limit, before_id=before, **filters)
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor([rows[-1].id]) if more else None


def database_sink(sessions: sessionmaker[Session]) -> Any:
    """The production sink: each entry appended to the chained table."""
    return lambda fields: append(sessions, fields)
