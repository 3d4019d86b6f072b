from fastapi import APIRouter

from app.auth import Administrator, SourceReader
from app.compartments import CompartmentsDep
from app.deps import SessionDep
from app.errors import problems
from app.filing import FilingDep
from app.inputs import DocumentIdPath
from app.matching import service as matching_service
from app.pagination import Page, PageDep
from app.source import service
from app.source.schemas import CompartmentChangeIn, CompartmentChangeRead, SourceDocumentRead

router = APIRouter(prefix="/api/v1/sources", tags=["sources"])


@router.get("", responses=problems(403, 422))
def list_source_documents(
    session: SessionDep, actor: SourceReader, page: PageDep, compartments: CompartmentsDep
) -> Page[SourceDocumentRead]:
    """List source documents, newest first (ingest keys see only their own)."""
    rows, next_cursor = service.page_sources(
        session, limit=page.limit, cursor=page.cursor, actor=actor, compartments=compartments
    )
    return Page(items=[SourceDocumentRead.model_validate(r) for r in rows], next_cursor=next_cursor)


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


@router.post("/{source_document_id}/compartment", responses=problems(403, 404, 422))
def refile_source_document(
    source_document_id: DocumentIdPath,
    body: CompartmentChangeIn,
    session: SessionDep,
    actor: Administrator,
    filing: FilingDep,
) -> CompartmentChangeRead:
    """File a source document in a case's compartment or the shared pool (admins; recorded)."""
    case_id = filing.case_for(body.case_id, field=("body", "case_id"))
    change = service.refile_source(
        session,
        source_document_id,
        case_id=case_id,
        reason=body.reason,
        actor=actor,
        reindex=matching_service.index_document,
    )
    return CompartmentChangeRead.model_validate(change)


@router.get("/{source_document_id}/compartment", responses=problems(403, 404, 422))
def list_compartment_changes(
    source_document_id: DocumentIdPath, session: SessionDep, actor: Administrator
) -> list[CompartmentChangeRead]:
    """List a source document's refilings between compartments, oldest first (admins)."""
    service.get_source(session, source_document_id, actor=actor)
    return [
        CompartmentChangeRead.model_validate(c)
        for c in service.compartment_changes(session, source_document_id)
    ]
