"""Convergence: parties and accounts that appear in two or more cases the caller may see, and
blind matches: keys of the caller's cases that a case they cannot see holds too.

Two sources tie a party or account to a case: the case's own records (subjects, assets) and the
documents filed in its compartment, matched on keyed digests (`app.matching`). A match with a
compartment the caller cannot see is told as blind: the caller's key and what matched, nothing
of the other side.
"""

from collections import defaultdict
from typing import Any

from sqlalchemy.orm import Session

from app.account import service as account_service
from app.apikey import service as apikey_service
from app.asset import service as asset_service
from app.case import service as case_service
from app.case.schemas import CaseRole
from app.compartments import Compartments
from app.matching import service as matching
from app.pagination import CursorCodec, Position, page_slice
from app.party import service as party_service
from app.principal import Principal

HOLDING_ROLES = {"party": "asset_owner", "account": "asset_account"}
# A key that a document filed in the case's compartment holds.
IN_EVIDENCE = "in_evidence"
CONVERGENCE = CursorCodec("convergence", Position)


Shared = list[tuple[tuple[str, int], dict[int, set[str]]]]


def _shared(
    session: Session, *, actor: Principal, found: list[matching.Match] | None = None
) -> Shared:
    """Parties and accounts in two or more visible cases with their roles per case, most
    connected first; `found`: the document matches, whose visible cases count too."""
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
    for match in found or []:
        for kind, entity_id in match.entities:
            if kind == "party":
                entity_id = one.get(entity_id, entity_id)
            for case_id in match.cases:
                roles[(kind, entity_id)][case_id].add(IN_EVIDENCE)
    shared = sorted(
        ((entity, by_case) for entity, by_case in roles.items() if len(by_case) >= 2),
        key=lambda item: (-len(item[1]), item[0]),
    )
    return shared


def page_convergence(
    session: Session,
    *,
    actor: Principal,
    compartments: Compartments,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Visible matches most-connected first, then blind ones by key; the cursor is a position
    in that order."""
    found = matching.matches(session, compartments)
    shared = _shared(session, actor=actor, found=found)
    blind = [m for m in found if m.blind]
    rows, next_cursor = page_slice(
        len(shared) + len(blind), CONVERGENCE, limit=limit, cursor=cursor
    )
    start, stop = rows.indices(len(shared) + len(blind))[:2]
    items = _describe(session, shared[start:stop], compartments)
    # The page's part past the visible matches, if any (a negative bound would count from the end).
    past = slice(max(start - len(shared), 0), max(stop - len(shared), 0))
    items += _describe_blind(session, blind[past], compartments)
    return items, next_cursor


def _describe_blind(
    session: Session, chunk: list[matching.Match], compartments: Compartments
) -> list[dict[str, Any]]:
    """The caller's side of each blind match, and the contacts the other side chose to give."""
    replies: dict[str, list[dict[str, Any]]] = {}
    cases = {c for m in chunk for c in m.cases}
    for reply in matching.replies_to(session, cases, [m.digest for m in chunk]):
        replies.setdefault(reply.digest, []).append(_contact(session, reply))
    items = []
    for match in chunk:
        kind, entity_id = min(match.entities)
        found = [((kind, entity_id), {c: {IN_EVIDENCE} for c in match.cases})]
        (item,) = _describe(session, found, compartments)
        contacts = {c["api_key_id"]: c for c in replies.get(match.digest, [])}
        item |= {
            # The account's or party's record may hold what another compartment's documents
            # told (a name, same-as links): of the caller's side only the key is certain.
            "name": None,
            "same_as": [],
            "blind": True,
            "matched_on": match.kind,
            "matched_key": match.key,
            "contacts": [contacts[k] for k in sorted(contacts)],
        }
        items.append(item)
    return items


def _contact(session: Session, decided: Any) -> dict[str, Any]:
    lead = apikey_service.get_key(session, decided.decided_by)
    return {"api_key_id": lead.id, "name": lead.name, "note": decided.note}


def led_cases(session: Session, *, actor: Principal) -> list[int]:
    """The cases the caller is the lead of: whose notifications are theirs."""
    return [
        case_id
        for case_id in sorted(case_service.member_compartments(session, actor))
        if any(
            m.api_key_id == actor.id and m.role == CaseRole.LEAD
            for m in case_service.list_members(session, case_id, actor=actor)
        )
    ]


def page_notifications(
    session: Session, *, actor: Principal, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    led = led_cases(session, actor=actor)
    found, next_cursor = matching.page_notifications(session, led, limit=limit, cursor=cursor)
    return [_notification(session, n) for n in found], next_cursor


def decide_notification(
    session: Session, notification_id: int, *, decision: str, note: str | None, actor: Principal
) -> dict[str, Any]:
    notification = matching.decide(
        session,
        notification_id,
        case_ids=led_cases(session, actor=actor),
        decision=decision,
        note=note,
        actor_id=actor.id,
    )
    return _notification(session, notification)


def _notification(session: Session, n: Any) -> dict[str, Any]:
    cases = case_service.cases_by_ids(session, [n.case_id, n.other_case_id])
    reply = matching.reply_to(session, n)
    return {
        "id": n.id,
        "case": {"case_id": n.case_id, "reference": cases[n.case_id].reference},
        "other_case": {"case_id": n.other_case_id, "reference": cases[n.other_case_id].reference},
        "matched_on": n.kind,
        "matched_key": matching.key_in_case(session, n.case_id, n.kind, n.digest),
        "created_at": n.created_at,
        "decision": n.decision,
        "note": n.note,
        "decided_at": n.decided_at,
        "reply": _contact(session, reply) if reply is not None else None,
    }


def hits_of_case(
    session: Session, case_id: int, *, actor: Principal, compartments: Compartments
) -> list[dict[str, Any]]:
    """The convergence hits that involve one case, each with the other cases the caller sees."""
    return _describe(
        session,
        [(e, by_case) for e, by_case in _shared(session, actor=actor) if case_id in by_case],
        compartments,
    )


def _describe(session: Session, chunk: Shared, compartments: Compartments) -> list[dict[str, Any]]:
    """Each party or account with its cases; its name and links only as the caller's
    compartments tell them (an account seen in two compartments shows each caller its own)."""
    cases = case_service.cases_by_ids(session, [c for _, by_case in chunk for c in by_case])
    items = []
    for (kind, entity_id), by_case in chunk:
        name: str | None
        same_as: list[str] = []
        if kind == "party":
            party = party_service.get_party(session, entity_id)
            key = party.key
            name = party_service.party_details(session, party, compartments)["name"]
            linked = party_service.same_as(session, party, compartments)["linked_parties"]
            same_as = sorted(set(linked) - {key})
        else:
            account = account_service.resolve_account(session, str(entity_id))
            key, name = account.key, account_service.visible_name(session, account, compartments)
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
