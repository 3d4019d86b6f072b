from typing import Annotated

from fastapi import APIRouter, Path, Response

from app.asset.deps import AssetListingDep, VisibleAsset
from app.auth import CaseReader, MeasureWriter
from app.deps import SessionDep
from app.errors import problems
from app.inputs import MAX_ID, AssetIdPath
from app.pagination import DuePageDep, Page
from app.preconditions import ExpectedVersion, move_responses, tagged
from app.realisation import service
from app.realisation.schemas import (
    AllocationCreate,
    AllocationRead,
    SaleCreate,
    SaleOrderCreate,
    SaleRead,
)

router = APIRouter(prefix="/api/v1", tags=["asset management"])
SaleIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The sale order's id.")]


@router.post(
    "/assets/{asset_id}/sale-orders", status_code=201, responses=problems(403, 404, 409, 422)
)
def create_sale_order(
    asset_id: AssetIdPath,
    body: SaleOrderCreate,
    session: SessionDep,
    actor: MeasureWriter,
    visible: VisibleAsset,
) -> SaleRead:
    """Record an order to sell a frozen or seized asset before final confiscation.

    Grounds: perishable, rapidly depreciating, or disproportionately costly to keep (Directive
    (EU) 2024/1260). The sale is due by `sell_by`, counted from the decision as measures'
    deadlines are (working days skip the jurisdiction's holidays); an order not carried out by
    then is `overdue`. One order at a time per asset; the asset's legal status does not change
    until the sale.
    """
    return SaleRead.model_validate(service.order_sale(session, asset_id, body, actor=actor))


@router.get("/assets/{asset_id}/sale-orders", responses=problems(403, 404, 422))
def list_sale_orders(listing: AssetListingDep) -> Page[SaleRead]:
    """List an asset's interlocutory sale orders in the order made."""
    return listing.of(SaleRead, service.page_sales)


@router.get("/sale-orders", tags=["deadlines"], responses=problems(403, 422))
def list_due_sale_orders(
    session: SessionDep,
    actor: CaseReader,
    due: DuePageDep,
) -> Page[SaleRead]:
    """List interlocutory sales of the caller's cases due soon (or late), soonest first.

    Only orders not yet carried out whose asset is still frozen or seized.
    """
    return Page.of(
        SaleRead,
        service.page_due_sales(session, actor=actor, due=due),
    )


@router.post(
    "/assets/{asset_id}/sale-orders/{sale_id}/sale",
    responses=move_responses(403, 404, 409, 422),
)
def create_sale(
    asset_id: AssetIdPath,
    sale_id: SaleIdPath,
    body: SaleCreate,
    expected: ExpectedVersion,
    response: Response,
    session: SessionDep,
    actor: MeasureWriter,
    visible: VisibleAsset,
) -> SaleRead:
    """Record the sale that carries out an order: the asset moves to SUBSTITUTED.

    Needs `If-Match` with the asset's ETag (the sale is a legal move). The price becomes a new
    cash asset (`substitute_asset_id`, whose `replaces_asset_id` names the sold one) in the
    sold asset's legal position: FROZEN or SEIZED as it was, under the same order and deadline.
    The response's ETag is the sold asset's.
    """
    sale, version = service.record_sale(
        session, asset_id, sale_id, body, condition=expected, actor=actor
    )
    return tagged(response, version, SaleRead.model_validate(sale))


@router.post(
    "/assets/{asset_id}/allocation", status_code=201, responses=problems(403, 404, 409, 422)
)
def create_allocation(
    asset_id: AssetIdPath,
    body: AllocationCreate,
    session: SessionDep,
    actor: MeasureWriter,
    visible: VisibleAsset,
) -> AllocationRead:
    """Allocate a realised asset's proceeds to victims and the state, once.

    The proceeds are the amount the move to REALISED recorded (confiscated cash or a balance:
    its value). Each victim's share is given; the state receives the rest, so the shares sum
    exactly to the proceeds (422 when the victims' shares exceed them).
    """
    allocation = service.allocate_proceeds(session, asset_id, body, actor=actor)
    return AllocationRead.model_validate(allocation)


@router.get("/assets/{asset_id}/allocation", responses=problems(403, 404, 422))
def get_allocation(asset_id: AssetIdPath, session: SessionDep, actor: CaseReader) -> AllocationRead:
    """Get how an asset's proceeds were allocated to victims and the state."""
    return AllocationRead.model_validate(service.get_allocation(session, asset_id, actor=actor))
