"""People's decisions that two parties are one person or entity ("same as"), and their undoing.

Nothing merges by itself: a link is made by a person with a reason, and undone the same way;
each decision is an appended event, the newest of a pair being its state. Links are
transitive: parties joined through others form one group, which convergence, the case
overview and search count as one.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from app.db import in_chunks
from app.errors import Conflict, InvalidInput
from app.party.models import Party, PartyLinkEvent
from app.party.repository import PartyLinkRepository, PartyRepository
from app.principal import Principal


class SameParty(InvalidInput):
    code, title = "same_party", "Same party"

    def __init__(self, key: str) -> None:
        super().__init__(f"{key} cannot be linked to itself", field="other")


class LinkUnchanged(Conflict):
    code, title = "link_unchanged", "Link unchanged"

    def __init__(self, a: Party, b: Party, *, linked: bool) -> None:
        state = "already linked" if linked else "not linked"
        super().__init__(f"{a.key} and {b.key} are {state}", party=a.key, other=b.key)


def _components(neighbours: dict[int, set[int]], starts: Iterable[int]) -> dict[int, set[int]]:
    """The connected group of each of `starts` (and of every member met), itself included."""
    found: dict[int, set[int]] = {}
    for start in starts:
        if start in found:
            continue
        members, frontier = {start}, [start]
        while frontier:
            for n in neighbours.get(frontier.pop(), set()) - members:
                members.add(n)
                frontier.append(n)
        found.update((m, members) for m in members)
    return found


def _add(neighbours: dict[int, set[int]], pairs: Iterable[tuple[int, int]]) -> set[int]:
    met: set[int] = set()
    for a, b in pairs:
        neighbours[a].add(b)
        neighbours[b].add(a)
        met |= {a, b}
    return met


def groups(session: Session) -> dict[int, int]:
    """For every linked party, the lowest id of its group (a party in no link is absent)."""
    neighbours: dict[int, set[int]] = defaultdict(set)
    _add(neighbours, PartyLinkRepository(session).current_links())
    return {p: min(group) for p, group in _components(neighbours, sorted(neighbours)).items()}


def groups_of(session: Session, party_ids: Iterable[int]) -> dict[int, set[int]]:
    """The group of each of `party_ids` (itself included), found by walking the links out from
    them: the reads are bounded by the groups asked about, not by every link on record."""
    wanted = list(party_ids)
    neighbours: dict[int, set[int]] = defaultdict(set)
    seen: set[int] = set()
    frontier = set(wanted)
    repository = PartyLinkRepository(session)
    while frontier:
        seen |= frontier
        met: set[int] = set()
        for chunk in in_chunks(frontier):
            met |= _add(neighbours, repository.current_links(chunk))
        frontier = met - seen
    found = _components(neighbours, wanted)
    return {p: found[p] for p in wanted}


def representatives(session: Session, party_ids: Iterable[int]) -> dict[int, int]:
    """Each of `party_ids` with the lowest id of its group (itself when it is in no link)."""
    return {p: min(group) for p, group in groups_of(session, list(party_ids)).items()}


def group_of(session: Session, party_id: int) -> set[int]:
    """The ids of the parties linked to `party_id`, itself included."""
    return groups_of(session, [party_id])[party_id]


def set_link(
    session: Session, party: Party, other: Party, *, linked: bool, reason: str, actor: Principal
) -> PartyLinkEvent:
    if party.id == other.id:
        raise SameParty(party.key)
    a, b = sorted((party.id, other.id))
    events = [e for e in PartyLinkRepository(session).events_of(a) if e.other_party_id == b]
    if (events[-1].linked if events else False) == linked:
        raise LinkUnchanged(party, other, linked=linked)
    event = PartyLinkEvent(
        party_id=a,
        other_party_id=b,
        linked=linked,
        reason=reason,
        actor_id=actor.id,
        at=datetime.now(UTC),
    )
    PartyLinkRepository(session).add(event)
    return event


def decisions(session: Session, party_id: int) -> list[dict[str, Any]]:
    """Every link or unlink decision naming the party, oldest first."""
    events = PartyLinkRepository(session).events_of(party_id)
    others = {e.party_id for e in events} | {e.other_party_id for e in events}
    keys = {p.id: p.key for p in PartyRepository(session).by_ids(others)}
    return [
        {
            "party": keys[e.party_id],
            "other": keys[e.other_party_id],
            "linked": e.linked,
            "reason": e.reason,
            "actor_id": e.actor_id,
            "at": e.at,
        }
        for e in events
    ]


def keys_of(session: Session, party_ids: Iterable[int]) -> set[str]:
    return {p.key for p in PartyRepository(session).by_ids(party_ids)}
