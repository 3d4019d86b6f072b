from typing import Annotated

from fastapi import APIRouter, Query

from app.audit import service
from app.audit.schemas import AuditEntryRead, AuditVerification
from app.auth import AuditReader
from app.deps import SessionDep
from app.errors import problems
from app.inputs import MAX_ID, Instant, Text
from app.pagination import Page, PageDep

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("", responses=problems(403, 422))
def list_audit_entries(
    session: SessionDep,
    actor: AuditReader,
    page: PageDep,
    key_id: Annotated[Text | None, Query(max_length=64)] = None,
    operation: Annotated[
        Text | None, Query(max_length=200, description="Route name, e.g. get_case.")
    ] = None,
    resource: Annotated[Text | None, Query(max_length=300, description="e.g. case_id=7")] = None,
    case_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    since: Annotated[Instant | None, Query()] = None,
    until: Annotated[Instant | None, Query()] = None,
) -> Page[AuditEntryRead]:
    """List audit entries, newest first, filtered by key, operation, resource, case or time."""
    rows, next_cursor = service.page_entries(
        session,
        limit=page.limit,
        cursor=page.cursor,
        key_id=key_id,
        operation=operation,
        resource=resource,
        case_id=case_id,
        since=since,
        until=until,
    )
    return Page(items=[AuditEntryRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/verify", responses=problems(403))
def verify_audit_chain(session: SessionDep, actor: AuditReader) -> AuditVerification:
    """Recompute the hash chain and report the first broken link, if any."""
    return AuditVerification.model_validate(service.verify(session))
