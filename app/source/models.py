from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    ForeignKey,
    Select,
    SQLColumnExpression,
    String,
    literal_column,
    select,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.compartments import Compartments
from app.db import Base, BigId, UTCDateTime

# A document's rows are part of the ledger once it is committed; a staging one is still being
# loaded in slices (app.transaction.staged), and nothing reads its rows.
COMMITTED, STAGING = "committed", "staging"
# A load that failed or was cut short: its rows are gone; the document stays as the record that
# the file was received (PostgreSQL refuses to delete evidence).
ABANDONED = "abandoned"


class SourceDocument(Base):
    """Where a batch of records came from: the provenance every ledger row points back to."""

    __tablename__ = "source_documents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(50))
    reference: Mapped[str] = mapped_column(String(200), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    uploaded_by: Mapped[str] = mapped_column(ForeignKey("api_keys.id"))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    filename: Mapped[str | None] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    row_count: Mapped[int] = mapped_column(BigInteger)
    inserted: Mapped[int] = mapped_column(BigInteger)
    already_present: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(
        String(16), index=True, default=COMMITTED, server_default=COMMITTED
    )
    loader: Mapped[str | None] = mapped_column(String(100))
    # The compartment the document is filed in: a case's (need-to-know), or NULL for the shared
    # pool (FIU-wide intelligence). See app.compartments.
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)


class CompartmentChange(Base):
    """An admin's refiling of a source document into another compartment, with the reason:
    appended, never changed, so no move of evidence between compartments is silent."""

    __tablename__ = "compartment_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source_document_id: Mapped[str] = mapped_column(ForeignKey("source_documents.id"), index=True)
    from_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    to_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    reason: Mapped[str] = mapped_column(String(2000))
    changed_by: Mapped[str] = mapped_column(ForeignKey("api_keys.id"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())


def staging_documents() -> Select[str]:
    """The documents still being loaded: their rows are not part of the ledger yet."""
    return select(SourceDocument.id).where(SourceDocument.state == STAGING)


def committed_rows(document_column: SQLColumnExpression[str]) -> ColumnElement[bool]:
    """The one test every ledger read applies: the row's document is not still being loaded.

    Few documents are staging at once, so the subquery is a tiny set found by index.
    """
    return document_column.not_in(staging_documents())


def hidden_documents(compartments: Compartments) -> Select[str]:
    """The documents filed in compartments the caller may not see: only case-filed ones can be,
    so the set is found through the `case_id` index and stays small."""
    return select(SourceDocument.id).where(
        SourceDocument.case_id.is_not(None), ~compartments.documents(SourceDocument.case_id)
    )


def visible_rows(
    document_column: SQLColumnExpression[str], compartments: Compartments
) -> ColumnElement[bool]:
    """The one test every ledger read applies for need-to-know: the row's document is in a
    compartment the caller sees. Nothing at all for those who see every compartment."""
    if compartments.every:
        return true()
    return document_column.not_in(hidden_documents(compartments))


def committed_rows_sql(alias: str) -> str:
    """`committed_rows` as SQL text, for the reads written in SQL, over `alias`'s document."""
    test = committed_rows(literal_column(f"{alias}.source_document_id"))
    return " ".join(str(test.compile(compile_kwargs={"literal_binds": True})).split())


def visible_rows_sql(alias: str, compartments: Compartments) -> str:
    """`visible_rows` as SQL text over `alias`'s document (empty for those who see every
    compartment), for the reads written in SQL. Case ids are integers: bound literally."""
    if compartments.every:
        return ""
    hidden = hidden_documents(compartments).compile(compile_kwargs={"literal_binds": True})
    return f"{alias}.source_document_id NOT IN ({' '.join(str(hidden).split())})"


# The reads written in SQL (the ledger index, the lake) name the transactions `t`.
COMMITTED_ROWS_SQL = committed_rows_sql("t")
