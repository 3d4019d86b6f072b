from typing import Annotated

from fastapi import APIRouter, Query

from app.audit import service
from app.audit.schemas import AuditEntryRead, AuditVerification
from app.auth import AuditReader
from app.deps import SessionDep
from app.errors import problems
from app.inputs import IsoDatetime
from app.pagination import Page, PageDep

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("", responses=problems(403, 422))
def list_audit_entries(
    session: SessionDep,
    actor: AuditReader,
    page: PageDep,
    key_id: Annotated[str | None, Query()] = None,
    operation: Annotated[str | None, Query(description="Route name, e.g. get_case.")] = None,
    resource: Annotated[str | None, Query(description="e.g. case_id=7")] = None,
    case_id: Annotated[int | None, Query()] = None,
    since: Annotated[IsoDatetime | None, Query()] = None,
    until: Annotated[IsoDatetime | None, Query()] = None,
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
