"""Compartments: which source documents' evidence a caller may see (need-to-know).

Every source document is filed in the shared pool (`case_id` NULL: FIU-wide intelligence) or
in one case's compartment. A caller sees the shared pool and the compartments of the cases they
are on; admins and supervisors see every compartment. Membership belongs to the case domain,
which answers it through `MembershipLookup` on `app.state.membership_lookup`, so this shared
module knows no domain.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Protocol

from fastapi import Depends, Request
from sqlalchemy import ColumnElement, SQLColumnExpression, or_, true
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.auth import PrincipalDep, require_scopes
from app.db import reading
from app.deps import SessionDep
from app.principal import Principal, Scope


@dataclass(frozen=True, slots=True)
class Compartments:
    """The compartments one caller may see: the shared pool always, plus `cases`, or every one."""

    every: bool
    cases: frozenset[int] = frozenset()
    # A stable name of the set, for caches keyed by what a caller may see (masks, results):
    # named once, as a masked trace looks its mask up by it on every call.
    key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        key = "all" if self.every else "shared" + "".join(f",{c}" for c in sorted(self.cases))
        object.__setattr__(self, "key", key)

    def admits(self, case_id: int | None) -> bool:
        """Whether a document filed under `case_id` (None: the shared pool) is visible."""
        return self.every or case_id is None or case_id in self.cases

    def documents(self, case_column: SQLColumnExpression[int | None]) -> ColumnElement[bool]:
        """The SQL test of a source document's `case_id` column: true where it is visible."""
        if self.every:
            return true()
        if not self.cases:
            return case_column.is_(None)
        return or_(case_column.is_(None), case_column.in_(sorted(self.cases)))

    def within(self, case_id: int) -> "Compartments":
        """What a write into case `case_id`'s objects may name (docs/compartments.md): what
        every member of the case sees, the shared pool and the case, as far as this caller sees
        it. So a record only another case holds is not found, whoever writes."""
        return Compartments(
            every=False, cases=frozenset({case_id}) if self.admits(case_id) else frozenset()
        )


EVERY = Compartments(every=True)
SHARED_ONLY = Compartments(every=False)


class MembershipLookup(Protocol):
    """The case ids whose compartments the caller may see beyond the shared pool: the cases
    they are members of, and for an ingest key the case it is bound to."""

    def __call__(self, session: Session, principal: Principal) -> frozenset[int]: ...


def compartments_of(
    session: Session, principal: Principal, lookup: MembershipLookup
) -> Compartments:
    if principal.sees_all_cases:
        return EVERY
    return Compartments(every=False, cases=lookup(session, principal))


async def caller_compartments(
    request: Request, session: SessionDep, principal: PrincipalDep
) -> Compartments:
    """The request's caller's compartments, read at the moment of the request (membership
    changes take effect at once).

    Async, and with no query of its own when the key's lookup read the memberships beside the
    key (`Principal.reach`): every ledger read asks for it, and a thread hand-off plus a query
    were a measurable part of a cheap read."""
    if principal.sees_all_cases:
        return EVERY
    if principal.reach is not None:
        return Compartments(every=False, cases=principal.reach.cases)
    lookup: MembershipLookup = request.app.state.membership_lookup

    def read() -> Compartments:
        with reading(session):
            return compartments_of(session, principal, lookup)

    return await run_in_threadpool(read)


CompartmentsDep = Annotated[Compartments, Depends(caller_compartments)]


@dataclass(frozen=True, slots=True)
class View:
    """What a route reading compartmented records works with: the request's session, the
    caller its scope rule let in, and the compartments that caller sees."""

    session: Session
    actor: Principal
    compartments: Compartments


def viewing(*needed: Scope) -> Callable[..., Awaitable[View]]:
    """The dependency building a `View`; it carries the route's one scope rule (`needed`)."""

    # Async: it only bundles what its own dependencies resolved, so no thread hand-off. The
    # scope rule comes before the compartments, as in a route's own signature: 403 first.
    async def view(
        session: SessionDep,
        actor: Annotated[Principal, require_scopes(*needed)],
        compartments: CompartmentsDep,
    ) -> View:
        return View(session, actor, compartments)

    return view


LedgerView = Annotated[View, Depends(viewing(Scope.LEDGER_READ))]
CaseView = Annotated[View, Depends(viewing(Scope.CASES_READ))]
SourceView = Annotated[View, Depends(viewing(Scope.SOURCES_READ))]
# A judgement on records (`app.auth.RecordJudge`) names only records its judge sees.
JudgeView = Annotated[View, Depends(viewing(Scope.LEDGER_WRITE, Scope.CASES_WRITE))]
