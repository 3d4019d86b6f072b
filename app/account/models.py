from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ColumnElement, ForeignKey, String, column, exists, or_, table, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.compartments import Compartments
from app.db import Base, IdKey, UTCDateTime
from app.party.models import Party, Statement
from app.source.models import hidden_documents


class Account(Base):
    """Where value sits; addressed by a stable key such as `iban:DE89...` or `btc:bc1q...`."""

    __tablename__ = "accounts"

    id: Mapped[IdKey]
    key: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str | None] = mapped_column(String(500))
    iban: Mapped[str | None] = mapped_column(String(34), index=True)
    bic: Mapped[str | None] = mapped_column(String(11))
    number: Mapped[str | None] = mapped_column(String(100))
    institution: Mapped[str | None] = mapped_column(String(300))
    chain: Mapped[str | None] = mapped_column(String(30))
    address: Mapped[str | None] = mapped_column(String(200))
    currency: Mapped[str | None] = mapped_column(String(8))
    # `invalid_number` when its number failed its scheme's check and a batch stored it anyway.
    number_flag: Mapped[str | None] = mapped_column(String(30), index=True)
    source_document_id: Mapped[str] = mapped_column(ForeignKey("source_documents.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    holders: Mapped[list["AccountHolder"]] = relationship(
        back_populates="account", order_by="AccountHolder.party_id", lazy="selectin"
    )


class AccountHolder(Base):
    __tablename__ = "account_holders"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(30), primary_key=True)
    # A link is kept per document stating it: each compartment reads the links its documents
    # state, and a load's outcome never depends on a link another compartment holds.
    source_document_id: Mapped[str] = mapped_column(
        ForeignKey("source_documents.id"), primary_key=True
    )

    account: Mapped[Account] = relationship(back_populates="holders")
    party: Mapped[Party] = relationship(lazy="joined")


class AccountStatement(Statement, Base):
    """What a document stated of an account that another document created (see `Statement`)."""

    __tablename__ = "account_statements"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)


class AccountCorrection(Base):
    """New details of an account (name, institution ...), stated by a correcting source
    document with a reason. The account row keeps what was first loaded; the newest correction
    of a field is what the account reads as."""

    __tablename__ = "account_corrections"

    id: Mapped[IdKey]
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(String(2000))
    source_document_id: Mapped[str] = mapped_column(ForeignKey("source_documents.id"))
    corrected_by: Mapped[str] = mapped_column(ForeignKey("api_keys.id"))
    corrected_at: Mapped[datetime] = mapped_column(UTCDateTime())


# The transactions table by name: the ledger depends on accounts, not the reverse, yet whether an
# account exists for a caller depends on the transactions they may see touching it.
_MOVES = table(
    "transactions", column("from_account_id"), column("to_account_id"), column("source_document_id")
)
# The details a document states about an account; shown only when that document is visible.
STATED_DETAILS = ("name", "bic", "number", "institution", "currency", "number_flag")


def visible_accounts(compartments: Compartments) -> ColumnElement[bool]:
    """The account domain's need-to-know test: an account exists for the caller when a visible
    document created it, stated its details, holds one of its holder links, or a visible
    transaction touches it."""
    if compartments.every:
        return true()
    hidden = hidden_documents(compartments)
    return or_(
        Account.source_document_id.not_in(hidden),
        exists().where(
            AccountStatement.account_id == Account.id,
            AccountStatement.source_document_id.not_in(hidden),
        ),
        exists().where(
            AccountHolder.account_id == Account.id, AccountHolder.source_document_id.not_in(hidden)
        ),
        exists().where(
            _MOVES.c.from_account_id == Account.id, _MOVES.c.source_document_id.not_in(hidden)
        ),
        exists().where(
            _MOVES.c.to_account_id == Account.id, _MOVES.c.source_document_id.not_in(hidden)
        ),
    )
