from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime


class GoamlReport(Base):
    """What a goAML report says about itself, beside the source document that holds its bytes."""

    __tablename__ = "goaml_reports"

    source_document_id: Mapped[str] = mapped_column(
        ForeignKey("source_documents.id"), primary_key=True
    )
    rentity_id: Mapped[str] = mapped_column(String(50), index=True)
    rentity_branch: Mapped[str | None] = mapped_column(String(255))
    submission_code: Mapped[str] = mapped_column(String(20))
    report_code: Mapped[str] = mapped_column(String(20))
    entity_reference: Mapped[str | None] = mapped_column(String(255), index=True)
    fiu_ref_number: Mapped[str | None] = mapped_column(String(255), index=True)
    # submission_date or report_date, read in the profile's timezone.
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    currency_code_local: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str | None] = mapped_column(Text)
    indicators: Mapped[list[str]] = mapped_column(JSON, default=list)
    profile: Mapped[str] = mapped_column(String(50))
    timezone: Mapped[str] = mapped_column(String(64))


class GoamlTransaction(Base):
    """The goAML details of a ledger transaction that a report carried."""

    __tablename__ = "goaml_transactions"

    transaction_id: Mapped[int] = mapped_column(ForeignKey("transactions.id"), primary_key=True)
    source_document_id: Mapped[str] = mapped_column(ForeignKey("source_documents.id"), index=True)
    transactionnumber: Mapped[str] = mapped_column(String(100))
    internal_ref_number: Mapped[str | None] = mapped_column(String(255))
    transmode_code: Mapped[str] = mapped_column(String(20))
    transaction_location: Mapped[str | None] = mapped_column(String(255))
    value_date: Mapped[datetime | None] = mapped_column(UTCDateTime())
    from_funds_code: Mapped[str | None] = mapped_column(String(20))
    to_funds_code: Mapped[str | None] = mapped_column(String(20))
    from_my_client: Mapped[bool] = mapped_column(Boolean)
    to_my_client: Mapped[bool] = mapped_column(Boolean)
    # Who physically carried it out (t_conductor): a separate relation, not the account holder.
    conductor_party_id: Mapped[int | None] = mapped_column(ForeignKey("parties.id"), index=True)
    # [{side, currency, amount, exchange_rate}], amounts and rates as exact decimal strings.
    foreign_currency: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Multi-party transactions: [{role, party, account}] by key, in document order.
    parties: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class GoamlPartyLink(Base):
    """Two parties a report relates: a director of an entity (`director_id`), or two names under
    one identifier (`probable_same_person`), kept apart until someone decides."""

    __tablename__ = "goaml_party_links"

    source_document_id: Mapped[str] = mapped_column(
        ForeignKey("source_documents.id"), primary_key=True
    )
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"), primary_key=True, index=True)
    related_party_id: Mapped[int] = mapped_column(
        ForeignKey("parties.id"), primary_key=True, index=True
    )
    relation: Mapped[str] = mapped_column(String(30), primary_key=True)
    role: Mapped[str | None] = mapped_column(String(100))
