from datetime import UTC, date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.asset.models import RecordedAmount
from app.db import Base, IdKey, Jurisdiction, UTCDateTime
from app.money import from_minor


class InterlocutorySale(Base):
    """An order to sell a frozen or seized asset before final confiscation (Directive (EU)
    2024/1260), and the sale that carried it out: the proceeds became a cash asset in the sold
    asset's place (its SUBSTITUTED move)."""

    __tablename__ = "interlocutory_sales"

    id: Mapped[IdKey]
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), index=True)
    ground: Mapped[str] = mapped_column(String(30))
    order_reference: Mapped[str] = mapped_column(String(200))
    issuing_authority: Mapped[str] = mapped_column(String(300))
    legal_basis: Mapped[str | None] = mapped_column(String(300))
    jurisdiction: Mapped[str | None] = mapped_column(Jurisdiction)
    decision_on: Mapped[date] = mapped_column(Date)
    # The sale is due by the end of `sell_by` in the jurisdiction (`sell_by_at`, UTC).
    sell_by: Mapped[date] = mapped_column(Date)
    sell_by_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(10))
    note: Mapped[str | None] = mapped_column(String(500))
    ordered_by: Mapped[str] = mapped_column(ForeignKey("api_keys.id"))
    ordered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sold_on: Mapped[date | None] = mapped_column(Date)
    price_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(8))
    buyer: Mapped[str | None] = mapped_column(String(300))
    substitute_asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id"))
    measure_id: Mapped[int | None] = mapped_column(ForeignKey("measures.id"))
    sold_by: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"))
    sold_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def price(self) -> str | None:
        if self.price_minor is None or self.currency is None:
            return None
        return from_minor(self.price_minor, self.currency)

    @property
    def overdue(self) -> bool:
        """Ordered, not sold, and past its deadline; a sale made late says so too."""
        if self.sold_on is not None:
            return self.sold_on > self.sell_by
        return datetime.now(UTC) >= self.sell_by_at


class ProceedsShare(RecordedAmount, Base):
    """The part of an asset's realised proceeds that goes to one recipient: a victim (a party)
    or the state. The shares of an asset sum exactly to its proceeds."""

    __tablename__ = "proceeds_shares"

    id: Mapped[IdKey]
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), index=True)
    recipient: Mapped[str] = mapped_column(String(10))
    party_id: Mapped[int | None] = mapped_column(ForeignKey("parties.id"))
    note: Mapped[str | None] = mapped_column(String(500))
