from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.party.models import Party


class PartyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, party_id: int) -> Party | None:
        return self.session.get(Party, party_id)

    def by_keys(self, keys: Iterable[str]) -> dict[str, Party]:
        wanted = sorted(set(keys))
        found: dict[str, Party] = {}
        for start in range(0, len(wanted), 500):
            stmt = select(Party).where(Party.key.in_(wanted[start : start + 500]))
            found.update((p.key, p) for p in self.session.scalars(stmt))
        return found

    def add(self, party: Party) -> Party:
        self.session.add(party)
        return party
