"""The refiling of source documents between compartments (admins only, each change recorded).

Its own package because a refiling touches several domains in one commit: the document's filing
(source), its keyed digests for blind convergence (matching), which reads the sources, and the
details its statements wrote on account and party rows, taken back off them (account).
"""

from fastapi import APIRouter

from app.account import service as account_service
from app.auth import Administrator
from app.deps import SessionDep
from app.errors import problems
from app.filing import FilingDep
from app.inputs import DocumentIdPath
from app.matching import service as matching_service
from app.source import service as source_service
from app.source.schemas import CompartmentChangeIn, CompartmentChangeRead
from app.trace import service as trace_service
from app.transaction import service as transaction_service

router = APIRouter(prefix="/api/v1/sources", tags=["sources"])


@router.post("/{source_document_id}/compartment", responses=problems(403, 404, 409, 422))
def refile_source_document(
    source_document_id: DocumentIdPath,
    body: CompartmentChangeIn,
    session: SessionDep,
    actor: Administrator,
    filing: FilingDep,
) -> CompartmentChangeRead:
    """File a source document in a case's compartment or the shared pool (admins; recorded)."""
    case_id = filing.case_for(body.case_id, field=("body", "case_id"))
    change = source_service.refile_source(
        session,
        source_document_id,
        case_id=case_id,
        reason=body.reason,
        actor=actor,
        reindex=matching_service.index_document,
        restrict_traces=trace_service.file_traces_in_case,
        rename_rows=transaction_service.refile_engine_ids,
        take_back=account_service.take_back_details,
    )
    return CompartmentChangeRead.model_validate(change)


@router.get("/{source_document_id}/compartment", responses=problems(403, 404, 422))
def list_compartment_changes(
    source_document_id: DocumentIdPath, session: SessionDep, actor: Administrator
) -> list[CompartmentChangeRead]:
    """List a source document's refilings between compartments, oldest first (admins)."""
    source_service.get_source(session, source_document_id, actor=actor)
    return [
        CompartmentChangeRead.model_validate(c)
        for c in source_service.compartment_changes(session, source_document_id)
    ]
