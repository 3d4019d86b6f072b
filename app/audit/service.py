"""Appending to the audit trail and checking that nobody rewrote it."""

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.audit import checkpoints
from app.audit.chain import FIELDS, GENESIS, entry_hash
from app.audit.checkpoints import Claim
from app.audit.models import AuditCheckpoint, AuditEntry
from app.audit.repository import (
    AUDIT_CHECKPOINTS,
    AUDIT_ENTRIES,
    AuditRepository,
    CheckpointRepository,
)
from app.audit.request import RequestAudit
from app.audit.signing import Signer
from app.db import REQUEST_SCOPE

_ATTEMPTS = 5
_STAGED = "audit_outcome_staged"


def append_in(session: Session, fields: dict[str, Any]) -> None:
    """Add one entry at the head of the chain, inside the session's transaction."""
    append_all_in(session, [fields])


def append_all_in(session: Session | Connection, entries: list[dict[str, Any]]) -> None:
    """Add `entries`, in order, at the head of the chain, inside the open transaction."""
    repository = AuditRepository(session)
    # PostgreSQL: appends queue on a lock held to the commit, so two never name the same
    # predecessor; SQLite: the transaction already holds the one write lock.
    repository.lock_head()
    prev = repository.last_hash() or GENESIS
    rows = []
    for fields in entries:
        digest = entry_hash(prev, fields)
        rows.append({**fields, "prev_hash": prev, "entry_hash": digest})
        prev = digest
    repository.add_all(rows)


def append(sessions: sessionmaker[Session], fields: dict[str, Any]) -> None:
    """Add one entry at the head of the chain, in a transaction of its own."""
    append_many(sessions, [fields])


def append_many(sessions: sessionmaker[Session], entries: list[dict[str, Any]]) -> None:
    """Chain `entries`, in order, after the head, in one transaction of their own."""
    for attempt in range(_ATTEMPTS):
        with sessions() as session:
            try:
                append_all_in(session, entries)
                session.commit()
                return
            except IntegrityError:
                # Another writer that skipped the lock appended first: take the new head.
                session.rollback()
                if attempt == _ATTEMPTS - 1:
                    raise


def append_batch(connection: Connection, entries: list[dict[str, Any]]) -> None:
    """Chain `entries`, in order, after the head, in one transaction on `connection`.

    The group writer's path: one connection kept for every batch and Core statements, so a
    batch costs its statements and its commit, not a session's and a pool checkout's set-up.
    """
    for attempt in range(_ATTEMPTS):
        try:
            with connection.begin():
                append_all_in(connection, entries)
            return
        except IntegrityError:
            # Another writer that skipped the lock appended first: take the new head.
            if attempt == _ATTEMPTS - 1:
                raise


def _before_commit(session: Session) -> None:
    scope = session.info.get(REQUEST_SCOPE)
    audit = RequestAudit.of(scope) if scope is not None else None
    if audit is None or audit.committed_outcome is not None or session.in_nested_transaction():
        return  # a savepoint's release is not a commit: its work may still be rolled back
    outcome = audit.success_status()
    append_in(session, audit.fields(outcome))
    session.info[_STAGED] = outcome


def _after_commit(session: Session) -> None:
    outcome = session.info.pop(_STAGED, None)
    scope = session.info.get(REQUEST_SCOPE)
    if outcome is not None and scope is not None and (audit := RequestAudit.of(scope)):
        audit.committed_outcome = outcome


def _after_rollback(session: Session) -> None:
    session.info.pop(_STAGED, None)  # the entry went with the change


def record_with_commits(sessions: sessionmaker[Session]) -> None:
    """The first commit of a request's session carries the request's entry.

    A change and its entry are one transaction: a process killed at any moment leaves both or
    neither. The entry announces the status the route answers on success; should the answer
    differ (a job accepted with 202, a failure after the commit), the middleware appends a
    second entry with the same request id and the status actually sent.
    """
    event.listen(sessions, "before_commit", _before_commit)
    event.listen(sessions, "after_commit", _after_commit)
    event.listen(sessions, "after_rollback", _after_rollback)


def _stored_claims(session: Session, signer: Signer | None) -> list[Claim]:
    stored = CheckpointRepository(session).all_in_order()
    # The service's own key is loaded only when there is something it signed.
    expected = signer.public_key if stored and signer is not None else None
    return [checkpoints.claim_of(c, expected_key=expected) for c in stored]


def verify(
    session: Session, *, signer: Signer | None, kept: Iterable[Claim] = ()
) -> dict[str, Any]:
    """Replay the chain, and hold it to the stored checkpoints and to any kept elsewhere."""
    claims = checkpoints.Claims([*_stored_claims(session, signer), *kept])
    prev, count = GENESIS, 0
    if (failure := claims.unsigned() or claims.check(0, GENESIS)) is not None:
        return _off_checkpoint(count, failure)
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
            if (failure := claims.check(count, prev)) is not None:
                return _off_checkpoint(count, failure)
    finally:
        entries.close()  # a server-side cursor on PostgreSQL: release it even when stopping early
    if (failure := claims.beyond(count)) is not None:
        return _off_checkpoint(count, failure)
    return {**_result(count, prev), "checkpoints": claims.checked}


def _result(count: int, head: str | None) -> dict[str, Any]:
    # A chain is valid when it has a head to report: the hash of its last entry (or genesis).
    return {
        "valid": head is not None,
        "entries": count,
        "head": head,
        "first_broken": None,
        "checkpoints": 0,
        "checkpoint_failure": None,
    }


def _off_checkpoint(count: int, failure: dict[str, Any]) -> dict[str, Any]:
    return {**_result(count, None), "checkpoint_failure": failure}


def _broken(count: int, entry: AuditEntry, reason: str) -> dict[str, Any]:
    return {
        **_result(count, None),
        "first_broken": {"id": entry.id, "position": count, "reason": reason},
    }


def take_checkpoint(
    sessions: sessionmaker[Session], signer: Signer, *, min_new: int = 1
) -> AuditCheckpoint | None:
    """Sign the chain's length and head now, if at least `min_new` entries are unsigned."""
    with sessions() as session:
        AuditRepository(session).lock_head()  # no append moves the head while it is read
        checkpoint = checkpoints.next_checkpoint(session, signer, min_new=min_new)
        if checkpoint is None:
            return None
        try:
            CheckpointRepository(session).add(checkpoint)
            session.commit()
        except IntegrityError:
            return None  # another process signed this very length first
        return checkpoint


def page_entries(
    session: Session, *, limit: int, cursor: str | None, **filters: Any
) -> tuple[list[AuditEntry], str | None]:
    after = AUDIT_ENTRIES.decode(cursor)
    return AuditRepository(session).page(limit=limit, after=after, **filters)


def page_checkpoints(
    session: Session, *, limit: int, cursor: str | None
) -> tuple[list[AuditCheckpoint], str | None]:
    after = AUDIT_CHECKPOINTS.decode(cursor)
    return CheckpointRepository(session).page(limit=limit, after=after)


def database_sink(sessions: sessionmaker[Session]) -> Any:
    """The production sink: each entry appended to the chained table."""
    return lambda fields: append(sessions, fields)
