"""Queries of the match table and of what a document holds.

The ledger tables are named here as bare Core tables (`sqlalchemy.table`), not imported from
their domains: those domains call `index_document`, so importing them would close a cycle.
"""

from collections.abc import Collection, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, delete, func, insert, or_, select, table, union
from sqlalchemy import column as col
from sqlalchemy.orm import Session

from app.db import table_of
from app.matching.models import MatchKey, MatchNotification
from app.pagination import CursorCodec, IdKey, Keyset, page
from app.source.models import SourceDocument

_accounts = table("accounts", col("id"), col("key"), col("source_document_id"))
_transactions = table(
    "transactions", col("from_account_id"), col("to_account_id"), col("source_document_id")
)
_corrections = table("account_corrections", col("account_id"), col("source_document_id"))
_holders = table("account_holders", col("account_id"), col("party_id"), col("source_document_id"))
# What a document stated of another compartment's account or party (app.source.statements).
_account_statements = table("account_statements", col("account_id"), col("source_document_id"))
_party_statements = table(
    "party_statements", col("party_id"), col("details", JSON), col("source_document_id")
)
_parties = table(
    "parties", col("id"), col("name"), col("identifiers", JSON), col("source_document_id")
)
CHUNK = 500

NOTIFICATIONS = CursorCodec("match_notifications", IdKey)
NEWEST_FIRST: Keyset[IdKey, MatchNotification] = Keyset(
    NOTIFICATIONS, (MatchNotification.id,), lambda n: IdKey(n.id), descending=True
)


def _chunks(values: Collection[str]) -> Iterator[list[str]]:
    ordered = sorted(values)
    for start in range(0, len(ordered), CHUNK):
        yield ordered[start : start + CHUNK]


class MatchRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- what a document holds ----------------------------------------------------------------

    def accounts_of(self, document_id: str) -> list[tuple[int, str]]:
        """(id, key) of the accounts a document opened, moved money between, named holders of,
        stated details of, or corrected."""
        ids = union(
            select(_accounts.c.id).where(_accounts.c.source_document_id == document_id),
            select(_transactions.c.from_account_id).where(
                _transactions.c.source_document_id == document_id
            ),
            select(_transactions.c.to_account_id).where(
                _transactions.c.source_document_id == document_id
            ),
            select(_holders.c.account_id).where(_holders.c.source_document_id == document_id),
            select(_corrections.c.account_id).where(
                _corrections.c.source_document_id == document_id
            ),
            select(_account_statements.c.account_id).where(
                _account_statements.c.source_document_id == document_id
            ),
        ).subquery()
        stmt = select(_accounts.c.id, _accounts.c.key).where(_accounts.c.id.in_(select(ids.c[0])))
        return [(row.id, row.key) for row in self.session.execute(stmt)]

    def parties_of(self, document_id: str) -> list[tuple[int, str, dict[str, Any] | None]]:
        """(id, name, identifiers) of the parties a document brought, or named as holders when
        the document that brought them is in the shared pool or the same case: a holder link
        names a party by its key alone, and the name or numbers another case's document gave
        are not this document's to match on (nor to show its readers as their key); and those
        it stated the name of though another compartment's document brought them."""
        document = self.document(document_id)
        here = document.case_id if document is not None else None
        stated_in = SourceDocument.case_id
        held = select(_holders.c.party_id).where(_holders.c.source_document_id == document_id)
        stmt = (
            select(_parties.c.id, _parties.c.name, _parties.c.identifiers)
            .join(SourceDocument, SourceDocument.id == _parties.c.source_document_id)
            .where(
                or_(
                    _parties.c.source_document_id == document_id,
                    _parties.c.id.in_(held) & or_(stated_in.is_(None), stated_in == here),
                )
            )
        )
        found = [(row.id, row.name, row.identifiers) for row in self.session.execute(stmt)]
        # A party another compartment's document brought, as this document stated it.
        stated = select(_party_statements.c.party_id, _party_statements.c.details).where(
            _party_statements.c.source_document_id == document_id
        )
        for party_id, details in self.session.execute(stated):
            if details.get("name"):
                found.append((party_id, details["name"], details.get("identifiers")))
        return found

    # --- the match table ----------------------------------------------------------------------

    def replace(self, document_id: str, case_id: int | None, digests: set[tuple[str, str]]) -> None:
        self.session.execute(delete(MatchKey).where(MatchKey.source_document_id == document_id))
        if case_id is None or not digests:
            return
        rows = [
            {"source_document_id": document_id, "kind": k, "digest": d, "case_id": case_id}
            for k, d in sorted(digests)
        ]
        self.session.execute(insert(table_of(MatchKey)), rows)

    def holders_of(self, digests: Collection[str]) -> list[tuple[int, str, str, str]]:
        """(case_id, document id, kind, digest) of every row holding one of `digests`."""
        found = []
        for chunk in _chunks(digests):
            stmt = select(
                MatchKey.case_id, MatchKey.source_document_id, MatchKey.kind, MatchKey.digest
            ).where(MatchKey.digest.in_(chunk))
            found += [tuple(row) for row in self.session.execute(stmt)]
        return found  # type: ignore[return-value]

    def shared_with(self, cases: frozenset[int] | None) -> list[tuple[int, str, str, str]]:
        """(case_id, document id, kind, digest) of the rows whose digest two or more cases hold,
        one of them in `cases` (None: any case)."""
        shared = select(MatchKey.digest).group_by(MatchKey.digest)
        shared = shared.having(func.count(func.distinct(MatchKey.case_id)) >= 2)
        if cases is not None:
            shared = shared.where(
                MatchKey.digest.in_(
                    select(MatchKey.digest).where(MatchKey.case_id.in_(sorted(cases)))
                )
            )
        stmt = select(
            MatchKey.case_id, MatchKey.source_document_id, MatchKey.kind, MatchKey.digest
        ).where(MatchKey.digest.in_(shared))
        return [tuple(row) for row in self.session.execute(stmt)]  # type: ignore[misc]

    def documents_in(self, case_id: int, digest: str) -> list[str]:
        stmt = select(MatchKey.source_document_id).where(
            MatchKey.case_id == case_id, MatchKey.digest == digest
        )
        return list(self.session.scalars(stmt))

    # --- notifications ------------------------------------------------------------------------

    def notified(self, digests: Collection[str]) -> set[tuple[int, int, str, str]]:
        found: set[tuple[int, int, str, str]] = set()
        n = MatchNotification
        for chunk in _chunks(digests):
            stmt = select(n.case_id, n.other_case_id, n.kind, n.digest).where(n.digest.in_(chunk))
            found |= {tuple(row) for row in self.session.execute(stmt)}  # type: ignore[misc]
        return found

    def notify(self, pairs: Iterable[tuple[int, int, str, str]]) -> int:
        now = datetime.now(UTC)
        rows = [
            {"case_id": c, "other_case_id": o, "kind": k, "digest": d, "created_at": now}
            for c, o, k, d in sorted(pairs)
        ]
        if rows:
            self.session.execute(insert(table_of(MatchNotification)), rows)
        return len(rows)

    def page_notifications(
        self, case_ids: Collection[int], *, limit: int, after: IdKey | None
    ) -> tuple[list[MatchNotification], str | None]:
        stmt = select(MatchNotification).where(MatchNotification.case_id.in_(sorted(case_ids)))
        return page(self.session, stmt, NEWEST_FIRST, limit=limit, after=after)

    def notification(self, notification_id: int) -> MatchNotification | None:
        return self.session.get(MatchNotification, notification_id)

    def replies_to(
        self, case_ids: Collection[int], digests: Collection[str]
    ) -> list[MatchNotification]:
        """The decisions to make contact that other cases' leads took on matches with `case_ids`."""
        n = MatchNotification
        found: list[MatchNotification] = []
        for chunk in _chunks(digests):
            stmt = select(n).where(
                n.other_case_id.in_(sorted(case_ids)), n.digest.in_(chunk), n.decision == "contact"
            )
            found += list(self.session.scalars(stmt))
        return found

    def document(self, document_id: str) -> SourceDocument | None:
        return self.session.get(SourceDocument, document_id)

    def documents_to_index(self) -> list[str]:
        """Every document filed in a case, and every one with rows (it may have left its case),
        in the order they were received."""
        indexed = select(MatchKey.source_document_id)
        stmt = (
            select(SourceDocument.id)
            .where(
                or_(SourceDocument.case_id.is_not(None), SourceDocument.id.in_(indexed)),
            )
            .order_by(SourceDocument.received_at, SourceDocument.id)
        )
        return list(self.session.scalars(stmt))

    def all_rows(self) -> list[tuple[str, int, str, str]]:
        """(document id, case id, kind, digest) of every row."""
        m = MatchKey
        stmt = select(m.source_document_id, m.case_id, m.kind, m.digest)
        return [tuple(row) for row in self.session.execute(stmt)]  # type: ignore[misc]

    def rekey_notifications(self, digests: Mapping[str, str]) -> None:
        """Give notifications made under old digests their keys' new ones; one whose new form
        was already made (twice told before) stays as it was."""
        n = MatchNotification
        for chunk in _chunks(digests.keys()):
            stale = list(self.session.scalars(select(n).where(n.digest.in_(chunk))))
            fresh = {digests[s.digest] for s in stale}
            taken = self.notified(fresh)
            for notification in stale:
                moved = (notification.case_id, notification.other_case_id, notification.kind)
                if (*moved, digests[notification.digest]) not in taken:
                    notification.digest = digests[notification.digest]
        self.session.flush()
