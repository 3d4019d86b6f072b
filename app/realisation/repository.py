from collections.abc import Collection
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.asset.models import Asset
from app.pagination import CursorCodec, DueWindow, IdKey, Keyset, TimeIdKey, page
from app.realisation.models import InterlocutorySale, ProceedsShare

SALES = CursorCodec("interlocutory_sales", IdKey)
BY_ID: Keyset[IdKey, InterlocutorySale] = Keyset(
    SALES, (InterlocutorySale.id,), lambda sale: IdKey(sale.id)
)

DUE = CursorCodec("sale_deadlines", TimeIdKey)
BY_DUE: Keyset[TimeIdKey, Any] = Keyset(
    DUE,
    (InterlocutorySale.sell_by_at, InterlocutorySale.id),
    lambda row: TimeIdKey(row[0].sell_by_at, row[0].id),
)


class RealisationRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: InterlocutorySale | ProceedsShare) -> None:
        self.session.add(row)
        self.session.flush()

    def sale(self, asset_id: int, sale_id: int) -> InterlocutorySale | None:
        sale = self.session.get(InterlocutorySale, sale_id)
        return sale if sale is not None and sale.asset_id == asset_id else None

    def open_sale(self, asset_id: int) -> InterlocutorySale | None:
        stmt = select(InterlocutorySale).where(
            InterlocutorySale.asset_id == asset_id, InterlocutorySale.status == "ordered"
        )
        return self.session.scalars(stmt.order_by(InterlocutorySale.id)).first()

    def page_sales(
        self, asset_id: int, *, limit: int, after: IdKey | None
    ) -> tuple[list[InterlocutorySale], str | None]:
        stmt = select(InterlocutorySale).where(InterlocutorySale.asset_id == asset_id)
        return page(self.session, stmt, BY_ID, limit=limit, after=after)

    def due(
        self, window: DueWindow, *, statuses: Collection[str]
    ) -> tuple[list[tuple[InterlocutorySale, Asset]], str | None]:
        """Orders not carried out, due within the window, whose asset is still held in
        `statuses`, each with its asset."""
        stmt = (
            select(InterlocutorySale, Asset)
            .join(Asset, Asset.id == InterlocutorySale.asset_id)
            .where(
                InterlocutorySale.status == "ordered",
                InterlocutorySale.sell_by_at <= window.until,
                Asset.status.in_(statuses),
            )
        )
        if window.case_ids is not None:
            stmt = stmt.where(Asset.case_id.in_(window.case_ids))
        rows, next_cursor = page(
            self.session, stmt, BY_DUE, limit=window.limit, after=window.after, scalars=False
        )
        return [(sale, asset) for sale, asset in rows], next_cursor

    def shares(self, asset_id: int) -> list[ProceedsShare]:
        stmt = select(ProceedsShare).where(ProceedsShare.asset_id == asset_id)
        return list(self.session.scalars(stmt.order_by(ProceedsShare.id)))
