from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, UTCDateTime


class Party(Base):
    """A person or legal entity, addressed by a stable key given by the source."""

    __tablename__ = "parties"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(500))
    country: Mapped[str | None] = mapped_column(String(2))
    identifiers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The name folded for search (app.party.names); the search indexes are built over it.
    search_text: Mapped[str | None] = mapped_column(String(4000))
    source_document_id: Mapped[str] = mapped_column(ForeignKey("source_documents.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PartyLinkEvent(Base):
    """A person's decision that two parties are one (`linked`), or its undoing: appended, never
    changed. The newest event of a pair is its state. The pair is stored lower id first."""

    __tablename__ = "party_link_events"
    __table_args__ = (
        CheckConstraint("party_id < other_party_id", name="ordered_pair"),
        Index("ix_party_link_events_pair", "party_id", "other_party_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"))
    other_party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"), index=True)
    linked: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(2000))
    actor_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
