from typing import Annotated

from fastapi import APIRouter, Query

from app.compartments import LedgerView
from app.errors import problems
from app.inputs import Text
from app.pagination import Page, PageDep
from app.search import service
from app.search.schemas import SearchHit, SearchKind

router = APIRouter(prefix="/api/v1/search", tags=["search"])


@router.get("", responses=problems(403, 422))
def search(
    q: Annotated[
        Text,
        Query(
            min_length=1,
            max_length=200,
            description="Words to find, in any order; names in any script or spelling.",
            examples=["vladimir petrov"],
        ),
    ],
    view: LedgerView,
    page: PageDep,
    kind: Annotated[
        SearchKind,
        Query(
            description="`party` by name; `account` by key, name, institution or holder; "
            "`transaction` by external id and narrative words."
        ),
    ] = SearchKind.PARTY,
) -> Page[SearchHit]:
    """Search parties, accounts or transactions, best match first, among what the caller sees."""
    hits, next_cursor = service.search(
        view.session,
        q,
        kind,
        actor=view.actor,
        limit=page.limit,
        cursor=page.cursor,
        compartments=view.compartments,
    )
    return Page(items=[SearchHit.model_validate(h) for h in hits], next_cursor=next_cursor)
