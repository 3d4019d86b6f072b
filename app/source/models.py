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
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime

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


def staging_documents() -> Select[str]:
    """The documents still being loaded: their rows are not part of the ledger yet."""
    return select(SourceDocument.id).where(SourceDocument.state == STAGING)


def committed_rows(document_column: SQLColumnExpression[str]) -> ColumnElement[bool]:
    """The one test every ledger read applies: the row's document is not still being loaded.

    Few documents are staging at once, so the subquery is a tiny set found by index.
    """
    return document_column.not_in(staging_documents())


def committed_rows_sql(alias: str) -> str:
    """`committed_rows` as SQL text, for the reads written in SQL, over `alias`'s document."""
    test = committed_rows(literal_column(f"{alias}.source_document_id"))
    return " ".join(str(test.compile(compile_kwargs={"literal_binds": True})).split())


# The reads written in SQL (the ledger index, the lake) name the transactions `t`.
COMMITTED_ROWS_SQL = committed_rows_sql("t")
