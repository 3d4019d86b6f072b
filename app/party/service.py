from collections.abc import Iterable

from sqlalchemy.orm import Session

from app.errors import NotFound
from app.party.models import Party
from app.party.names import search_text
from app.party.repository import PartyRepository


class PartyNotFound(NotFound):
    code, title = "party_not_found", "Party not found"

    def __init__(self, party_id: int | str) -> None:
        super().__init__(f"no party with id or key {party_id}", party_id=party_id)


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


def resolve_party(session: Session, ref: str) -> Party:
    """By numeric id or by the source's key (`person:...`)."""
    if ref.isascii() and ref.isdigit() and len(ref) < 19:
        return get_party(session, int(ref))
    if (party := PartyRepository(session).by_keys([ref]).get(ref)) is None:
        raise PartyNotFound(ref)
    return party
