from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from app.account.models import Account
from app.asset.machine import LegalStatus, allowed_moves
from app.db import Base, IdKey, Jurisdiction, UTCDateTime
from app.money import from_minor
from app.party.models import Party


def percent_of(points: int | None) -> str | None:
    """Basis points as a percentage with two decimals (`2550` -> `25.50`)."""
    return None if points is None else str((Decimal(points) / 100).quantize(Decimal("0.01")))


def money_of(minor: int | None, currency: str | None) -> str | None:
    return None if minor is None or currency is None else from_minor(minor, currency)


class MoneyTotal(NamedTuple):
    currency: str
    amount: str


class Valuation(NamedTuple):
    """What the asset is worth: the latest valuation, as a decimal string."""

    amount: str
    currency: str
    valued_on: date | None
    method: str | None


class Asset(Base):
    """Anything that can be frozen or confiscated, with its current legal status.

    `status`, `version` and the expiry columns mirror the latest measure (the event whose `seq`
    equals `version`), so that a transition is one conditional update of this row.
    """

    __tablename__ = "assets"

    id: Mapped[IdKey]
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    type: Mapped[str] = mapped_column(String(30))
    description: Mapped[str] = mapped_column(String(2000))
    jurisdiction: Mapped[str | None] = mapped_column(Jurisdiction)
    status: Mapped[str] = mapped_column(String(30), index=True)
    version: Mapped[int] = mapped_column(Integer)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    registry_id: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(500))
    vin: Mapped[str | None] = mapped_column(String(17))
    registration: Mapped[str | None] = mapped_column(String(50))
    name: Mapped[str | None] = mapped_column(String(300))
    company_name: Mapped[str | None] = mapped_column(String(300))
    share_basis_points: Mapped[int | None] = mapped_column(Integer)
    chain: Mapped[str | None] = mapped_column(String(30))
    wallet_address: Mapped[str | None] = mapped_column(String(200))
    holding_asset: Mapped[str | None] = mapped_column(String(8))
    holding_minor: Mapped[int | None] = mapped_column(BigInteger)
    value_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(8))
    valued_on: Mapped[date | None] = mapped_column(Date)
    valuation_method: Mapped[str | None] = mapped_column(String(100))
    # Amount of the value held by the measure in force (None: the whole asset).
    restrained_minor: Mapped[int | None] = mapped_column(BigInteger)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    expiry_on: Mapped[date | None] = mapped_column(Date)
    renew_by: Mapped[date | None] = mapped_column(Date)
    renew_by_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    replaces_asset_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id"))
    created_by: Mapped[str] = mapped_column(ForeignKey("api_keys.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    # Every UPDATE is conditional on the version read: a concurrent change makes it match no row.
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    owners: Mapped[list["AssetOwner"]] = relationship(
        order_by="AssetOwner.party_id", lazy="selectin"
    )
    links: Mapped[list["AssetLink"]] = relationship(order_by="AssetLink.id", lazy="selectin")
    costs: Mapped[list["AssetCost"]] = relationship(order_by="AssetCost.id", lazy="selectin")
    account_key: Mapped[str | None] = column_property(
        select(Account.key).where(Account.id == account_id).scalar_subquery()
    )

    # What the API shows of the stored columns (read by `AssetRead` through from_attributes).
    @property
    def share_percent(self) -> str | None:
        return percent_of(self.share_basis_points)

    @property
    def holding_amount(self) -> str | None:
        return money_of(self.holding_minor, self.holding_asset)

    @property
    def restrained_amount(self) -> str | None:
        return money_of(self.restrained_minor, self.currency)

    @property
    def valuation(self) -> Valuation | None:
        amount = money_of(self.value_minor, self.currency)
        if amount is None or self.currency is None:
            return None
        return Valuation(amount, self.currency, self.valued_on, self.valuation_method)

    @property
    def allowed_transitions(self) -> list[LegalStatus]:
        return allowed_moves(self.status)

    def _cost_minor(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for cost in self.costs:
            totals[cost.currency] = totals.get(cost.currency, 0) + cost.amount_minor
        return totals

    @property
    def management_costs(self) -> list["MoneyTotal"]:
        return [MoneyTotal(c, from_minor(m, c)) for c, m in sorted(self._cost_minor().items())]

    @property
    def costs_exceed_value(self) -> bool:
        # Costs are recorded in the valuation's currency, so the two compare directly.
        if self.value_minor is None or self.currency is None:
            return False
        return self._cost_minor().get(self.currency, 0) > self.value_minor


class AssetOwner(Base):
    __tablename__ = "asset_owners"

    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), primary_key=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"), primary_key=True, index=True)
    share_basis_points: Mapped[int | None] = mapped_column(Integer)

    party: Mapped[Party] = relationship(lazy="joined")

    # The party's name as the reader may see it, set by `app.asset.service.name_owners`: the
    # party's row holds what its creating document stated, which the reader may not see
    # (docs/compartments.md). Not mapped (hence `__allow_unmapped__`, for this class alone);
    # unnamed, the owner is known by its key alone.
    __allow_unmapped__ = True
    seen_name: str | None = None

    @property
    def party_key(self) -> str:
        return self.party.key

    @property
    def name(self) -> str:
        return self.party.key if self.seen_name is None else self.seen_name

    @property
    def share_percent(self) -> str | None:
        return percent_of(self.share_basis_points)


class AssetLink(Base):
    """A transaction or a trace that ties the asset to the proceeds."""

    __tablename__ = "asset_links"

    id: Mapped[IdKey]
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), index=True)
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("transactions.id"), index=True)
    trace_id: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(String(500))


class RecordedAmount:
    """An amount in integer minor units, and who recorded it when (a mixin of the management
    records: valuations, costs, shares of proceeds)."""

    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(8))
    recorded_by: Mapped[str] = mapped_column(ForeignKey("api_keys.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @property
    def amount(self) -> str:
        return from_minor(self.amount_minor, self.currency)


class AssetValuation(RecordedAmount, Base):
    """One valuation of an asset (Directive (EU) 2024/1260, management): append-only; the
    latest by date is mirrored on the asset."""

    __tablename__ = "asset_valuations"

    id: Mapped[IdKey]
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), index=True)
    valued_on: Mapped[date | None] = mapped_column(Date)
    method: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str | None] = mapped_column(String(300))


class AssetCost(RecordedAmount, Base):
    """A cost of keeping an asset under restraint: storage, insurance, maintenance, fees."""

    __tablename__ = "asset_costs"

    id: Mapped[IdKey]
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    incurred_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(String(500))
