"""The deadline list: every kind of deadline of the caller's cases in one order.

Its own package because it reads measures and sales, and neither reads it.
"""

from fastapi import APIRouter

from app.auth import CaseReader
from app.deadline import service
from app.deadline.schemas import Deadline
from app.deps import SessionDep
from app.errors import problems
from app.pagination import DuePageDep, Page

router = APIRouter(prefix="/api/v1", tags=["deadlines"])


@router.get("/deadlines", responses=problems(403, 422))
def list_deadlines(
    session: SessionDep,
    actor: CaseReader,
    due: DuePageDep,
) -> Page[Deadline]:
    """List the deadlines of the caller's cases due soon (or passed), soonest first.

    Two kinds, told apart by `kind` and ordered together by `due_at`: `measure_expiry`, a
    measure lapsing (or lapsed and not yet swept), and `sale_due`, an interlocutory sale order
    not yet carried out whose asset is still frozen or seized (or late). At one instant a
    measure comes first.
    """
    items, next_cursor = service.page_deadlines(session, actor=actor, due=due)
    return Page(items=items, next_cursor=next_cursor)
