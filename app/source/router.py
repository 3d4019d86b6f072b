from fastapi import APIRouter

from app.compartments import SourceView
from app.errors import problems
from app.inputs import DocumentIdPath
from app.pagination import Page, PageDep
from app.source import service
from app.source.schemas import SourceDocumentRead

router = APIRouter(prefix="/api/v1/sources", tags=["sources"])


@router.get("", responses=problems(403, 422))
def list_source_documents(view: SourceView, page: PageDep) -> Page[SourceDocumentRead]:
    """List source documents, newest first (ingest keys see only their own)."""
    found = service.page_sources(
        view.session,
        limit=page.limit,
        cursor=page.cursor,
        actor=view.actor,
        compartments=view.compartments,
    )
    return Page.of(SourceDocumentRead, found)


@router.get("/{source_document_id}", responses=problems(403, 404, 422))
def get_source_document(source_document_id: DocumentIdPath, view: SourceView) -> SourceDocumentRead:
    """Get one source document: its kind, reference, uploader, hash, counts and compartment."""
    found = service.get_source(
        view.session, source_document_id, actor=view.actor, compartments=view.compartments
    )
    return SourceDocumentRead.model_validate(found)
