from collections.abc import Iterable

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.apikey.models import KeyCompartment
from app.case.models import Case, CaseEvent, CaseMember, CaseSubject
from app.db import by_key
from app.pagination import CursorCodec, IdKey, Keyset, page

CASES = CursorCodec("cases", IdKey)
CASE_EVENTS = CursorCodec("case_events", IdKey)
CASES_NEWEST_FIRST: Keyset[IdKey, Case] = Keyset(
    CASES, (Case.id,), lambda case: IdKey(case.id), descending=True
)
EVENTS_IN_ORDER: Keyset[IdKey, CaseEvent] = Keyset(
    CASE_EVENTS, (CaseEvent.id,), lambda event: IdKey(event.id)
)


class CaseRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, case_id: int) -> Case | None:
        return self.session.get(Case, case_id)

    def get_by_reference(self, reference: str) -> Case | None:
        return self.session.scalar(select(Case).where(Case.reference == reference))

    def by_ids(self, ids: Iterable[int]) -> dict[int, Case]:
        return by_key(self.session, Case, Case.id, ids)

    def children(self, parent_id: int) -> list[Case]:
        stmt = select(Case).where(Case.parent_case_id == parent_id).order_by(Case.id)
        return list(self.session.scalars(stmt))

    def add(self, case: Case) -> Case:
        self.session.add(case)
        self.session.flush()
        return case

    def add_event(self, event: CaseEvent) -> None:
        self.session.add(event)

    def page(
        self,
        *,
        limit: int,
        after: IdKey | None,
        member: str | None,
        kind: str | None,
        status: str | None,
        parent_case_id: int | None = None,
    ) -> tuple[list[Case], str | None]:
        stmt = select(Case)
        if member is not None:
            stmt = stmt.where(Case.id.in_(self._member_case_ids(member)))
        if kind is not None:
            stmt = stmt.where(Case.kind == kind)
        if status is not None:
            stmt = stmt.where(Case.status == status)
        if parent_case_id is not None:
            stmt = stmt.where(Case.parent_case_id == parent_case_id)
        return page(self.session, stmt, CASES_NEWEST_FIRST, limit=limit, after=after)

    def events(
        self, case_id: int, *, limit: int, after: IdKey | None
    ) -> tuple[list[CaseEvent], str | None]:
        stmt = select(CaseEvent).where(CaseEvent.case_id == case_id)
        return page(self.session, stmt, EVENTS_IN_ORDER, limit=limit, after=after)

    def recent_events(self, case_id: int, *, limit: int) -> list[CaseEvent]:
        stmt = select(CaseEvent).where(CaseEvent.case_id == case_id)
        return list(self.session.scalars(stmt.order_by(CaseEvent.id.desc()).limit(limit)))

    def _member_case_ids(self, api_key_id: str) -> Select[int]:
        return select(CaseMember.case_id).where(CaseMember.api_key_id == api_key_id)

    def member_case_ids(self, api_key_id: str) -> list[int]:
        return list(self.session.scalars(self._member_case_ids(api_key_id)))

    def compartment_case_ids(self, api_key_id: str) -> list[int]:
        bound = select(KeyCompartment.case_id).where(KeyCompartment.api_key_id == api_key_id)
        return list(self.session.scalars(self._member_case_ids(api_key_id).union(bound)))

    def bound_case(self, api_key_id: str) -> int | None:
        """The case an ingest key is bound to (its loads are filed there), if any."""
        return self.session.scalar(
            select(KeyCompartment.case_id).where(KeyCompartment.api_key_id == api_key_id)
        )

    def member(self, case_id: int, api_key_id: str) -> CaseMember | None:
        return self.session.get(CaseMember, (case_id, api_key_id))

    def members(self, case_id: int) -> list[CaseMember]:
        stmt = select(CaseMember).where(CaseMember.case_id == case_id)
        return list(self.session.scalars(stmt.order_by(CaseMember.added_at, CaseMember.api_key_id)))

    def add_member(self, member: CaseMember) -> CaseMember:
        self.session.add(member)
        self.session.flush()
        return member

    def remove_member(self, member: CaseMember) -> None:
        self.session.delete(member)

    def subjects(self, case_ids: Iterable[int] | None) -> list[CaseSubject]:
        stmt = select(CaseSubject).order_by(CaseSubject.case_id, CaseSubject.id)
        if case_ids is not None:
            stmt = stmt.where(CaseSubject.case_id.in_(list(case_ids)))
        return list(self.session.scalars(stmt))

    def party_subjects(
        self, party_id: int, case_ids: Iterable[int] | None
    ) -> list[tuple[CaseSubject, Case]]:
        stmt = (
            select(CaseSubject, Case)
            .join(Case, Case.id == CaseSubject.case_id)
            .where(CaseSubject.party_id == party_id)
            .order_by(Case.id, CaseSubject.id)
        )
        if case_ids is not None:
            stmt = stmt.where(CaseSubject.case_id.in_(list(case_ids)))
        return [(subject, case) for subject, case in self.session.execute(stmt)]

    def add_subject(self, subject: CaseSubject) -> CaseSubject:
        self.session.add(subject)
        self.session.flush()
        return subject
