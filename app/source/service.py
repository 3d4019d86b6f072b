import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from app.errors import NotFound
from app.principal import Principal
from app.source.models import COMMITTED, STAGING, SourceDocument
from app.source.repository import SOURCES, SourceDocumentRepository
from app.source.schemas import SourceIn
from app.uploads import Upload


class SourceDocumentNotFound(NotFound):
    code, title = "source_document_not_found", "Source document not found"

    def __init__(self, document_id: str) -> None:
        super().__init__(
            f"no source document with id {document_id}", source_document_id=document_id
        )


def record_source(
    session: Session,
    source: SourceIn,
    upload: Upload,
    *,
    rows: int,
    actor: Principal,
    loader: str | None = None,
) -> SourceDocument:
    """Add the source document of a batch (flushed, committed by the caller's use case).

    With a `loader` (the process loading it) the document is staging: its rows stay out of the
    ledger until `publish_source` flips it.
    """
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
            state=COMMITTED if loader is None else STAGING,
            loader=loader,
        )
    )


def publish_source(
    session: Session, document_id: str, *, inserted: int, already_present: int
) -> bool:
    """Make a staging document's rows part of the ledger (committed by the caller); False if it
    is no longer staging (discarded meanwhile)."""
    return SourceDocumentRepository(session).publish(
        document_id, inserted=inserted, already_present=already_present
    )


def abandon_source(session: Session, document_id: str) -> None:
    """Mark a staging document whose rows were removed as abandoned (committed by the caller)."""
    SourceDocumentRepository(session).abandon(document_id)


def staging_sources(session: Session) -> list[tuple[str, str | None]]:
    return SourceDocumentRepository(session).staging()


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
    return SourceDocumentRepository(session).page(
        limit=limit,
        after=SOURCES.decode(cursor),
        uploaded_by=None if actor.sees_all_sources else actor.id,
    )


def received_times(session: Session, document_ids: Iterable[str]) -> dict[str, datetime]:
    """When each source document was received, by id."""
    return SourceDocumentRepository(session).received_times(sorted(set(document_ids)))


def documents_by_ids(session: Session, document_ids: Iterable[str]) -> list[SourceDocument]:
    """The given source documents, in the order they were received."""
    return SourceDocumentRepository(session).by_ids(sorted(set(document_ids)))
