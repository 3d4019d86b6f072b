from fastapi import APIRouter

from app.auth import SourceReader
from app.compartments import CompartmentsDep
from app.deps import SessionDep
from app.errors import problems
from app.inputs import DocumentIdPath
from app.pagination import Page, PageDep
from app.source import service
from app.source.schemas import SourceDocumentRead

router = APIRouter(prefix="/api/v1/sources", tags=["sources"])


@router.get("", responses=problems(403, 422))
def list_source_documents(
    session: SessionDep, actor: SourceReader, page: PageDep, compartments: CompartmentsDep
) -> Page[SourceDocumentRead]:
    """List source documents, newest first (ingest keys see only their own)."""
    return Page.of(
        SourceDocumentRead,
        service.page_sources(
            session, limit=page.limit, cursor=page.cursor, actor=actor, compartments=compartments
        ),
    )


@router.get("/{source_document_id}", responses=problems(403, 404, 422))
def get_source_document(
    source_document_id: DocumentIdPath,
    session: SessionDep,
    actor: SourceReader,
    compartments: CompartmentsDep,
) -> SourceDocumentRead:
    """Get one source document: its kind, reference, uploader, hash, counts and compartment."""
    return SourceDocumentRead.model_validate(
        service.get_source(session, source_document_id, actor=actor, compartments=compartments)
    )
