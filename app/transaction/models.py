from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, UTCDateTime


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
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # The source's own id: re-sending a batch finds its rows here instead of duplicating them.
    external_id: Mapped[str] = mapped_column(String(200), unique=True)
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
