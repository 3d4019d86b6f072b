from datetime import datetime

from sqlalchemy import select, tuple_, update
from sqlalchemy.orm import Session

from app.source.models import ABANDONED, COMMITTED, STAGING, SourceDocument


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
        for start in range(0, len(document_ids), 500):
            chunk = document_ids[start : start + 500]
            stmt = select(SourceDocument.id, SourceDocument.received_at).where(
                SourceDocument.id.in_(chunk), SourceDocument.state == COMMITTED
            )
            found.update((row.id, row.received_at) for row in self.session.execute(stmt))
        return found

    def add(self, document: SourceDocument) -> SourceDocument:
        self.session.add(document)
        self.session.flush()
        return document

    def page(
        self,
        *,
        limit: int,
        after: tuple[datetime, str] | None,
        uploaded_by: str | None,
    ) -> list[SourceDocument]:
        stmt = (
            select(SourceDocument)
            .where(SourceDocument.state == COMMITTED)
            .order_by(SourceDocument.received_at.desc(), SourceDocument.id.desc())
        )
        if uploaded_by is not None:
            stmt = stmt.where(SourceDocument.uploaded_by == uploaded_by)
        if after is not None:
            stmt = stmt.where(tuple_(SourceDocument.received_at, SourceDocument.id) < after)
        return list(self.session.scalars(stmt.limit(limit + 1)))
