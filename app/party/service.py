from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from app.compartments import EVERY, Compartments
from app.errors import RecordNotFound
from app.party import links
from app.party.models import Party
from app.party.names import search_text
from app.party.repository import PartyRepository
from app.principal import Principal
from app.source import service as source_service

PARTY_FIELDS = ("id", "key", "kind", "name", "country", "identifiers", "source_document_id")


class PartyNotFound(RecordNotFound):
    code, title = "party_not_found", "Party not found"
    noun, key, by = "party", "party_id", "id or key"


def get_party(session: Session, party_id: int) -> Party:
    if (party := PartyRepository(session).get(party_id)) is None:
        raise PartyNotFound(party_id)
    return party


def parties_by_keys(session: Session, keys: Iterable[str]) -> dict[str, Party]:
    return PartyRepository(session).by_keys(keys)


def add_party(session: Session, party: Party) -> Party:
    """Add a party with its name folded for search, in the caller's unit of work."""
    party.search_text = search_text(party.name)
    return PartyRepository(session).add(party)


def resolve_party(session: Session, ref: str, compartments: Compartments = EVERY) -> Party:
    """By numeric id or by the source's key (`person:...`); a party nothing the caller may see
    speaks of does not exist for them."""
    if ref.isascii() and ref.isdigit() and len(ref) < 19:
        party = PartyRepository(session).get(int(ref))
    else:
        party = PartyRepository(session).by_keys([ref]).get(ref)
    if party is None or not visible_party_ids(session, [party.id], compartments):
        raise PartyNotFound(ref)
    return party


def visible_party_ids(session: Session, ids: Iterable[int], compartments: Compartments) -> set[int]:
    """Those of `ids` whose parties exist for the caller."""
    return PartyRepository(session).visible_ids(ids, compartments)


def party_details(session: Session, party: Party, compartments: Compartments) -> dict[str, Any]:
    """The party as the caller may read it: what its creating document stated only when that
    document is visible; otherwise it is known by its key alone (a holder link names it)."""
    read = {c: getattr(party, c) for c in PARTY_FIELDS}
    if source_service.document_visible(session, party.source_document_id, compartments):
        return read
    return {
        **read,
        "name": party.key,
        "country": None,
        "identifiers": {},
        "source_document_id": None,
    }


def known_by_key(party: Party) -> Party:
    """A transient copy of the party with only what a holder link tells of it: its key (as its
    name) and kind, for outputs built from `Party` objects (labels, FtM)."""
    return Party(id=party.id, key=party.key, kind=party.kind, name=party.key, identifiers={})


def party_as_seen(session: Session, party: Party, compartments: Compartments) -> Party:
    """The party, or what a holder link tells of it when its creating document is hidden."""
    if source_service.document_visible(session, party.source_document_id, compartments):
        return party
    return known_by_key(party)


def linked_parties(session: Session, key: str) -> set[str]:
    """The keys of every party a person has linked to `key` ("same as", transitively), `key`
    itself included: the parties to count as one. An unknown key is `PartyNotFound`."""
    party = resolve_party(session, key)
    return links.keys_of(session, links.group_of(session, party.id))


def link_groups(session: Session) -> dict[int, int]:
    """For every linked party id, the lowest id of its group: count a group once by it."""
    return links.groups(session)


def representatives(session: Session, party_ids: Iterable[int]) -> dict[int, int]:
    """Each of `party_ids` with the lowest id of its group (itself when linked to none): what
    counts a group once, read for these parties only."""
    return links.representatives(session, party_ids)


def decide_same_as(
    session: Session,
    refs: tuple[str, str],
    *,
    linked: bool,
    reason: str,
    actor: Principal,
    compartments: Compartments = EVERY,
) -> dict[str, Any]:
    """Record that two parties are one, or undo it (a person's decision, with a reason; the
    link and its undoing both stay on record), among the parties the caller sees."""
    party, counterpart = (resolve_party(session, ref, compartments) for ref in refs)
    links.set_link(session, party, counterpart, linked=linked, reason=reason, actor=actor)
    result = same_as(session, party, compartments)
    session.commit()
    return result


def same_as(session: Session, party: Party, compartments: Compartments = EVERY) -> dict[str, Any]:
    """The party's group and every decision naming it, among the parties the caller sees."""
    group = visible_party_ids(session, links.group_of(session, party.id), compartments)
    decisions = links.decisions(session, party.id)
    if not compartments.every:
        named = parties_by_keys(
            session, {d[side] for d in decisions for side in ("party", "other")}
        )
        seen = visible_party_ids(session, (p.id for p in named.values()), compartments)
        decisions = [d for d in decisions if {named[d["party"]].id, named[d["other"]].id} <= seen]
    return {
        "party": party.key,
        "linked_parties": sorted(links.keys_of(session, group)),
        "decisions": decisions,
    }


# A ledger with at most this many parties is scored whole (every script, every spelling);
# beyond it, the pool is the parties whose names best meet the name's blocking keys in the
# search index (two words alike by spelling, sound or first letters; app.party.names.blocks),
# and those sharing an identity number.
WHOLE_POOL = 5000
POOL_LIMIT = 500


def resembling_parties(session: Session, name: str, numbers: Iterable[str]) -> list[Party]:
    repository = PartyRepository(session)
    if repository.count_up_to(WHOLE_POOL + 1) <= WHOLE_POOL:
        return repository.all(WHOLE_POOL)
    return repository.resembling(name, numbers, POOL_LIMIT)


def parties_by_ids(session: Session, ids: Iterable[int]) -> list[Party]:
    return PartyRepository(session).by_ids(ids)


def link_group_ids(session: Session, party_id: int) -> set[int]:
    """The ids of the parties linked to `party_id`, itself included."""
    return links.group_of(session, party_id)
