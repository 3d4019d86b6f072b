from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from app.compartments import EVERY, Compartments
from app.errors import RecordNotFound
from app.inputs import id_in
from app.party import links
from app.party.models import Party, PartyStatement
from app.party.names import search_text
from app.party.repository import PartyRepository
from app.principal import Principal
from app.source import service as source_service
from app.source.statements import known_details, write_on_row

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


STATED = ("kind", "name", "country", "identifiers")


def details_known(
    session: Session, parties: Mapping[str, Party], compartments: Compartments
) -> dict[str, dict[str, Any]]:
    """Of `parties` (by key), those that exist for `compartments`, each with the details their
    documents stated: its row's when its creating document is visible, filled by the visible
    statements (`app.source.statements`)."""
    ids = visible_party_ids(session, (p.id for p in parties.values()), compartments)
    rows = source_service.visible_documents(
        session, (p.source_document_id for p in parties.values()), compartments
    )
    stated = PartyRepository(session).statements(ids, compartments)
    return {
        key: known_details(
            {f: getattr(p, f) for f in STATED} if p.source_document_id in rows else None,
            stated.get(p.id, []),
        )
        for key, p in parties.items()
        if p.id in ids
    }


def state_details(
    session: Session,
    party: Party,
    details: dict[str, Any],
    *,
    document_id: str,
    added: dict[str, Any] | None = None,
) -> None:
    """Record what a document states of a stored party as its statement, in the caller's unit
    of work. With `added` (the document is filed in the compartment of the party's creating
    document), the details it adds are written on the row too, for the search, and recorded
    in the statement's `on_row`, which a refiling of either document takes back."""
    on_row = write_on_row(party, added) if added else None
    PartyRepository(session).add_statement(
        PartyStatement(
            party_id=party.id,
            source_document_id=document_id,
            details=details,
            on_row=on_row or None,
        )
    )


def take_back_details(session: Session, document_id: str) -> None:
    """Before the document is refiled: the details statements wrote on party rows it created,
    or that it wrote on others' rows, taken back off the rows (`app.source.statements`)."""
    PartyRepository(session).take_back(document_id)


def stated_names(
    session: Session, party_ids: Iterable[int], compartments: Compartments
) -> dict[int, str]:
    """The names visible other documents stated of the parties `party_ids`."""
    stated = PartyRepository(session).statements(party_ids, compartments)
    names = {p: known_details(None, told).get("name") for p, told in stated.items()}
    return {p: name for p, name in names.items() if name}


def resolve_party(session: Session, ref: str, compartments: Compartments = EVERY) -> Party:
    """By numeric id or by the source's key (`person:...`); a party nothing the caller may see
    speaks of does not exist for them."""
    if (party_id := id_in(ref)) is not None:
        party = PartyRepository(session).get(party_id)
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
    document is visible, filled by what visible other documents stated
    (`PartyStatement`); otherwise it is known by its key alone (a holder link names it)."""
    seen = parties_as_seen(session, [party], compartments)[party.id]
    return {c: getattr(seen, c) for c in PARTY_FIELDS}


def party_as_seen(session: Session, party: Party, compartments: Compartments) -> Party:
    """The party, or what the caller's documents tell of it when its creating document is
    hidden (see `parties_as_seen`)."""
    return parties_as_seen(session, [party], compartments)[party.id]


def parties_as_seen(
    session: Session, parties: Iterable[Party], compartments: Compartments
) -> dict[int, Party]:
    """Each party by id as the caller's documents tell it: the stored party when its creating
    document is visible and no other document stated details of it; else a transient copy
    with the visible statements' details (by its key alone when there are none)."""
    parties = list(parties)
    visible = source_service.visible_documents(
        session, (p.source_document_id for p in parties), compartments
    )
    stated = PartyRepository(session).statements((p.id for p in parties), compartments)
    seen: dict[int, Party] = {}
    for party in parties:
        shown = party.source_document_id in visible
        if shown and party.id not in stated:
            seen[party.id] = party
            continue
        row = {f: getattr(party, f) for f in STATED} if shown else None
        told = known_details(row, stated.get(party.id, []))
        seen[party.id] = Party(
            id=party.id,
            key=party.key,
            kind=told.get("kind", party.kind),
            name=told.get("name", party.key),
            country=told.get("country"),
            identifiers=told.get("identifiers", {}),
            source_document_id=party.source_document_id if shown else None,
        )
    return seen


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
