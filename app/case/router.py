from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.auth import CaseReader, CaseWriter
from app.case import service
from app.case.deps import VisibleCase
from app.case.schemas import (
    CaseCreate,
    CaseEventRead,
    CaseKind,
    CaseRead,
    CaseStatus,
    CaseStatusChange,
    MemberCreate,
    MemberRead,
    SubjectCreate,
    SubjectRead,
)
from app.compartments import CaseView, CompartmentsDep
from app.deps import SessionDep
from app.errors import problems
from app.inputs import MAX_ID, ApiKeyIdPath, CaseIdPath
from app.pagination import Page, PageDep
from app.preconditions import ExpectedVersion, move_responses, tagged_read, tagged_responses

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])


@router.post("", status_code=201, responses=tagged_responses(403, 404, 409, 422, ok=201))
def create_case(
    body: CaseCreate, response: Response, session: SessionDep, actor: CaseWriter
) -> CaseRead:
    """Open a case; the caller becomes its first member (lead)."""
    return tagged_read(response, service.case_read(service.open_case(session, body, actor=actor)))


@router.get("", responses=problems(403, 422))
def list_cases(
    session: SessionDep,
    actor: CaseReader,
    page: PageDep,
    kind: Annotated[CaseKind | None, Query(description="Only cases of this kind.")] = None,
    status: Annotated[CaseStatus | None, Query(description="Only cases in this status.")] = None,
    parent_case_id: Annotated[
        int | None,
        Query(ge=1, le=MAX_ID, description="Only the financial investigations of this case."),
    ] = None,
) -> Page[CaseRead]:
    """List the cases the caller may see, newest first."""
    rows, next_cursor = service.page_cases(
        session,
        actor=actor,
        limit=page.limit,
        cursor=page.cursor,
        kind=kind,
        status=status,
        parent_case_id=parent_case_id,
    )
    return Page(items=[service.case_read(c) for c in rows], next_cursor=next_cursor)


@router.get("/{case_id}", responses=tagged_responses(403, 404))
def get_case(
    case_id: CaseIdPath, response: Response, session: SessionDep, actor: CaseReader
) -> CaseRead:
    """Get one case with the statuses it may move to; its ETag guards status changes."""
    return tagged_read(response, service.case_read(service.get_case(session, case_id, actor=actor)))


@router.post(
    "/{case_id}/status",
    responses=move_responses(403, 404, 409, 422),
)
def change_case_status(
    case_id: CaseIdPath,
    body: CaseStatusChange,
    expected: ExpectedVersion,
    response: Response,
    session: SessionDep,
    actor: CaseWriter,
    visible: VisibleCase,
) -> CaseRead:
    """Move a case: open → active → suspended/closed/discontinued; reopen with a reason.

    Needs `If-Match` with the case's ETag. Moves: open → active | closed | discontinued;
    active → suspended | closed | discontinued; suspended → active | closed | discontinued;
    closed → active and discontinued → active (reopening, with a reason). Discontinuing a
    criminal case for death, flight or absence lets its parallel financial investigations go on
    non-conviction-based.
    """
    case = service.change_status(session, case_id, body, condition=expected, actor=actor)
    return tagged_read(response, service.case_read(case))


@router.get("/{case_id}/events", responses=problems(403, 404, 422))
def list_case_events(
    case_id: CaseIdPath, session: SessionDep, actor: CaseReader, page: PageDep
) -> Page[CaseEventRead]:
    """List a case's status history, oldest first."""
    found = service.page_events(session, case_id, actor=actor, limit=page.limit, cursor=page.cursor)
    return Page.of(CaseEventRead, found)


@router.get("/{case_id}/members", responses=problems(403, 404))
def list_case_members(
    case_id: CaseIdPath, session: SessionDep, actor: CaseReader
) -> list[MemberRead]:
    """List the API keys that are members of a case, with their case roles."""
    return [
        MemberRead.model_validate(m) for m in service.list_members(session, case_id, actor=actor)
    ]


@router.put("/{case_id}/members", responses=problems(403, 404, 422))
def put_case_member(
    case_id: CaseIdPath,
    body: MemberCreate,
    session: SessionDep,
    actor: CaseWriter,
    visible: VisibleCase,
) -> MemberRead:
    """Add a member to a case or change its role (case leads, admins and supervisors)."""
    return MemberRead.model_validate(service.add_member(session, case_id, body, actor=actor))


@router.delete("/{case_id}/members/{api_key_id}", responses=problems(403, 404))
def delete_case_member(
    case_id: CaseIdPath, api_key_id: ApiKeyIdPath, session: SessionDep, actor: CaseWriter
) -> MemberRead:
    """Remove a member from a case (case leads, admins and supervisors); answers the removed."""
    return MemberRead.model_validate(
        service.remove_member(session, case_id, api_key_id, actor=actor)
    )


@router.post("/{case_id}/subjects", status_code=201, responses=problems(403, 404, 409, 422))
def attach_case_subject(
    case_id: CaseIdPath,
    body: SubjectCreate,
    session: SessionDep,
    actor: CaseWriter,
    visible: VisibleCase,
    compartments: CompartmentsDep,
) -> SubjectRead:
    """Attach a party or an account to a case with a role (suspect, mule, victim ...)."""
    subject = service.attach_subject(session, case_id, body, actor=actor, compartments=compartments)
    return SubjectRead.model_validate(service.describe_subject(session, subject, compartments))


@router.get("/{case_id}/subjects", responses=problems(403, 404))
def list_case_subjects(case_id: CaseIdPath, view: CaseView) -> list[SubjectRead]:
    """List the parties and accounts attached to a case."""
    found = service.list_subjects(
        view.session, case_id, actor=view.actor, compartments=view.compartments
    )
    return [SubjectRead.model_validate(s) for s in found]
