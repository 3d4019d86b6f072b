from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.compartments import Compartments
from app.db import by_key, in_chunks
from app.pagination import CursorCodec, Keyset, TimeTextKey, page
from app.source.models import ABANDONED, COMMITTED, STAGING, CompartmentChange, SourceDocument

SOURCES = CursorCodec("sources", TimeTextKey)
NEWEST_FIRST: Keyset[TimeTextKey, SourceDocument] = Keyset(
    SOURCES,
    (SourceDocument.received_at, SourceDocument.id),
    lambda document: TimeTextKey(document.received_at, document.id),
    descending=True,
)


class SourceDocumentRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, document_id: str) -> SourceDocument | None:
        document = self.session.get(SourceDocument, document_id)
        return document if document is not None and document.state == COMMITTED else None

    def publish(self, document_id: str, *, inserted: int, already_present: int) -> bool:
        """Flip a staging document to committed: its rows join the ledger in this one UPDATE."""
        flip = (
            update(SourceDocument)
            .where(SourceDocument.id == document_id, SourceDocument.state == STAGING)
            .values(
                state=COMMITTED, loader=None, inserted=inserted, already_present=already_present
            )
        )
        return bool(self.session.connection().execute(flip).rowcount)

    def abandon(self, document_id: str) -> None:
        self.session.execute(
            update(SourceDocument)
            .where(SourceDocument.id == document_id, SourceDocument.state == STAGING)
            .values(state=ABANDONED, loader=None)
        )

    def staging(self) -> list[tuple[str, str | None]]:
        """(id, loader) of every document still being loaded."""
        stmt = select(SourceDocument.id, SourceDocument.loader).where(
            SourceDocument.state == STAGING
        )
        return [(row.id, row.loader) for row in self.session.execute(stmt)]

    def received_times(self, document_ids: list[str]) -> dict[str, datetime]:
        found: dict[str, datetime] = {}
        for chunk in in_chunks(document_ids):
            stmt = select(SourceDocument.id, SourceDocument.received_at).where(
                SourceDocument.id.in_(chunk), SourceDocument.state == COMMITTED
            )
            found.update((row.id, row.received_at) for row in self.session.execute(stmt))
        return found

    def by_ids(self, document_ids: list[str]) -> list[SourceDocument]:
        found = by_key(self.session, SourceDocument, SourceDocument.id, document_ids)
        return sorted(found.values(), key=lambda d: (d.received_at, d.id))

    def lock(self, document_id: str) -> None:
        """Lock the document's row to the end of the transaction and read its filing afresh:
        a second refiling waits here for the first one's commit, then reads its target
        (PostgreSQL: SELECT ... FOR UPDATE; SQLite's writer sessions hold the one write lock
        from their first statement, this one included)."""
        stmt = (
            select(SourceDocument)
            .where(SourceDocument.id == document_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        self.session.execute(stmt)

    def held(self, document_ids: list[str]) -> list[SourceDocument]:
        """The documents read afresh and held against a refiling to the end of the transaction
        (PostgreSQL: SELECT ... FOR SHARE, taken in id order; a refiling in progress is waited
        for and its filing read; SQLite's writer sessions hold the one write lock already)."""
        found: list[SourceDocument] = []
        for chunk in in_chunks(sorted(set(document_ids))):
            stmt = (
                select(SourceDocument)
                .where(SourceDocument.id.in_(chunk))
                .order_by(SourceDocument.id)
                .with_for_update(read=True)
                .execution_options(populate_existing=True)
            )
            found.extend(self.session.scalars(stmt))
        return found

    def refile(self, document: SourceDocument, change: CompartmentChange) -> CompartmentChange:
        document.case_id = change.to_case_id
        self.session.add(change)
        self.session.flush()
        return change

    def last_compartment_change(self) -> int:
        return int(self.session.scalar(select(func.max(CompartmentChange.id))) or 0)

    def refiled_among(self, document_ids: list[str]) -> set[str]:
        found: set[str] = set()
        for chunk in in_chunks(document_ids):
            stmt = select(CompartmentChange.source_document_id).where(
                CompartmentChange.source_document_id.in_(chunk)
            )
            found.update(self.session.scalars(stmt.distinct()))
        return found

    def compartment_changes(self, document_id: str) -> list[CompartmentChange]:
        stmt = (
            select(CompartmentChange)
            .where(CompartmentChange.source_document_id == document_id)
            .order_by(CompartmentChange.id)
        )
        return list(self.session.scalars(stmt))

    def add(self, document: SourceDocument) -> SourceDocument:
        self.session.add(document)
        self.session.flush()
        return document

    def page(
        self,
        *,
        limit: int,
        after: TimeTextKey | None,
        uploaded_by: str | None,
        compartments: Compartments,
    ) -> tuple[list[SourceDocument], str | None]:
        stmt = select(SourceDocument).where(SourceDocument.state == COMMITTED)
        if not compartments.every:
            stmt = stmt.where(compartments.documents(SourceDocument.case_id))
        if uploaded_by is not None:
            stmt = stmt.where(SourceDocument.uploaded_by == uploaded_by)
        return page(self.session, stmt, NEWEST_FIRST, limit=limit, after=after)
