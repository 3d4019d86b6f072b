from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from app.audit import checkpoints, service
from app.audit.schemas import HEX64, AuditCheckpointRead, AuditEntryRead, AuditVerification
from app.audit.signing import Signer
from app.auth import AuditReader
from app.deps import SessionDep
from app.errors import InvalidInput, problems
from app.inputs import MAX_ID, Instant, Text
from app.pagination import Page, PageDep

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("", responses=problems(403, 422))
async def list_audit_entries(
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

    # Async, its reads in one worker thread: FastAPI validates a sync route's answer in a
    # second worker-thread round trip (issue 23).
    def read() -> Page[AuditEntryRead]:
        return Page.of(
            AuditEntryRead,
            service.page_entries(
                session,
                limit=page.limit,
                cursor=page.cursor,
                key_id=key_id,
                operation=operation,
                resource=resource,
                case_id=case_id,
                since=since,
                until=until,
            ),
        )

    return await run_in_threadpool(read)


@router.get("/checkpoints", responses=problems(403, 422))
def list_audit_checkpoints(
    session: SessionDep, actor: AuditReader, page: PageDep
) -> Page[AuditCheckpointRead]:
    """List the signed checkpoints of the audit chain, newest first; each names its key."""
    return Page.of(
        AuditCheckpointRead, service.page_checkpoints(session, limit=page.limit, cursor=page.cursor)
    )


def _signer(request: Request) -> Signer:
    signer = request.app.state.audit_signer
    assert isinstance(signer, Signer)
    return signer


@router.get("/verify", responses=problems(403, 422))
def verify_audit_chain(
    request: Request,
    session: SessionDep,
    actor: AuditReader,
    entries: Annotated[
        int | None, Query(ge=1, description="The length of a checkpoint you kept.")
    ] = None,
    head_hash: Annotated[
        str | None, Query(pattern=HEX64, description="The head hash of that checkpoint.")
    ] = None,
) -> AuditVerification:
    """Recompute the hash chain and hold it to every stored checkpoint (and to one you kept).

    A chain that lost entries at its end, or was rewritten with recomputed hashes, still links
    up; it no longer matches a checkpoint signed before the change.
    """
    if (entries is None) != (head_hash is None):
        raise InvalidInput("give entries and head_hash together", field="head_hash")
    kept = [checkpoints.kept_claim(entries, head_hash)] if entries and head_hash else []
    result = service.verify(session, signer=_signer(request), kept=kept)
    return AuditVerification.model_validate(result)
