"""Entity resolution: which other parties are probably the same person or entity.

Candidates come from a pool (app.party.service.resembling_parties, plus every co-holder of the
party's accounts), are scored by app.resolution.scoring, and are shown only if the caller may
see them: a party named in cases (as a subject or an asset's owner) none of which the caller is
on is left out, so that the list never tells of a case the caller may not know. Parties already
linked to it are not candidates. Nothing is linked here: a person decides (app.party.service).
"""

from collections import defaultdict
from typing import Any

from sqlalchemy.orm import Session

from app.account import service as account_service
from app.asset import service as asset_service
from app.case import service as case_service
from app.compartments import EVERY, Compartments
from app.party import service as party_service
from app.party.models import Party
from app.principal import Principal
from app.resolution.scoring import Profile, compare, fold

# Shown from this score, or with any identity number or shared account whatever the score.
MIN_SCORE = 0.5
STRONG = {"identifier", "shared_account"}


def _profile(session: Session, party: Party, seen: Compartments) -> Profile:
    """What the caller's compartments hold of the party: a party another compartment's document
    brought (seen through a holder link) is compared, and named, by its key alone."""
    accounts = frozenset(
        str(a["key"]) for a in account_service.accounts_of_party(session, party.id, seen)
    )
    told = party_service.party_details(session, party, seen)
    return Profile(party.id, party.key, party.kind, told["name"], told["identifiers"], accounts)


def _named_in(session: Session) -> dict[int, set[int]]:
    """The cases each party is named in (subject or asset owner), over every case."""
    cases: dict[int, set[int]] = defaultdict(set)
    for s in case_service.subjects_of(session, None):
        if s.party_id is not None:
            cases[s.party_id].add(s.case_id)
    for case_id, kind, entity_id in asset_service.holdings_in_cases(session, None):
        if kind == "party":
            cases[entity_id].add(case_id)
    return cases


def _co_holders(session: Session, accounts: frozenset[str]) -> set[int]:
    held = account_service.accounts_by_keys(session, sorted(accounts))
    return {h.party_id for a in held.values() for h in a.holders}


def party_candidates(
    session: Session, ref: str, *, actor: Principal, limit: int, compartments: Compartments = EVERY
) -> dict[str, Any]:
    """Other parties that are probably this one, best first, with score and reasons, among
    the parties the caller's compartments hold."""
    party = party_service.resolve_party(session, ref, compartments)
    me = _profile(session, party, compartments)
    pool = {
        p.id: p for p in party_service.resembling_parties(session, me.name, me.numbers.values())
    }
    if missing := _co_holders(session, me.accounts) - pool.keys():
        pool.update((p.id, p) for p in party_service.parties_by_ids(session, missing))
    visible_pool = party_service.visible_party_ids(session, pool, compartments)
    pool = {i: p for i, p in pool.items() if i in visible_pool}
    linked = party_service.link_group_ids(session, party.id)
    visible = case_service.visible_case_ids(session, actor=actor)
    named_in = _named_in(session) if visible is not None else {}
    seen = set(visible or ())
    found: list[dict[str, Any]] = []
    for other in pool.values():
        if other.id in linked:
            continue
        if other.id in named_in and not named_in[other.id] & seen:
            continue  # named only in cases the caller is not on
        them = _profile(session, other, compartments)
        score, reasons = compare(me, them)
        if score >= MIN_SCORE or any(r["kind"] in STRONG for r in reasons):
            found.append(
                {
                    "party": {"id": other.id, "key": other.key, "name": them.name},
                    "score": score,
                    "reasons": reasons,
                }
            )
    found.sort(key=lambda c: (-c["score"], c["party"]["key"]))
    return {"party": party.key, "folded_name": fold(me.name), "candidates": found[:limit]}
