from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.compartments import JudgeView, LedgerView, View
from app.errors import problems
from app.pagination import Page, PageDep
from app.transaction import duplicate_service
from app.transaction.schemas import DuplicateDecision, DuplicateRead, DuplicateState

router = APIRouter(prefix="/api/v1/duplicates", tags=["duplicates"])
DuplicateIdPath = Annotated[int, Path(ge=1, lt=2**63, description="The match's id.")]


@router.get("", responses=problems(403, 422))
def list_duplicates(
    view: LedgerView,
    page: PageDep,
    state: Annotated[
        DuplicateState | None, Query(description="Only matches in this state (default: all).")
    ] = None,
) -> Page[DuplicateRead]:
    """List transactions reported by two source documents, in the order they were found."""
    return Page.of(
        DuplicateRead,
        duplicate_service.page_duplicates(
            view.session,
            state=state,
            limit=page.limit,
            cursor=page.cursor,
            compartments=view.compartments,
        ),
    )


@router.post("/{duplicate_id}/confirm", responses=problems(403, 404, 409, 422))
def confirm_duplicate(
    duplicate_id: DuplicateIdPath, body: DuplicateDecision, judge: JudgeView
) -> DuplicateRead:
    """Confirm a probable duplicate: tracing counts the transfer once; both records stay."""
    return _decided(judge, duplicate_id, body.reason, confirm=True)


@router.post("/{duplicate_id}/reject", responses=problems(403, 404, 409, 422))
def reject_duplicate(
    duplicate_id: DuplicateIdPath, body: DuplicateDecision, judge: JudgeView
) -> DuplicateRead:
    """Reject a probable duplicate: two transfers that only look alike; both stay traced."""
    return _decided(judge, duplicate_id, body.reason, confirm=False)


def _decided(judge: View, match_id: int, reason: str, *, confirm: bool) -> DuplicateRead:
    match = duplicate_service.decide_duplicate(
        judge.session,
        match_id,
        confirm=confirm,
        reason=reason,
        actor=judge.actor,
        compartments=judge.compartments,
    )
    return DuplicateRead.model_validate(match)
