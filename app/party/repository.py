from collections.abc import Iterable
from typing import Any

from sqlalchemy import String, cast, func, or_, select, text
from sqlalchemy.orm import Session

from app.compartments import EVERY, Compartments
from app.db import by_key, in_chunks
from app.party.models import Party, PartyLinkEvent, PartyStatement, visible_parties
from app.party.names import blocks
from app.source.statements import stated, take_back

Keys = tuple[str, str | None, str | None]
# The search index of party names (migration 2026-12-07-1230), its best matches first.
_BLOCKED = {
    "sqlite": "SELECT rowid FROM search_parties WHERE search_parties MATCH :q"
    " ORDER BY bm25(search_parties) LIMIT {limit}",
    "postgresql": "SELECT id FROM parties"
    " WHERE to_tsvector('simple', coalesce(search_text, '')) @@ to_tsquery('simple', :q)"
    " ORDER BY ts_rank(to_tsvector('simple', coalesce(search_text, '')),"
    " to_tsquery('simple', :q)) DESC, id LIMIT {limit}",
}


# How each index's query language writes a word, a prefix, "or" and "and".
_SYNTAX = {"sqlite": ('"{}"', '"{}"*', " OR ", " AND "), "postgresql": ("{}", "{}:*", " | ", " & ")}


def _blocks_query(dialect: str, groups: list[tuple[Keys, ...]]) -> str:
    """Any group met: every word of the group by its spelling, its sound or its prefix."""
    word, starts, either, both = _SYNTAX[dialect]

    def one(keys: Keys) -> str:
        spelling, sound, prefix = keys
        found = [word.format(spelling), *(word.format(s) for s in [sound] if s)]
        found += [starts.format(p) for p in [prefix] if p]
        return "(" + either.join(found) + ")"

    return either.join("(" + both.join(one(k) for k in group) + ")" for group in groups)


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class PartyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, party_id: int) -> Party | None:
        return self.session.get(Party, party_id)

    def by_keys(self, keys: Iterable[str]) -> dict[str, Party]:
        return by_key(self.session, Party, Party.key, keys)

    def by_ids(self, ids: Iterable[int]) -> list[Party]:
        found = by_key(self.session, Party, Party.id, ids)
        return [found[i] for i in sorted(found)]

    def visible_ids(self, ids: Iterable[int], compartments: Compartments) -> set[int]:
        """Those of `ids` whose parties exist for the caller (`visible_parties`)."""
        if compartments.every:
            return set(ids)
        found: set[int] = set()
        for chunk in in_chunks(ids):
            stmt = select(Party.id).where(Party.id.in_(chunk), visible_parties(compartments))
            found.update(self.session.scalars(stmt))
        return found

    def count_up_to(self, most: int) -> int:
        """How many parties there are, counted no further than `most`: no scan of them all."""
        bounded = select(Party.id).limit(most).subquery()
        return int(self.session.scalar(select(func.count()).select_from(bounded)) or 0)

    def all(self, limit: int) -> list[Party]:
        return list(self.session.scalars(select(Party).order_by(Party.id).limit(limit)))

    def resembling(self, name: str, numbers: Iterable[str], limit: int) -> list[Party]:
        """The `limit` parties whose names best meet `name`'s blocking keys in the search index
        (app.party.names.blocks), and those whose identifiers hold one of `numbers`: the pool
        that candidates are scored in."""
        ids: list[int] = []
        if groups := blocks(name):
            dialect = self.session.get_bind().dialect.name
            sql = _BLOCKED[dialect].format(limit=int(limit))
            query = _blocks_query(dialect, groups)
            ids = [int(i) for i in self.session.scalars(text(sql), {"q": query})]
        found = [
            cast(Party.identifiers, String).like(f"%{_escaped(n)}%", escape="\\") for n in numbers
        ]
        if found:
            stmt = select(Party.id).where(or_(*found)).order_by(Party.id).limit(limit)
            ids += [i for i in self.session.scalars(stmt) if i not in ids]
        return self.by_ids(ids)

    def add(self, party: Party) -> Party:
        self.session.add(party)
        return party

    def statements(
        self, ids: Iterable[int], compartments: Compartments = EVERY
    ) -> dict[int, list[dict[str, Any]]]:
        """The details visible documents stated of each of the parties `ids`, oldest first."""
        return stated(self.session, PartyStatement.party_id, ids, compartments)

    def add_statement(self, statement: PartyStatement) -> None:
        self.session.add(statement)

    def take_back(self, document_id: str) -> None:
        """Clear what statements wrote on rows the document created or it wrote on others'."""
        take_back(self.session, PartyStatement.party_id, Party, document_id)


class PartyLinkRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def current_links(self, touching: Iterable[int] | None = None) -> list[tuple[int, int]]:
        """Pairs (lower id first) whose newest event links them; with `touching`, only the
        pairs naming one of those parties (found by the indexes on either side)."""
        state: dict[tuple[int, int], bool] = {}
        stmt = select(
            PartyLinkEvent.party_id, PartyLinkEvent.other_party_id, PartyLinkEvent.linked
        ).order_by(PartyLinkEvent.id)
        if touching is not None:
            ids = sorted(set(touching))
            stmt = stmt.where(
                PartyLinkEvent.party_id.in_(ids) | PartyLinkEvent.other_party_id.in_(ids)
            )
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
