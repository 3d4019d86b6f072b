from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.asset import service
from app.asset.deps import AssetListingDep, VisibleAsset
from app.asset.machine import LegalStatus
from app.asset.schemas import (
    AssetRead,
    CostCreate,
    CostRead,
    LinksCreate,
    ValuationCreate,
    ValuationHistoryRead,
)
from app.auth import CaseWriter
from app.compartments import CaseView, CompartmentsDep
from app.deps import SessionDep
from app.errors import problems
from app.inputs import AssetIdPath, CaseIdPath
from app.pagination import Page, PageDep
from app.preconditions import tagged_read, tagged_responses

router = APIRouter(prefix="/api/v1", tags=["assets"])


@router.get("/cases/{case_id}/assets", responses=problems(403, 404, 422))
def list_case_assets(
    case_id: CaseIdPath,
    view: CaseView,
    page: PageDep,
    status: Annotated[LegalStatus | None, Query(description="Only assets in this status.")] = None,
) -> Page[AssetRead]:
    """List the assets of a case in the order they were registered."""
    return Page.of(
        AssetRead,
        service.page_assets(
            view.session,
            case_id,
            actor=view.actor,
            limit=page.limit,
            cursor=page.cursor,
            status=status,
            compartments=view.compartments,
        ),
    )


@router.get("/assets/{asset_id}", responses=tagged_responses(403, 404))
def get_asset(asset_id: AssetIdPath, response: Response, view: CaseView) -> AssetRead:
    """Get an asset with its legal status, the moves allowed now, and its ETag."""
    asset = service.asset_as_seen(
        view.session, asset_id, actor=view.actor, compartments=view.compartments
    )
    return tagged_read(response, AssetRead.model_validate(asset))


@router.post(
    "/assets/{asset_id}/links",
    responses=tagged_responses(403, 404, 422),
)
def add_asset_links(
    asset_id: AssetIdPath,
    body: LinksCreate,
    response: Response,
    session: SessionDep,
    actor: CaseWriter,
    visible: VisibleAsset,
    compartments: CompartmentsDep,
) -> AssetRead:
    """Tie an asset to transactions or traces that link it to the proceeds."""
    asset = service.add_links(session, asset_id, body.links, actor=actor, compartments=compartments)
    return tagged_read(response, AssetRead.model_validate(asset))


@router.post("/assets/{asset_id}/valuations", status_code=201, responses=problems(403, 404, 422))
def create_asset_valuation(
    asset_id: AssetIdPath,
    body: ValuationCreate,
    session: SessionDep,
    actor: CaseWriter,
    visible: VisibleAsset,
) -> ValuationHistoryRead:
    """Record a valuation of an asset; the asset shows the latest by date.

    A revaluation is in the asset's currency (measures hold parts of its value in it). It
    changes no legal status, so the asset's ETag stays as it is.
    """
    valuation = service.revalue_asset(session, asset_id, body, actor=actor)
    return ValuationHistoryRead.model_validate(valuation)


@router.get("/assets/{asset_id}/valuations", responses=problems(403, 404, 422))
def list_asset_valuations(listing: AssetListingDep) -> Page[ValuationHistoryRead]:
    """List an asset's valuations in the order recorded, the one given at registration first."""
    return listing.of(ValuationHistoryRead, service.page_valuations)


@router.post("/assets/{asset_id}/costs", status_code=201, responses=problems(403, 404, 422))
def create_asset_cost(
    asset_id: AssetIdPath,
    body: CostCreate,
    session: SessionDep,
    actor: CaseWriter,
    visible: VisibleAsset,
) -> CostRead:
    """Record a cost of keeping an asset (storage, insurance, maintenance, fees).

    The asset totals its costs beside its value and flags `costs_exceed_value` when keeping it
    costs more than it is worth.
    """
    return CostRead.model_validate(service.add_cost(session, asset_id, body, actor=actor))


@router.get("/assets/{asset_id}/costs", responses=problems(403, 404, 422))
def list_asset_costs(listing: AssetListingDep) -> Page[CostRead]:
    """List the costs recorded for an asset in the order recorded."""
    return listing.of(CostRead, service.page_costs)
