from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from app.source.models import SourceDocument


class SourceDocumentRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, document_id: str) -> SourceDocument | None:
        return self.session.get(SourceDocument, document_id)

    def received_times(self, document_ids: list[str]) -> dict[str, datetime]:
        found: dict[str, datetime] = {}
        for start in range(0, len(document_ids), 500):
            chunk = document_ids[start : start + 500]
            stmt = select(SourceDocument.id, SourceDocument.received_at).where(
                SourceDocument.id.in_(chunk)
            )
            found.update((row.id, row.received_at) for row in self.session.execute(stmt))
        return found

    def by_ids(self, document_ids: list[str]) -> list[SourceDocument]:
        found: list[SourceDocument] = []
        for start in range(0, len(document_ids), 500):
            stmt = select(SourceDocument).where(
                SourceDocument.id.in_(document_ids[start : start + 500])
            )
            found.extend(self.session.scalars(stmt))
        return sorted(found, key=lambda d: (d.received_at, d.id))

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
        stmt = select(SourceDocument).order_by(
            SourceDocument.received_at.desc(), SourceDocument.id.desc()
        )
        if uploaded_by is not None:
            stmt = stmt.where(SourceDocument.uploaded_by == uploaded_by)
        if after is not None:
            stmt = stmt.where(tuple_(SourceDocument.received_at, SourceDocument.id) < after)
        return list(self.session.scalars(stmt.limit(limit + 1)))
