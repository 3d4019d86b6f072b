import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from app.errors import NotFound
from app.pagination import encode_cursor, time_text_cursor
from app.principal import Principal
from app.source.models import SourceDocument
from app.source.repository import SourceDocumentRepository
from app.source.schemas import SourceIn


class SourceDocumentNotFound(NotFound):
    code, title = "source_document_not_found", "Source document not found"

    def __init__(self, document_id: str) -> None:
        super().__init__(
            f"no source document with id {document_id}", source_document_id=document_id
        )


@dataclass(frozen=True, slots=True)
class Upload:
    """What was received, before any of it is read as records."""

    sha256: str
    size_bytes: int
    media_type: str
    filename: str | None = None


def record_source(
    session: Session,
    source: SourceIn,
    upload: Upload,
    *,
    rows: int,
    actor: Principal,
) -> SourceDocument:
    """Add the source document of a batch (flushed, committed by the caller's use case)."""
    return SourceDocumentRepository(session).add(
        SourceDocument(
            id=uuid.uuid4().hex,
            kind=source.kind,
            reference=source.reference,
            received_at=datetime.now(UTC),
            uploaded_by=actor.id,
            sha256=upload.sha256,
            filename=upload.filename,
            media_type=upload.media_type,
            size_bytes=upload.size_bytes,
            row_count=rows,
            inserted=0,
            already_present=0,
        )
    )


def get_source(session: Session, document_id: str, *, actor: Principal) -> SourceDocument:
    document = SourceDocumentRepository(session).get(document_id)
    # Ingest keys see only what they loaded; to them, other documents do not exist.
    if document is None or (not actor.sees_all_sources and document.uploaded_by != actor.id):
        raise SourceDocumentNotFound(document_id)
    return document


def page_sources(
    session: Session,
    *,
    limit: int,
    cursor: str | None,
    actor: Principal,
) -> tuple[list[SourceDocument], str | None]:
    after = time_text_cursor(cursor)
    rows = SourceDocumentRepository(session).page(
        limit=limit,
        after=after,
        uploaded_by=None if actor.sees_all_sources else actor.id,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor([rows[-1].received_at.isoformat(), rows[-1].id]) if more else None
    return rows, next_cursor


def received_times(session: Session, document_ids: Iterable[str]) -> dict[str, datetime]:
    """When each source document was received, by id."""
    return SourceDocumentRepository(session).received_times(sorted(set(document_ids)))


def documents_by_ids(session: Session, document_ids: Iterable[str]) -> list[SourceDocument]:
    """The given source documents, in the order they were received."""
    return SourceDocumentRepository(session).by_ids(sorted(set(document_ids)))
