"""Who may file evidence in a case's compartment (`app.filing.FilingCheck`)."""

from sqlalchemy.orm import Session

from app.case.errors import CaseNotBoundToKey
from app.case.repository import CaseRepository
from app.case.service import get_writable_case
from app.principal import Principal


def filing_case(
    session: Session, principal: Principal, requested: int | None, *, field: list[str | int]
) -> int | None:
    """The case a load goes into: the key's bound case, else the one named if the caller may
    write on it (404 when they may not see it, 403 when they only read it), else None (the
    shared pool)."""
    reach = principal.reach
    bound = reach.bound if reach is not None else CaseRepository(session).bound_case(principal.id)
    if bound is not None:
        if requested is not None and requested != bound:
            raise CaseNotBoundToKey(requested, bound, field)
        return bound
    if requested is None:
        return None
    return get_writable_case(session, requested, actor=principal).id
