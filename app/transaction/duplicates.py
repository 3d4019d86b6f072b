"""The same transfer reported by two source documents: found when the later one is stored.

A new row matches a stored row of another source document when both name the same accounts,
amount and currency, and their value times lie within a tolerance (a setting, one day by
default: a bank books on the value date what a goAML report times to the minute). The match is
stored as a probable duplicate; the row itself is stored as sent, with its provenance. A person
confirms or rejects it; a confirmed match excludes the later record from the engine's ledger
(`LedgerExclusion`), so the transfer is counted once.
"""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import polars as pl
from sqlalchemy import Connection, Row, func, select, text
from sqlalchemy.orm import Session, aliased

from app.pagination import CursorCodec, IdKey, Keyset, page
from app.transaction.models import (
    DUPLICATE,
    PROBABLE,
    DuplicateMatch,
    LedgerExclusion,
    Transaction,
)

# Whether any other document holds transactions: a first load into an empty ledger skips the
# look-up (source documents are few; each is found in the index on the rows' document).
_ANY_OTHER = """
SELECT 1 FROM source_documents d
WHERE d.id <> :doc AND EXISTS (SELECT 1 FROM transactions t WHERE t.source_document_id = d.id)
LIMIT 1
"""
# The batch's keys, staged (app.transaction.bulk) with each row's window of value times.
KEYS = ("external_id", "from_account_id", "to_account_id", "amount_minor", "currency")
# The matches of the batch's new rows, stored in one statement after they are inserted. Each
# staged row probes the index on (from_account_id, value_time) over its own window only, so the
# work grows with the batch, not with the payers' whole history (a batch restating a busy
# account's year once read every transfer of that year). A row sent again under its own
# external id is that record, not its duplicate, and rows already stored under another document
# are that document's, matched when it came. Rows of documents still staging, and rows no
# longer in the ledger, match nothing.
RECORD = """
INSERT INTO duplicate_matches (transaction_id, original_id, detected_at, state)
SELECT n.id, t.id, :now, :state
FROM staging_keys s
JOIN transactions n ON n.external_id = s.external_id AND n.source_document_id = :doc
JOIN transactions t ON t.from_account_id = s.from_account_id
  AND t.value_time BETWEEN s.earliest AND s.latest
  AND t.to_account_id = s.to_account_id AND t.amount_minor = s.amount_minor
  AND t.currency = s.currency AND t.external_id <> s.external_id
WHERE t.source_document_id <> :doc
  AND t.source_document_id NOT IN (SELECT id FROM source_documents WHERE state = 'staging')
  AND NOT EXISTS (SELECT 1 FROM ledger_exclusions x WHERE x.transaction_id = t.id)
"""


def others_stored(conn: Connection, document_id: str) -> bool:
    """Whether another document holds transactions: only then can a row of this one match."""
    return conn.execute(text(_ANY_OTHER), {"doc": document_id}).first() is not None


def staged_keys(table: pl.DataFrame, tolerance_seconds: int) -> pl.DataFrame:
    """What `RECORD` matches `table`'s rows (as `transactions` rows) by: their keys, and the
    window of value times a match may lie in."""
    tolerance = timedelta(seconds=tolerance_seconds)
    time = pl.col("value_time").dt.convert_time_zone("UTC")
    return table.select(
        *KEYS,
        (time - tolerance).alias("earliest"),
        (time + tolerance).alias("latest"),
    )


def record_params(document_id: str) -> dict[str, object]:
    return {"doc": document_id, "now": datetime.now(UTC), "state": PROBABLE}


Record = aliased(Transaction)
Original = aliased(Transaction)
DUPLICATES = CursorCodec("duplicates", IdKey)
OLDEST_FIRST: Keyset[IdKey, DuplicateMatch] = Keyset(
    DUPLICATES, (DuplicateMatch.id,), lambda match: IdKey(match.id)
)


class DuplicateRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, match_id: int) -> DuplicateMatch | None:
        return self.session.get(DuplicateMatch, match_id)

    def page(
        self, *, state: str | None, limit: int, after: IdKey | None
    ) -> tuple[list[DuplicateMatch], str | None]:
        stmt = select(DuplicateMatch)
        if state is not None:
            stmt = stmt.where(DuplicateMatch.state == state)
        return page(self.session, stmt, OLDEST_FIRST, limit=limit, after=after)

    def matches_of(self, transaction_id: int) -> list[DuplicateMatch]:
        stmt = (
            select(DuplicateMatch)
            .where(
                (DuplicateMatch.transaction_id == transaction_id)
                | (DuplicateMatch.original_id == transaction_id)
            )
            .order_by(DuplicateMatch.id)
        )
        return list(self.session.scalars(stmt))

    def probable_pairs(self) -> list[Row[str, str]]:
        """(later, original) external ids of every match nobody has decided yet."""
        stmt = (
            select(Record.external_id, Original.external_id)
            .select_from(DuplicateMatch)
            .join(Record, Record.id == DuplicateMatch.transaction_id)
            .join(Original, Original.id == DuplicateMatch.original_id)
            .where(DuplicateMatch.state == PROBABLE)
        )
        return list(self.session.execute(stmt))

    def excluded(self, transaction_ids: Iterable[int]) -> set[int]:
        wanted = sorted(set(transaction_ids))
        stmt = select(LedgerExclusion.transaction_id).where(
            LedgerExclusion.transaction_id.in_(wanted)
        )
        return set(self.session.scalars(stmt))

    def exclude(self, transaction_id: int, cause: str = DUPLICATE) -> None:
        if transaction_id in self.excluded([transaction_id]):
            return
        self.session.add(
            LedgerExclusion(
                transaction_id=transaction_id, cause=cause, created_at=datetime.now(UTC)
            )
        )
        self.session.flush()

    def exclusions_version(self) -> int:
        return int(self.session.scalar(select(func.max(LedgerExclusion.id))) or 0)
