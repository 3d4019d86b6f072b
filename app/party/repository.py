from collections.abc import Iterable

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session

from app.compartments import Compartments
from app.party.models import Party, PartyLinkEvent, visible_parties


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


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

    def by_ids(self, ids: Iterable[int]) -> list[Party]:
        wanted = sorted(set(ids))
        found: list[Party] = []
        for start in range(0, len(wanted), 500):
            stmt = select(Party).where(Party.id.in_(wanted[start : start + 500]))
            found.extend(self.session.scalars(stmt))
        return sorted(found, key=lambda p: p.id)

    def visible_ids(self, ids: Iterable[int], compartments: Compartments) -> set[int]:
        """Those of `ids` whose parties exist for the caller (`visible_parties`)."""
        wanted = sorted(set(ids))
        if compartments.every:
            return set(wanted)
        found: set[int] = set()
        for start in range(0, len(wanted), 500):
            stmt = select(Party.id).where(
                Party.id.in_(wanted[start : start + 500]), visible_parties(compartments)
            )
            found.update(self.session.scalars(stmt))
        return found

    def count(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(Party)) or 0)

    def all(self, limit: int) -> list[Party]:
        return list(self.session.scalars(select(Party).order_by(Party.id).limit(limit)))

    def resembling(self, words: Iterable[str], numbers: Iterable[str], limit: int) -> list[Party]:
        """Parties whose name holds one of `words` (lower case) or whose identifiers hold one
        of `numbers`: the pool that candidates are scored in."""
        found = [func.lower(Party.name).like(f"%{_escaped(w)}%", escape="\\") for w in words] + [
            cast(Party.identifiers, String).like(f"%{_escaped(n)}%", escape="\\") for n in numbers
        ]
        if not found:
            return []
        stmt = select(Party).where(or_(*found)).order_by(Party.id).limit(limit)
        return list(self.session.scalars(stmt))

    def add(self, party: Party) -> Party:
        self.session.add(party)
        return party


class PartyLinkRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def current_links(self) -> list[tuple[int, int]]:
        """Pairs (lower id first) whose newest event links them."""
        state: dict[tuple[int, int], bool] = {}
        stmt = select(
            PartyLinkEvent.party_id, PartyLinkEvent.other_party_id, PartyLinkEvent.linked
        ).order_by(PartyLinkEvent.id)
        for a, b, linked in self.session.execute(stmt):
            state[(a, b)] = linked
        return sorted(pair for pair, linked in state.items() if linked)

    def events_of(self, party_id: int) -> list[PartyLinkEvent]:
        stmt = (
            select(PartyLinkEvent)
            .where(
                (PartyLinkEvent.party_id == party_id) | (PartyLinkEvent.other_party_id == party_id)
            )
            .order_by(PartyLinkEvent.id)
        )
        return list(self.session.scalars(stmt))

    def add(self, event: PartyLinkEvent) -> None:
        self.session.add(event)
        self.session.flush()
