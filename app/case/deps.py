"""Route dependencies of the case domain."""

from typing import Annotated

from fastapi import Depends

from app.auth import PrincipalDep
from app.case import service as case_service
from app.deps import SessionDep
from app.inputs import CaseIdPath


def visible_case(case_id: CaseIdPath, session: SessionDep, actor: PrincipalDep) -> int:
    """404 for a case the caller may not see, before the request body or its If-Match is looked
    at: a body error (422) or a missing precondition (428) must not come first, so that to a
    non-member every such request reads alike."""
    return case_service.get_case(session, case_id, actor=actor).id


# Declare after the scope rule (the `actor` parameter): a role without the scope gets 403 first.
VisibleCase = Annotated[int, Depends(visible_case)]
