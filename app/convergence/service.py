"""Convergence: parties and accounts that appear in two or more cases the caller may see."""

from collections import defaultdict
from typing import Any

from sqlalchemy.orm import Session

from app.account import service as account_service
from app.asset import service as asset_service
from app.case import service as case_service
from app.pagination import CursorCodec, Position, page_slice
from app.party import service as party_service
from app.principal import Principal

HOLDING_ROLES = {"party": "asset_owner", "account": "asset_account"}
CONVERGENCE = CursorCodec("convergence", Position)


Shared = list[tuple[tuple[str, int], dict[int, set[str]]]]


def _shared(session: Session, *, actor: Principal) -> Shared:
    """Parties and accounts in two or more visible cases with their roles per case, most
    connected first."""
    visible = case_service.visible_case_ids(session, actor=actor)
    # Parties a person linked as one ("same as") count as one: each stands for its group's
    # lowest id.
    one = party_service.link_groups(session)
    roles: dict[tuple[str, int], dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    for s in case_service.subjects_of(session, visible):
        if s.party_id is not None:
            entity = ("party", one.get(s.party_id, s.party_id))
        else:
            entity = ("account", s.account_id)  # type: ignore[assignment]
        roles[entity][s.case_id].add(s.role)
    # Owning an asset of a case, or holding its balance, ties a party or account to it too.
    for case_id, kind, entity_id in asset_service.holdings_in_cases(session, visible):
        if kind == "party":
            entity_id = one.get(entity_id, entity_id)
        roles[(kind, entity_id)][case_id].add(HOLDING_ROLES[kind])
    shared = sorted(
        ((entity, by_case) for entity, by_case in roles.items() if len(by_case) >= 2),
        key=lambda item: (-len(item[1]), item[0]),
    )
    return shared


def page_convergence(
    session: Session, *, actor: Principal, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Most-connected first; the cursor is a position in that order."""
    shared = _shared(session, actor=actor)
    rows, next_cursor = page_slice(len(shared), CONVERGENCE, limit=limit, cursor=cursor)
    return _describe(session, shared[rows]), next_cursor


def hits_of_case(session: Session, case_id: int, *, actor: Principal) -> list[dict[str, Any]]:
    """The convergence hits that involve one case, each with the other cases the caller sees."""
    return _describe(
        session,
        [(e, by_case) for e, by_case in _shared(session, actor=actor) if case_id in by_case],
    )


def _describe(session: Session, chunk: Shared) -> list[dict[str, Any]]:
    cases = case_service.cases_by_ids(session, [c for _, by_case in chunk for c in by_case])
    items = []
    for (kind, entity_id), by_case in chunk:
        name: str | None
        same_as: list[str] = []
        if kind == "party":
            party = party_service.get_party(session, entity_id)
            key, name = party.key, party.name
            same_as = sorted(party_service.linked_parties(session, key) - {key})
        else:
            account = account_service.resolve_account(session, str(entity_id))
            key, name = account.key, account.name
        items.append(
            {
                "entity": kind,
                "id": entity_id,
                "key": key,
                "name": name,
                "same_as": same_as,
                "cases": [
                    {
                        "case_id": case_id,
                        "reference": cases[case_id].reference,
                        "kind": cases[case_id].kind,
                        "title": cases[case_id].title,
                        "predicate_offences": cases[case_id].predicate_offences,
                        "roles": sorted(by_case[case_id]),
                    }
                    for case_id in sorted(by_case)
                ],
            }
        )
    return items
