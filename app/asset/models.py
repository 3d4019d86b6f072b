from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, BigId, Jurisdiction, UTCDateTime


class Asset(Base):
    """Anything that can be frozen or confiscated, with its current legal status.

    `status`, `version` and the expiry columns mirror the latest measure (the event whose `seq`
    equals `version`), so that a transition is one conditional update of this row.
    """

    __tablename__ = "assets"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
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


class AssetOwner(Base):
    __tablename__ = "asset_owners"

    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), primary_key=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("parties.id"), primary_key=True, index=True)
    share_basis_points: Mapped[int | None] = mapped_column(Integer)


class AssetLink(Base):
    """A transaction or a trace that ties the asset to the proceeds."""

    __tablename__ = "asset_links"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), index=True)
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("transactions.id"), index=True)
    trace_id: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(String(500))
