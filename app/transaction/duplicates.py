"""The same transfer reported by two source documents: found when the later one is stored.

A new row matches a stored row of another source document when both name the same accounts,
amount and currency, and their value times lie within a tolerance (a setting, one day by
default: a bank books on the value date what a goAML report times to the minute). The match is
stored as a probable duplicate; the row itself is stored as sent, with its provenance. A person
confirms or rejects it; a confirmed match excludes the later record from the engine's ledger
(`LedgerExclusion`), so the transfer is counted once.
"""

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import TypeVarTuple

import polars as pl
from sqlalchemy import Connection, Row, Select, func, select, text
from sqlalchemy.orm import Session, aliased

from app.compartments import EVERY, Compartments
from app.pagination import CursorCodec, IdKey, Keyset, page
from app.source.models import SourceDocument, visible_rows
from app.transaction.models import (
    DUPLICATE,
    PROBABLE,
    DuplicateMatch,
    LedgerExclusion,
    Transaction,
)

# The columns a statement over matches selects.
Columns = TypeVarTuple("Columns")

# Stored rows that may match a batch: those leaving the batch's payers within its time span
# (widened by the tolerance), read in one statement before the batch is inserted, so that the
# index on (from_account_id, value_time) yields other documents' rows only. Rows of documents
# still staging, and rows no longer in the ledger, match nothing. The payers (integers) and the
# bounds (formatted instants) are written into the statement: the caller reads it in bulk
# (COPY on PostgreSQL), which takes no parameters.
_STORED = """
SELECT t.id, t.engine_id, t.from_account_id, t.to_account_id, t.amount_minor, t.currency,
       {time} AS value_time
FROM transactions t
WHERE t.from_account_id IN ({payers}) AND t.value_time BETWEEN {lo} AND {hi}{narrower}
  AND t.source_document_id NOT IN (SELECT id FROM source_documents WHERE state = 'staging')
  AND NOT EXISTS (SELECT 1 FROM ledger_exclusions x WHERE x.transaction_id = t.id)
"""
_TIME_TEXT = {  # value_time as "YYYY-MM-DD HH:MM:SS.ffffff" UTC text, per dialect
    "postgresql": "to_char(t.value_time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')",
    "sqlite": "t.value_time",
}
_BOUND = {  # an instant as each dialect compares it with a stored value_time
    "postgresql": "TIMESTAMPTZ '{:%Y-%m-%d %H:%M:%S.%f}+00'",
    "sqlite": "'{:%Y-%m-%d %H:%M:%S.%f}'",
}
STORED_SCHEMA = pl.Schema(
    {
        "original_id": pl.Int64(),
        "original_engine_id": pl.String(),
        "from_account_id": pl.Int64(),
        "to_account_id": pl.Int64(),
        "amount_minor": pl.Int64(),
        "currency": pl.String(),
        "stored_time": pl.String(),
    }
)
# Whether any other document holds transactions: a first load into an empty ledger skips the
# look-up (source documents are few; each is found in the index on the rows' document).
_ANY_OTHER = """
SELECT 1 FROM source_documents d
WHERE d.id <> :doc AND EXISTS (SELECT 1 FROM transactions t WHERE t.source_document_id = d.id)
LIMIT 1
"""
MATCHES = pl.Schema({"engine_id": pl.String(), "original_id": pl.Int64()})
# A batch naming at most this many payees and amounts also names them in the statement: only
# rows that can match come back, not every row its payers sent in the window (a 10-row batch
# from a busy account read thousands). A larger one reads by payer and time alone, one
# statement whatever its size; both join on every key below, so they find the same matches.
NARROW_KEYS_MAX = 1000
Reader = Callable[[Connection, str, pl.Schema], pl.DataFrame]


def find(
    conn: Connection,
    table: pl.DataFrame,
    *,
    document_id: str,
    tolerance_seconds: int,
    read: Reader,
) -> pl.DataFrame:
    """(engine id, original id) of each row of `table` (as `transactions` rows, not yet
    inserted) that matches a stored row of another source document."""
    if table.height == 0 or conn.execute(text(_ANY_OTHER), {"doc": document_id}).first() is None:
        return pl.DataFrame(schema=MATCHES)
    tolerance = timedelta(seconds=tolerance_seconds)
    times = table.get_column("value_time")
    lo, hi = times.min(), times.max()
    assert isinstance(lo, datetime)
    assert isinstance(hi, datetime)
    dialect = conn.dialect.name
    payers = table.get_column("from_account_id").unique().sort().cast(pl.Int64)
    query = _STORED.format(
        time=_TIME_TEXT[dialect],
        payers=_listed(payers),
        narrower=_narrower(table),
        lo=_BOUND[dialect].format((lo - tolerance).astimezone(UTC)),
        hi=_BOUND[dialect].format((hi + tolerance).astimezone(UTC)),
    )
    stored = read(conn, query, STORED_SCHEMA)
    if stored.height == 0:
        return pl.DataFrame(schema=MATCHES)
    stored = stored.with_columns(
        pl.col("stored_time").str.to_datetime(
            "%Y-%m-%d %H:%M:%S%.f", time_unit="us", time_zone="UTC"
        )
    )
    keys = ["from_account_id", "to_account_id", "amount_minor", "currency"]
    gap = (pl.col("value_time") - pl.col("stored_time")).abs()
    return (
        table.select("engine_id", *keys, pl.col("value_time").dt.cast_time_unit("us"))
        .join(stored, on=keys, how="inner")
        # A row sent again into its own compartment is that record, not its duplicate; the
        # same external id in another compartment is the same transfer stored twice, which an
        # admin's trace over both would count twice unless a person decides the match.
        .filter((gap <= tolerance) & (pl.col("engine_id") != pl.col("original_engine_id")))
        .select("engine_id", "original_id")
        .unique()
        .sort("engine_id", "original_id")
    )


def _listed(values: pl.Series) -> str:
    return ", ".join(str(int(v)) for v in values)


def _narrower(table: pl.DataFrame) -> str:
    """The payees and amounts of `table` as further conditions, when they are few."""
    payees = table.get_column("to_account_id").unique().sort().cast(pl.Int64)
    amounts = table.get_column("amount_minor").unique().sort().cast(pl.Int64)
    if max(payees.len(), amounts.len()) > NARROW_KEYS_MAX:
        return ""
    return f" AND t.to_account_id IN ({_listed(payees)}) AND t.amount_minor IN ({_listed(amounts)})"


# The matches of a batch's rows, staged in `staging_matches` (app.transaction.bulk), stored in
# one statement; rows already stored under another document are that document's, and were
# matched when it came.
RECORD = """
INSERT INTO duplicate_matches (transaction_id, original_id, detected_at, state)
SELECT t.id, m.original_id, :now, :state
FROM staging_matches m JOIN transactions t ON t.engine_id = m.engine_id
WHERE t.source_document_id = :doc
"""


def record_params(document_id: str) -> dict[str, object]:
    return {"doc": document_id, "now": datetime.now(UTC), "state": PROBABLE}


Record = aliased(Transaction)
Original = aliased(Transaction)
DUPLICATES = CursorCodec("duplicates", IdKey)
OLDEST_FIRST: Keyset[IdKey, DuplicateMatch] = Keyset(
    DUPLICATES, (DuplicateMatch.id,), lambda match: IdKey(match.id)
)


def _with_records(stmt: Select[*Columns]) -> Select[*Columns]:
    """`stmt` over matches joined to their two records: `Record` the later, `Original`."""
    return stmt.join(Record, Record.id == DuplicateMatch.transaction_id).join(
        Original, Original.id == DuplicateMatch.original_id
    )


def _visible_matches(
    stmt: Select[*Columns], compartments: Compartments, *, joined: bool = False
) -> Select[*Columns]:
    """Matches whose two records are both in documents the caller may see; `joined`: `stmt`
    joins the two records already (`_with_records`)."""
    if compartments.every:
        return stmt
    return (stmt if joined else _with_records(stmt)).where(
        visible_rows(Record.source_document_id, compartments),
        visible_rows(Original.source_document_id, compartments),
    )


class DuplicateRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, match_id: int, compartments: Compartments = EVERY) -> DuplicateMatch | None:
        if compartments.every:
            return self.session.get(DuplicateMatch, match_id)
        stmt = _visible_matches(select(DuplicateMatch), compartments)
        return self.session.scalar(stmt.where(DuplicateMatch.id == match_id))

    def page(
        self,
        *,
        state: str | None,
        limit: int,
        after: IdKey | None,
        compartments: Compartments = EVERY,
    ) -> tuple[list[DuplicateMatch], str | None]:
        stmt = _visible_matches(select(DuplicateMatch), compartments)
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

    def probable_pairs(self, compartments: Compartments = EVERY) -> list[Row[str, str]]:
        """(later, original) engine ids of every match nobody has decided yet whose two
        records are in documents `compartments` may see."""
        pairs = select(Record.engine_id, Original.engine_id).select_from(DuplicateMatch)
        stmt = _with_records(pairs).where(DuplicateMatch.state == PROBABLE)
        return list(self.session.execute(_visible_matches(stmt, compartments, joined=True)))

    def cases_of(self, transaction_ids: Iterable[int]) -> dict[int, int | None]:
        """Each record's compartment: its document's case (None: the shared pool)."""
        stmt = (
            select(Record.id, SourceDocument.case_id)
            .join(SourceDocument, SourceDocument.id == Record.source_document_id)
            .where(Record.id.in_(sorted(set(transaction_ids))))
        )
        return {int(tid): case for tid, case in self.session.execute(stmt)}

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
