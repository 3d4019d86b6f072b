from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.asset.models import Asset, AssetCost, AssetLink, AssetOwner, AssetValuation
from app.db import table_of
from app.pagination import CursorCodec, DueWindow, IdKey, Keyset, TimeIdKey, page

ASSETS = CursorCodec("assets", IdKey)
DEADLINES = CursorCodec("deadlines", TimeIdKey)
BY_ID: Keyset[IdKey, Asset] = Keyset(ASSETS, (Asset.id,), lambda asset: IdKey(asset.id))


def _deadline_key(asset: Asset) -> TimeIdKey:
    assert asset.expires_at is not None  # the query takes only assets that expire
    return TimeIdKey(asset.expires_at, asset.id)


VALUATIONS = CursorCodec("asset_valuations", IdKey)
COSTS = CursorCodec("asset_costs", IdKey)
BY_VALUATION: Keyset[IdKey, AssetValuation] = Keyset(
    VALUATIONS, (AssetValuation.id,), lambda v: IdKey(v.id)
)
BY_COST: Keyset[IdKey, AssetCost] = Keyset(COSTS, (AssetCost.id,), lambda c: IdKey(c.id))
BY_EXPIRY: Keyset[TimeIdKey, Asset] = Keyset(DEADLINES, (Asset.expires_at, Asset.id), _deadline_key)


class AssetRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, asset_id: int) -> Asset | None:
        return self.session.get(Asset, asset_id)

    def add(self, asset: Asset) -> Asset:
        self.session.add(asset)
        self.session.flush()
        return asset

    def add_owner(self, owner: AssetOwner) -> None:
        self.session.add(owner)

    def add_link(self, link: AssetLink) -> None:
        self.session.add(link)

    def add_valuation(self, valuation: AssetValuation) -> AssetValuation:
        self.session.add(valuation)
        self.session.flush()
        return valuation

    def valuations(self, asset_id: int) -> list[AssetValuation]:
        stmt = select(AssetValuation).where(AssetValuation.asset_id == asset_id)
        return list(self.session.scalars(stmt.order_by(AssetValuation.id)))

    def page_valuations(
        self, asset_id: int, *, limit: int, after: IdKey | None
    ) -> tuple[list[AssetValuation], str | None]:
        stmt = select(AssetValuation).where(AssetValuation.asset_id == asset_id)
        return page(self.session, stmt, BY_VALUATION, limit=limit, after=after)

    def mirror_valuation(self, asset: Asset, valuation: AssetValuation) -> None:
        """Show `valuation` on the asset without a new version: the version counts legal moves
        (it is the seq of the event in force), and a valuation is none."""
        table = table_of(Asset)
        self.session.execute(
            update(table)
            .where(table.c.id == asset.id)
            .values(
                value_minor=valuation.amount_minor,
                currency=valuation.currency,
                valued_on=valuation.valued_on,
                valuation_method=valuation.method,
            )
        )
        self.session.expire(asset, ["value_minor", "currency", "valued_on", "valuation_method"])

    def add_cost(self, cost: AssetCost) -> AssetCost:
        self.session.add(cost)
        self.session.flush()
        return cost

    def page_costs(
        self, asset_id: int, *, limit: int, after: IdKey | None
    ) -> tuple[list[AssetCost], str | None]:
        stmt = select(AssetCost).where(AssetCost.asset_id == asset_id)
        return page(self.session, stmt, BY_COST, limit=limit, after=after)

    def substitute_of(self, asset_id: int) -> Asset | None:
        stmt = select(Asset).where(Asset.replaces_asset_id == asset_id).order_by(Asset.id)
        return self.session.scalars(stmt).first()

    def page(
        self, case_id: int, *, limit: int, after: IdKey | None, status: str | None
    ) -> tuple[list[Asset], str | None]:
        stmt = select(Asset).where(Asset.case_id == case_id)
        if status is not None:
            stmt = stmt.where(Asset.status == status)
        return page(self.session, stmt, BY_ID, limit=limit, after=after)

    def of_case(self, case_id: int) -> list[Asset]:
        stmt = select(Asset).where(Asset.case_id == case_id).order_by(Asset.id)
        return list(self.session.scalars(stmt))

    def on_account(self, account_id: int, *, statuses: Collection[str]) -> list[Asset]:
        stmt = select(Asset).where(Asset.account_id == account_id, Asset.status.in_(statuses))
        return list(self.session.scalars(stmt.order_by(Asset.id)))

    def lapsed(self, now: datetime, *, statuses: Collection[str]) -> list[Asset]:
        stmt = select(Asset).where(Asset.expires_at <= now, Asset.status.in_(statuses))
        return list(self.session.scalars(stmt.order_by(Asset.expires_at, Asset.id)))

    def expiring(
        self, window: DueWindow, *, statuses: Collection[str]
    ) -> tuple[list[Asset], str | None]:
        stmt = select(Asset).where(Asset.expires_at <= window.until, Asset.status.in_(statuses))
        if window.case_ids is not None:
            stmt = stmt.where(Asset.case_id.in_(window.case_ids))
        return page(self.session, stmt, BY_EXPIRY, limit=window.limit, after=window.after)

    def holdings(self, case_ids: Collection[int] | None) -> list[tuple[int, str, int]]:
        """(case id, `party` or `account`, id) for every asset owner and bank-balance account."""
        owners = select(Asset.case_id, AssetOwner.party_id).join(
            AssetOwner, AssetOwner.asset_id == Asset.id
        )
        accounts = select(Asset.case_id, Asset.account_id).where(Asset.account_id.is_not(None))
        if case_ids is not None:
            owners = owners.where(Asset.case_id.in_(case_ids))
            accounts = accounts.where(Asset.case_id.in_(case_ids))
        rows = [(c, "party", p) for c, p in self.session.execute(owners)]
        rows += [(c, "account", a) for c, a in self.session.execute(accounts) if a is not None]
        return rows
