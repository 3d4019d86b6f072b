"""Convergence: the parties and accounts that tie two or more of the caller's cases together.

Its own package: it reads cases, assets, parties and accounts, and none of them reads it.
"""

from fastapi import APIRouter

from app.auth import CaseReader
from app.case.schemas import ConvergenceRead
from app.convergence import service as convergence
from app.deps import SessionDep
from app.errors import problems
from app.pagination import Page, PageDep

router = APIRouter(prefix="/api/v1/convergence", tags=["convergence"])


@router.get("", responses=problems(403, 422))
def list_convergence(
    session: SessionDep, actor: CaseReader, page: PageDep
) -> Page[ConvergenceRead]:
    """List parties and accounts attached to two or more of the caller's cases.

    Each comes with those cases, their predicate offences and the roles it plays in them (as a
    subject, an asset owner, or the account of a bank balance): the links between seemingly
    unrelated crimes. Most-connected first.
    """
    items, next_cursor = convergence.page_convergence(
        session, actor=actor, limit=page.limit, cursor=page.cursor
    )
    return Page(items=[ConvergenceRead.model_validate(i) for i in items], next_cursor=next_cursor)
