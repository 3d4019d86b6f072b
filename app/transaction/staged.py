"""Big loads on SQLite, stored in bounded slices that each hold the write lock briefly.

SQLite has one write lock for the whole database, and every request needs it for its audit
entry. A million-row upload in one transaction would hold it for as long as the load takes, so
it is stored in slices instead, each in its own short transaction, under a source document in
the `staging` state: every ledger read leaves out the rows of staging documents
(`app.source.models.committed_rows`), so the slices are invisible while they accumulate. One
short UPDATE then flips the document to `committed`, in the same transaction as the request's
audit entry; that flip is the load's single moment of truth. A load that fails is removed in
slices and its document marked abandoned; one cut short by a crash is removed by the next start
(`discard_abandoned`).

PostgreSQL keeps one transaction for the rows and the flip: a writer there holds no lock that
readers or other small writers need. The document is still committed as `staging` first, in a
transaction of its own: the ledger index reads new rows by id, and the rows of a long
transaction commit after rows with higher ids; a document it saw staging tells it to read that
document's rows once it is published.
"""

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import polars as pl
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app.db import BULK_HEAD_START, WRITE_HEAD_START
from app.source import service as source_service
from app.transaction.bulk import Conflict, LoadCounts, accounts_named, load_transactions

log = logging.getLogger(__name__)

# Rows per slice: each holds the write lock for about what a small request costs several times
# over, and the whole load pays a commit per slice.
SLICE_ROWS = 10_000
_DELETE_SLICE = 20_000

_DELETE_ROWS = (
    "DELETE FROM transactions WHERE id IN"
    " (SELECT id FROM transactions WHERE source_document_id = :doc LIMIT :n)"
)
# A slice's probable duplicates name its rows: they go first (few, in one statement).
_DELETE_MATCHES = (
    "DELETE FROM duplicate_matches WHERE transaction_id IN"
    " (SELECT id FROM transactions WHERE source_document_id = :doc)"
)
_USED = (
    "EXISTS (SELECT 1 FROM transactions t WHERE t.source_document_id <> :doc"
    " AND (t.from_account_id = accounts.id OR t.to_account_id = accounts.id))"
)
# An account the load created may meanwhile be named by another, committed batch: it stays,
# under that batch's document.
_ADOPT_ACCOUNTS = (
    "UPDATE accounts SET source_document_id = (SELECT t.source_document_id FROM transactions t"
    " WHERE t.from_account_id = accounts.id OR t.to_account_id = accounts.id LIMIT 1)"
    f" WHERE source_document_id = :doc AND {_USED}"
)
_DELETE_ACCOUNTS = (
    "DELETE FROM accounts WHERE id IN"
    " (SELECT id FROM accounts WHERE source_document_id = :doc LIMIT :n)"
)


def loader_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def applies(session: Session, rows: int) -> bool:
    """Whether a load of `rows` rows is staged: more than one slice; on SQLite only when the
    session holds no transaction (it would hold the write lock the slices need)."""
    if session.get_bind().dialect.name == "sqlite" and session.in_transaction():
        return False
    return rows > SLICE_ROWS


@contextmanager
def side_session(session: Session) -> Iterator[Session]:
    """A session on the same database that carries no request: its commits write no audit.
    On SQLite its slices queue for the write lock behind this process's other writers, who
    get in between two (`app.db.WriteQueue`)."""
    bind = session.get_bind().execution_options(**{WRITE_HEAD_START: BULK_HEAD_START})
    side = Session(bind, expire_on_commit=False)
    try:
        yield side
    finally:
        side.close()


def load(
    session: Session,
    side: Session,
    rows: pl.DataFrame,
    *,
    document_id: str,
    conflict_limit: int,
    duplicate_tolerance: int | None = None,
) -> tuple[LoadCounts, list[Conflict]]:
    """Store `rows` under the staging document: on SQLite in committed slices on `side`, on
    PostgreSQL in `session`'s transaction, which the flip then commits with them."""

    if session.get_bind().dialect.name != "sqlite":
        return load_transactions(
            session,
            rows,
            source_document_id=document_id,
            conflict_limit=conflict_limit,
            duplicate_tolerance=duplicate_tolerance,
        )
    # A slice holds the write lock from its first statement: the number checks of its accounts
    # (a third of a slice's time when each slice did its own) are done for the whole load first.
    accounts = accounts_named(rows)

    def store(target: Session, part: pl.DataFrame) -> tuple[LoadCounts, list[Conflict]]:
        return load_transactions(
            target,
            part,
            source_document_id=document_id,
            conflict_limit=conflict_limit,
            duplicate_tolerance=duplicate_tolerance,
            accounts=accounts,
        )

    inserted = present = created = 0
    for part in rows.iter_slices(SLICE_ROWS):
        counts, conflicts = store(side, part)
        if conflicts:
            side.rollback()
            return LoadCounts(0, 0, 0), conflicts
        side.commit()
        inserted += counts.inserted
        present += counts.already_present
        created += counts.accounts_created
    return LoadCounts(inserted, present, created), []


def _repeat(side: Session, sql: str, document_id: str) -> None:
    while True:
        done = (
            side.connection().execute(text(sql), {"doc": document_id, "n": _DELETE_SLICE}).rowcount
        )
        side.commit()
        if not done:
            return


def discard(side: Session, document_id: str) -> None:
    """Remove what a staging document stored, in slices, then mark it abandoned; a crash
    midway leaves it staging, and the next start finishes the job."""
    side.rollback()
    side.execute(text(_DELETE_MATCHES), {"doc": document_id})
    side.commit()
    _repeat(side, _DELETE_ROWS, document_id)
    side.execute(text(_ADOPT_ACCOUNTS), {"doc": document_id})
    side.commit()
    _repeat(side, _DELETE_ACCOUNTS, document_id)
    source_service.abandon_source(side, document_id)
    side.commit()


def _abandoned(loader: str | None) -> bool:
    """A load whose process is gone. Another live worker's load on this host is left alone;
    one from another host is abandoned only if that host is this one (a restart)."""
    if loader is None:
        return True
    host, _, pid = loader.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return True  # this process is starting: a load with its id was a previous life's
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def discard_abandoned(readers: sessionmaker[Session], writers: sessionmaker[Session]) -> int:
    """Remove the staging loads of processes that died; returns how many.

    Looked for without the write lock, which a start with nothing to remove never takes.
    """
    try:
        with readers() as session:
            found = source_service.staging_sources(session)
    except SQLAlchemyError:
        # Not migrated yet (readiness says so), or unreachable: nothing to remove now.
        log.warning("could not look for interrupted loads", exc_info=True)
        return 0
    gone = [doc for doc, loader in found if _abandoned(loader)]
    for document_id in gone:
        log.warning("removing the rows of an interrupted load, source document %s", document_id)
        with writers() as session:
            try:
                discard(session, document_id)
            except SQLAlchemyError:
                # Left staging, hence invisible; the next start tries again.
                session.rollback()
                log.exception("could not remove the interrupted load %s", document_id)
    return len(gone)
