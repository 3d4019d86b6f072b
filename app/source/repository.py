from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.pagination import CursorCodec, Keyset, TimeTextKey, page
from app.source.models import SourceDocument

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
    ) -> tuple[list[SourceDocument], str | None]:
        stmt = select(SourceDocument)
        if uploaded_by is not None:
            stmt = stmt.where(SourceDocument.uploaded_by == uploaded_by)
        return page(self.session, stmt, NEWEST_FIRST, limit=limit, after=after)
