"""Cases: opening, status with checked moves, members (who may see a case) and subjects."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from app.account import service as account_service
from app.apikey import service as apikey_service
from app.case.errors import (
    AlreadyAttached,
    CaseNotFound,
    CaseReadOnly,
    CaseReferenceTaken,
    IllegalCaseStatusChange,
    InvalidCase,
    MemberNotFound,
)
from app.case.models import Case, CaseEvent, CaseMember, CaseSubject
from app.case.repository import CASE_EVENTS, CASES, CaseRepository
from app.case.schemas import (
    CaseCreate,
    CaseKind,
    CaseRead,
    CaseRole,
    CaseStatus,
    CaseStatusChange,
    DiscontinuationReason,
    MemberCreate,
    RecoveryBasis,
    SubjectCreate,
)
from app.compartments import EVERY, Compartments, compartments_of
from app.party import service as party_service
from app.preconditions import IfMatch, check_version, flush_or_precondition_failed
from app.principal import Principal

S = CaseStatus
CASE_TRANSITIONS: dict[CaseStatus, tuple[CaseStatus, ...]] = {
    S.OPEN: (S.ACTIVE, S.CLOSED, S.DISCONTINUED),
    S.ACTIVE: (S.SUSPENDED, S.CLOSED, S.DISCONTINUED),
    S.SUSPENDED: (S.ACTIVE, S.CLOSED, S.DISCONTINUED),
    # Reopening: back to active, always with a reason.
    S.CLOSED: (S.ACTIVE,),
    S.DISCONTINUED: (S.ACTIVE,),
}
WRITING_ROLES = frozenset({CaseRole.LEAD, CaseRole.INVESTIGATOR})
# UNCAC 54(1)(c): when the offender cannot be prosecuted by reason of death, flight or absence,
# confiscation may go on without a conviction.
NCB_GROUNDS = frozenset(
    {DiscontinuationReason.DEATH, DiscontinuationReason.FLIGHT, DiscontinuationReason.ABSENCE}
)


def allowed_statuses(status: str) -> list[CaseStatus]:
    return list(CASE_TRANSITIONS[CaseStatus(status)])


def get_case(session: Session, case_id: int, *, actor: Principal) -> Case:
    """The case if the caller may see it; otherwise it does not exist for them."""
    case = CaseRepository(session).get(case_id)
    if case is None or not may_see_case(session, case_id, actor=actor):
        raise CaseNotFound(case_id)
    return case


def may_see_case(session: Session, case_id: int, *, actor: Principal) -> bool:
    """Whether the caller is on the case now, or sees every case."""
    return actor.sees_all_cases or CaseRepository(session).member(case_id, actor.id) is not None


def get_writable_case(session: Session, case_id: int, *, actor: Principal) -> Case:
    case = get_case(session, case_id, actor=actor)
    if not actor.sees_all_cases:
        member = CaseRepository(session).member(case_id, actor.id)
        if member is None or member.role not in WRITING_ROLES:
            raise CaseReadOnly(case_id, member.role if member else "none")
    return case


def writing_compartments(session: Session, case_id: int, *, actor: Principal) -> Compartments:
    """What a write into the case's objects may name of the ledger (`Compartments.within`), for
    a use case that has not the caller's compartments at hand."""
    return compartments_of(session, actor, member_compartments).within(case_id)


def visible_case_ids(session: Session, *, actor: Principal) -> list[int] | None:
    """The ids of the cases the caller is on, or None when they see every case."""
    return None if actor.sees_all_cases else CaseRepository(session).member_case_ids(actor.id)


def member_compartments(session: Session, principal: Principal) -> frozenset[int]:
    """The cases whose compartments the caller may see beyond the shared pool: those they are on,
    and for an ingest key the case it is bound to (`app.compartments.MembershipLookup`)."""
    return frozenset(CaseRepository(session).compartment_case_ids(principal.id))


def cases_of_party(session: Session, party_id: int, *, actor: Principal) -> list[dict[str, object]]:
    """The cases the caller may see in which the party is a subject, with its role in each."""
    visible = visible_case_ids(session, actor=actor)
    return [
        {"case_id": case.id, "reference": case.reference, "title": case.title, "role": s.role}
        for s, case in CaseRepository(session).party_subjects(party_id, visible)
    ]


def cases_by_ids(session: Session, ids: list[int]) -> dict[int, Case]:
    return CaseRepository(session).by_ids(ids)


def open_case(session: Session, data: CaseCreate, *, actor: Principal) -> Case:
    cases = CaseRepository(session)
    if (holder := cases.get_by_reference(data.reference)) is not None:
        # One case per reference, institution-wide: orders, requests for assistance and court
        # filings cite it. Only a caller who may see the holder learns which case it is.
        seen = may_see_case(session, holder.id, actor=actor)
        raise CaseReferenceTaken(data.reference, case_id=holder.id if seen else None)
    is_pfi = data.kind is CaseKind.PARALLEL_FINANCIAL_INVESTIGATION
    if data.parent_case_id is not None:
        if not is_pfi:
            raise InvalidCase(
                "only a parallel financial investigation has a parent case", field="parent_case_id"
            )
        parent = get_case(session, data.parent_case_id, actor=actor)
        if parent.kind != CaseKind.CRIMINAL_INVESTIGATION:
            raise InvalidCase("the parent must be a criminal investigation", field="parent_case_id")
    if data.recovery_basis is not None and not is_pfi:
        raise InvalidCase(
            "only a parallel financial investigation has a recovery basis", field="recovery_basis"
        )
    now = datetime.now(UTC)
    case = cases.add(
        Case(
            reference=data.reference,
            kind=str(data.kind),
            title=data.title,
            jurisdiction=data.jurisdiction,
            predicate_offences=sorted({str(o) for o in data.predicate_offences}),
            lead_agency=data.lead_agency,
            status=str(CaseStatus.OPEN),
            recovery_basis=str(data.recovery_basis or RecoveryBasis.CONVICTION_BASED)
            if is_pfi
            else None,
            parent_case_id=data.parent_case_id,
            opened_on=data.opened_on or now.date(),
            created_by=actor.id,
            created_at=now,
            updated_at=now,
        )
    )
    cases.add_event(CaseEvent(case_id=case.id, to_status=case.status, actor_id=actor.id, at=now))
    # The key that opens a case is its first member, so it keeps seeing what it created.
    cases.add_member(
        CaseMember(case_id=case.id, api_key_id=actor.id, role=str(CaseRole.LEAD), added_at=now)
    )
    session.commit()
    return case


def page_cases(
    session: Session,
    *,
    actor: Principal,
    limit: int,
    cursor: str | None,
    kind: CaseKind | None,
    status: CaseStatus | None,
    parent_case_id: int | None = None,
) -> tuple[list[Case], str | None]:
    return CaseRepository(session).page(
        limit=limit,
        after=CASES.decode(cursor),
        member=None if actor.sees_all_cases else actor.id,
        kind=str(kind) if kind else None,
        status=str(status) if status else None,
        parent_case_id=parent_case_id,
    )


def change_status(
    session: Session,
    case_id: int,
    change: CaseStatusChange,
    *,
    condition: IfMatch,
    actor: Principal,
) -> Case:
    case = get_writable_case(session, case_id, actor=actor)
    check_version(condition, case.version)
    current = CaseStatus(case.status)
    allowed = CASE_TRANSITIONS[current]
    if change.status not in allowed:
        raise IllegalCaseStatusChange(current, change.status, [str(s) for s in allowed])
    reopening = current in (CaseStatus.CLOSED, CaseStatus.DISCONTINUED)
    discontinuing = change.status is CaseStatus.DISCONTINUED
    if (reopening or discontinuing) and not (change.reason or "").strip():
        raise InvalidCase("a reason is required to reopen or discontinue a case", field="reason")
    if discontinuing != (change.discontinuation_reason is not None):
        raise InvalidCase(
            "discontinuation_reason is given with, and only with, the status discontinued",
            field="discontinuation_reason",
        )
    now = datetime.now(UTC)
    closing = change.status in (CaseStatus.CLOSED, CaseStatus.DISCONTINUED)
    case.status = str(change.status)
    case.closed_on = now.date() if closing else None
    case.discontinuation_reason = (
        str(change.discontinuation_reason) if change.discontinuation_reason else None
    )
    case.updated_at = now
    cases = CaseRepository(session)
    cases.add_event(
        CaseEvent(
            case_id=case.id,
            from_status=str(current),
            to_status=case.status,
            reason=change.reason,
            actor_id=actor.id,
            at=now,
        )
    )
    if change.discontinuation_reason in NCB_GROUNDS:
        _continue_children_without_conviction(cases, case, actor=actor, at=now)
    flush_or_precondition_failed(session)
    session.commit()
    return case


def _continue_children_without_conviction(
    cases: CaseRepository, parent: Case, *, actor: Principal, at: datetime
) -> None:
    """The parallel financial investigations of a stopped case go on, non-conviction-based."""
    for child in cases.children(parent.id):
        if child.status in (CaseStatus.CLOSED, CaseStatus.DISCONTINUED):
            continue
        if child.recovery_basis == RecoveryBasis.NON_CONVICTION_BASED:
            continue
        child.recovery_basis = str(RecoveryBasis.NON_CONVICTION_BASED)
        child.updated_at = at
        cases.add_event(
            CaseEvent(
                case_id=child.id,
                from_status=child.status,
                to_status=child.status,
                reason=f"parent case {parent.reference} discontinued "
                f"({parent.discontinuation_reason}): recovery continues non-conviction-based",
                actor_id=actor.id,
                at=at,
            )
        )


def page_events(
    session: Session, case_id: int, *, actor: Principal, limit: int, cursor: str | None
) -> tuple[list[CaseEvent], str | None]:
    get_case(session, case_id, actor=actor)
    after = CASE_EVENTS.decode(cursor)
    return CaseRepository(session).events(case_id, limit=limit, after=after)


def _require_lead(session: Session, case_id: int, actor: Principal) -> Case:
    case = get_writable_case(session, case_id, actor=actor)
    member = CaseRepository(session).member(case_id, actor.id)
    if not actor.sees_all_cases and (member is None or member.role != CaseRole.LEAD):
        raise CaseReadOnly(case_id, member.role if member else "none")
    return case


def list_members(session: Session, case_id: int, *, actor: Principal) -> list[CaseMember]:
    get_case(session, case_id, actor=actor)
    return CaseRepository(session).members(case_id)


def add_member(
    session: Session, case_id: int, data: MemberCreate, *, actor: Principal
) -> CaseMember:
    _require_lead(session, case_id, actor)
    apikey_service.get_key(session, data.api_key_id)
    cases = CaseRepository(session)
    if (member := cases.member(case_id, data.api_key_id)) is not None:
        member.role = str(data.role)
    else:
        member = cases.add_member(
            CaseMember(
                case_id=case_id,
                api_key_id=data.api_key_id,
                role=str(data.role),
                added_by=actor.id,
                added_at=datetime.now(UTC),
            )
        )
    session.commit()
    return member


def remove_member(
    session: Session, case_id: int, api_key_id: str, *, actor: Principal
) -> CaseMember:
    _require_lead(session, case_id, actor)
    cases = CaseRepository(session)
    if (member := cases.member(case_id, api_key_id)) is None:
        raise MemberNotFound(case_id, api_key_id)
    cases.remove_member(member)
    session.commit()
    return member


def attach_subject(
    session: Session,
    case_id: int,
    data: SubjectCreate,
    *,
    actor: Principal,
    compartments: Compartments,
) -> CaseSubject:
    get_writable_case(session, case_id, actor=actor)
    if (data.party is None) == (data.account is None):
        raise InvalidCase("give a party or an account, not both", field="party")
    party_id = account_id = None
    # Only what the caller's compartments hold can be named (issue 19): no probing by key; and
    # only what the case's do, as every member of the case reads its subjects.
    compartments = compartments.within(case_id)
    if data.party is not None:
        party_id = party_service.resolve_party(session, data.party, compartments).id
    else:
        account_id = account_service.resolve_account_id(session, str(data.account), compartments)
    cases = CaseRepository(session)
    for s in cases.subjects([case_id]):
        if (s.party_id, s.account_id, s.role) == (party_id, account_id, str(data.role)):
            raise AlreadyAttached(f"already attached to case {case_id} as {data.role}")
    subject = cases.add_subject(
        CaseSubject(
            case_id=case_id,
            party_id=party_id,
            account_id=account_id,
            role=str(data.role),
            note=data.note,
            added_by=actor.id,
            added_at=datetime.now(UTC),
        )
    )
    session.commit()
    return subject


def subjects_of(session: Session, case_ids: list[int] | None) -> list[CaseSubject]:
    """Subjects of the given cases (None: of every case), in case order."""
    return CaseRepository(session).subjects(case_ids)


def describe_subject(
    session: Session, subject: CaseSubject, compartments: Compartments = EVERY
) -> dict[str, object]:
    """A subject as the caller's compartments tell it: the name of a party or account only as
    a document they may see stated it (a party seen through a holder link is its key)."""
    party = account = None
    name: str | None = None
    if subject.party_id is not None:
        party = party_service.get_party(session, subject.party_id)
        name = party_service.party_details(session, party, compartments)["name"]
    if subject.account_id is not None:
        account = account_service.resolve_account(session, str(subject.account_id))
        name = account_service.visible_name(session, account, compartments)
    return {
        "id": subject.id,
        "case_id": subject.case_id,
        "role": subject.role,
        "note": subject.note,
        "party_id": subject.party_id,
        "party_key": party.key if party else None,
        "account_id": subject.account_id,
        "account_key": account.key if account else None,
        "name": name,
        "added_by": subject.added_by,
        "added_at": subject.added_at,
    }


def list_subjects(
    session: Session, case_id: int, *, actor: Principal, compartments: Compartments = EVERY
) -> list[dict[str, object]]:
    get_case(session, case_id, actor=actor)
    return [describe_subject(session, s, compartments) for s in subjects_of(session, [case_id])]


def recent_events(session: Session, case_id: int, *, limit: int) -> list[CaseEvent]:
    """A case's latest status events, newest first (the caller has checked it may see it)."""
    return CaseRepository(session).recent_events(case_id, limit=limit)


def linked_cases(session: Session, case: Case, *, actor: Principal) -> list[tuple[str, Case]]:
    """The criminal case a PFI runs beside and the PFIs beside a case, those the caller sees."""
    cases = CaseRepository(session)
    linked: list[tuple[str, Case]] = []
    if case.parent_case_id is not None and (parent := cases.get(case.parent_case_id)) is not None:
        linked.append(("parent", parent))
    linked.extend(("parallel_financial_investigation", c) for c in cases.children(case.id))
    return [(relation, c) for relation, c in linked if may_see_case(session, c.id, actor=actor)]


def read_model(case: Case) -> dict[str, Any]:
    """The case as its read schema (`CaseRead`) shows it, with the moves open to it."""
    return {
        **{c: getattr(case, c) for c in CaseRead.model_fields if c != "allowed_statuses"},
        "allowed_statuses": allowed_statuses(case.status),
    }


def case_read(case: Case) -> CaseRead:
    """The case as `CaseRead`, with the moves open to it (see `read_model`)."""
    return CaseRead.model_validate(read_model(case))
