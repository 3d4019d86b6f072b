from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    SQLColumnExpression,
    String,
    UniqueConstraint,
    literal_column,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdKey, UTCDateTime


class Transaction(Base):
    """Value moving between two accounts, in integer minor units of its currency."""

    __tablename__ = "transactions"
    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint("from_account_id <> to_account_id", name="distinct_accounts"),
        Index("ix_transactions_from_time", "from_account_id", "value_time"),
        Index("ix_transactions_to_time", "to_account_id", "value_time"),
    )

    # The three references below are foreign keys on SQLite. PostgreSQL enforces them with
    # triggers that check a whole statement's rows at once (see app.migrate).
    id: Mapped[IdKey]
    # The source's own id: re-sending a batch finds its rows here instead of duplicating them,
    # within the compartment it is filed in (one compartment's rows never decide another's).
    external_id: Mapped[str] = mapped_column(String(200), index=True)
    # The transaction's name in the engine and the API, chosen once when stored: the external
    # id in the shared pool, qualified by the case in a case (`engine_id_of`). Unique, and so
    # is (compartment, external id), since external ids holding the mark are refused.
    engine_id: Mapped[str] = mapped_column(String(240), unique=True)
    from_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    to_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(8))
    value_time: Mapped[datetime] = mapped_column(UTCDateTime())
    sequence: Mapped[int | None] = mapped_column(BigInteger)
    channel: Mapped[str | None] = mapped_column(String(50))
    narrative: Mapped[str | None] = mapped_column(String(2000))
    counterparty_name: Mapped[str | None] = mapped_column(String(500))
    counterparty_account: Mapped[str | None] = mapped_column(String(300))
    source_document_id: Mapped[str] = mapped_column(ForeignKey("source_documents.id"), index=True)
    source_row: Mapped[int] = mapped_column(Integer)


# Reserved in external ids: what qualifies a case's rows' engine ids (docs/engine-ids.md).
CASE_MARK = "@case:"


def suffix_of(case_id: int | None) -> str:
    return "" if case_id is None else f"{CASE_MARK}{case_id}"


def engine_id_of(external_id: str, case_id: int | None) -> str:
    """The engine id of a row with `external_id` filed in `case_id` (None: the shared pool)."""
    return external_id + suffix_of(case_id)


# A duplicate's life: found when the later record was stored, then decided once by a person.
PROBABLE, CONFIRMED, REJECTED = "probable", "confirmed", "rejected"


class DuplicateMatch(Base):
    """A transaction stored from one source document that looks like one stored from another
    (same accounts, amount, currency, value time within the tolerance): the same transfer
    reported twice, until a person confirms or rejects it."""

    __tablename__ = "duplicate_matches"
    __table_args__ = (
        UniqueConstraint("transaction_id", "original_id"),
        CheckConstraint("transaction_id <> original_id", name="distinct_records"),
    )

    id: Mapped[IdKey]
    # The record stored later, which the engine drops once the match is confirmed.
    transaction_id: Mapped[int] = mapped_column(ForeignKey("transactions.id"), index=True)
    original_id: Mapped[int] = mapped_column(ForeignKey("transactions.id"), index=True)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(16), index=True, default=PROBABLE)
    decided_by: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(String(2000))


# Why a stored record no longer reaches the engine.
DUPLICATE, SUPERSEDED = "duplicate", "superseded"


class LedgerExclusion(Base):
    """A stored transaction the engine no longer reads: the second record of a confirmed
    duplicate, or a record a correction superseded. Rows are only added, so the newest id is
    the version of the exclusions that a ledger index was built with."""

    __tablename__ = "ledger_exclusions"

    id: Mapped[IdKey]
    transaction_id: Mapped[int] = mapped_column(ForeignKey("transactions.id"), unique=True)
    cause: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TransactionCorrection(Base):
    """A stored transaction superseded by a new record: the old one stays, readable, with the
    reason and the source document that corrected it."""

    __tablename__ = "transaction_corrections"

    id: Mapped[IdKey]
    transaction_id: Mapped[int] = mapped_column(ForeignKey("transactions.id"), unique=True)
    replacement_id: Mapped[int] = mapped_column(ForeignKey("transactions.id"), unique=True)
    reason: Mapped[str] = mapped_column(String(2000))
    source_document_id: Mapped[str] = mapped_column(ForeignKey("source_documents.id"))
    corrected_by: Mapped[str] = mapped_column(ForeignKey("api_keys.id"))
    corrected_at: Mapped[datetime] = mapped_column(UTCDateTime())


def in_ledger(transaction_id: SQLColumnExpression[int]) -> ColumnElement[bool]:
    """The one test of a transaction being in the ledger the engine traces: a record excluded
    from it (a confirmed duplicate, a superseded one) is not traced, nor counted in totals."""
    return transaction_id.not_in(select(LedgerExclusion.transaction_id))


# `in_ledger` as SQL text on alias `t`, for the engine's reads written in SQL (beside the
# committed-rows test of app.source.models).
IN_LEDGER_SQL = " ".join(
    str(in_ledger(literal_column("t.id")).compile(compile_kwargs={"literal_binds": True})).split()
)
# What makes the engine's ledger be built anew rather than appended to: a record leaving it, or
# a document refiled (its rows' engine ids change). Both tables only grow, so the sum of their
# newest ids moves whenever either does.
REBUILD_VERSION_SQL = (
    "SELECT coalesce((SELECT max(id) FROM ledger_exclusions), 0)"
    " + coalesce((SELECT max(id) FROM compartment_changes), 0)"
)
