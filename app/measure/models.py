from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdKey, Jurisdiction, UTCDateTime
from app.money import from_minor


class Measure(Base):
    """One move of an asset's legal status with the legal act behind it; append-only.

    `seq` numbers an asset's events 1, 2, 3 ...; the unique pair makes two racing writers of
    the same next event collide in the database even if every other guard failed.
    """

    __tablename__ = "measures"
    __table_args__ = (UniqueConstraint("asset_id", "seq"),)

    id: Mapped[IdKey]
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    from_status: Mapped[str | None] = mapped_column(String(30))
    to_status: Mapped[str] = mapped_column(String(30))
    measure_type: Mapped[str | None] = mapped_column(String(40))
    order_reference: Mapped[str | None] = mapped_column(String(200))
    issuing_authority: Mapped[str | None] = mapped_column(String(300))
    executing_authority: Mapped[str | None] = mapped_column(String(300))
    legal_basis: Mapped[str | None] = mapped_column(String(300))
    jurisdiction: Mapped[str | None] = mapped_column(Jurisdiction)
    decision_on: Mapped[date | None] = mapped_column(Date)
    effective_on: Mapped[date | None] = mapped_column(Date)
    notified_on: Mapped[date | None] = mapped_column(Date)
    duration_value: Mapped[int | None] = mapped_column(Integer)
    duration_unit: Mapped[str | None] = mapped_column(String(20))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expiry_on: Mapped[date | None] = mapped_column(Date)
    renew_by: Mapped[date | None] = mapped_column(Date)
    renew_by_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The IANA zone the order's days are counted in, when it states one (else the
    # jurisdiction's).
    time_zone: Mapped[str | None] = mapped_column(String(64))
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(8))
    value_based: Mapped[bool] = mapped_column(default=False)
    basis: Mapped[str | None] = mapped_column(String(30))
    disposal_kind: Mapped[str | None] = mapped_column(String(30))
    release_reason: Mapped[str | None] = mapped_column(String(40))
    custodian: Mapped[str | None] = mapped_column(String(300))
    note: Mapped[str | None] = mapped_column(String(2000))
    # None: the deadline sweep, not a person, made the move.
    actor_id: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @property
    def duration(self) -> dict[str, object] | None:
        if self.duration_value is None:
            return None
        return {"value": self.duration_value, "unit": self.duration_unit}

    @property
    def amount(self) -> str | None:
        if self.amount_minor is None or self.currency is None:
            return None
        return from_minor(self.amount_minor, self.currency)
