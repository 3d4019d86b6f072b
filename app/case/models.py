from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdKey, Jurisdiction, UTCDateTime


class Case(Base):
    """An investigation: criminal, a parallel financial investigation beside one, or FIU work."""

    __tablename__ = "cases"

    id: Mapped[IdKey]
    reference: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(500))
    jurisdiction: Mapped[str] = mapped_column(Jurisdiction)
    predicate_offences: Mapped[list[str]] = mapped_column(JSON)
    lead_agency: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20))
    # A PFI keeps its own basis: it goes on non-conviction-based when its parent case stops.
    recovery_basis: Mapped[str | None] = mapped_column(String(30))
    discontinuation_reason: Mapped[str | None] = mapped_column(String(30))
    parent_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    opened_on: Mapped[date] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(ForeignKey("api_keys.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    # Every UPDATE is conditional on the version read: a concurrent change makes it match no row.
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class CaseEvent(Base):
    """One change of a case's status; append-only."""

    __tablename__ = "case_events"

    id: Mapped[IdKey]
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(2000))
    actor_id: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class CaseMember(Base):
    """An API key with a role on a case: only members (and admins/supervisors) see the case."""

    __tablename__ = "case_members"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    api_key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(20))
    added_by: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CaseSubject(Base):
    """A party or an account attached to a case with a role (suspect, mule, victim ...)."""

    __tablename__ = "case_subjects"
    __table_args__ = (
        CheckConstraint("(party_id IS NULL) <> (account_id IS NULL)", name="party_xor_account"),
    )

    id: Mapped[IdKey]
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    party_id: Mapped[int | None] = mapped_column(ForeignKey("parties.id"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    role: Mapped[str] = mapped_column(String(30))
    note: Mapped[str | None] = mapped_column(String(2000))
    added_by: Mapped[str] = mapped_column(ForeignKey("api_keys.id"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())
