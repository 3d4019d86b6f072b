from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ColumnElement,
    ForeignKey,
    Index,
    String,
    column,
    exists,
    or_,
    table,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.compartments import Compartments
from app.db import Base, IdKey, UTCDateTime
from app.source.models import hidden_documents


class Party(Base):
    """A person or legal entity, addressed by a stable key given by the source."""

    __tablename__ = "parties"

    id: Mapped[IdKey]
    key: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(500))
    country: Mapped[str | None] = mapped_column(String(2))
    identifiers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The name folded for search (app.party.names); the search indexes are built over it.
    search_text: Mapped[str | None] = mapped_column(String(4000))
    source_document_id: Mapped[str] = mapped_column(ForeignKey("source_documents.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Statement:
    """The columns of a statement: what a document stated of a record (a party, an account)
    that another document created, kept apart from the record's row, which only tells what its
    creating document stated, so that each detail follows the compartment of the document that
    stated it, after a refiling too (app.source.statements, docs/compartments.md). `details`
    holds the fields the stating document stated. `on_row`: those of them it also wrote on the
    row, lacking there, when it was filed in the compartment of the row's creating document (so
    that the search, which indexes rows, finds them), with the values written (`identifiers`:
    the keys added); an admin's refiling of either document takes them back off the row and
    sets it to null (`app.source.statements.take_back`)."""

    id: Mapped[IdKey]
    source_document_id: Mapped[str] = mapped_column(ForeignKey("source_documents.id"), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    on_row: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))


class PartyStatement(Statement, Base):
    """What a document stated of a party that another document created (see `Statement`)."""

    __tablename__ = "party_statements"

    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"), index=True)


class PartyLinkEvent(Base):
    """A person's decision that two parties are one (`linked`), or its undoing: appended, never
    changed. The newest event of a pair is its state. The pair is stored lower id first."""

    __tablename__ = "party_link_events"
    __table_args__ = (
        CheckConstraint("party_id < other_party_id", name="ordered_pair"),
        Index("ix_party_link_events_pair", "party_id", "other_party_id"),
    )

    id: Mapped[IdKey]
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"))
    other_party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"), index=True)
    linked: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(2000))
    actor_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


# The holder links by name: accounts know parties, not the reverse, yet a party exists for a
# caller when a document they may see names it as an account's holder.
_HOLDS = table("account_holders", column("party_id"), column("source_document_id"))


def visible_parties(compartments: Compartments) -> ColumnElement[bool]:
    """The party domain's need-to-know test: a party exists for the caller when a visible
    document created it, stated its details or holds one of its holder links."""
    if compartments.every:
        return true()
    hidden = hidden_documents(compartments)
    return or_(
        Party.source_document_id.not_in(hidden),
        exists().where(
            PartyStatement.party_id == Party.id, PartyStatement.source_document_id.not_in(hidden)
        ),
        exists().where(_HOLDS.c.party_id == Party.id, _HOLDS.c.source_document_id.not_in(hidden)),
    )
