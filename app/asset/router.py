from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.asset import service
from app.asset.deps import VisibleAsset
from app.asset.machine import LegalStatus
from app.asset.schemas import AssetRead, LinksCreate
from app.auth import CaseReader, CaseWriter
from app.deps import SessionDep
from app.errors import problems
from app.inputs import AssetIdPath, CaseIdPath
from app.pagination import Page, PageDep
from app.preconditions import ETAG_HEADER, etag_of

router = APIRouter(prefix="/api/v1", tags=["assets"])


def read_asset(asset: AssetRead, response: Response) -> AssetRead:
    response.headers["ETag"] = etag_of(asset.version)
    return asset


@router.get("/cases/{case_id}/assets", responses=problems(403, 404, 422))
def list_case_assets(
    case_id: CaseIdPath,
    session: SessionDep,
    actor: CaseReader,
    page: PageDep,
    status: Annotated[LegalStatus | None, Query(description="Only assets in this status.")] = None,
) -> Page[AssetRead]:
    """List the assets of a case in the order they were registered."""
    rows, next_cursor = service.page_assets(
        session, case_id, actor=actor, limit=page.limit, cursor=page.cursor, status=status
    )
    return Page(items=[AssetRead.model_validate(a) for a in rows], next_cursor=next_cursor)


@router.get("/assets/{asset_id}", responses={**problems(403, 404), 200: {"headers": ETAG_HEADER}})
def get_asset(
    asset_id: AssetIdPath, response: Response, session: SessionDep, actor: CaseReader
) -> AssetRead:
    """Get an asset with its legal status, the moves allowed now, and its ETag."""
    asset = service.get_asset(session, asset_id, actor=actor)
    return read_asset(AssetRead.model_validate(asset), response)


@router.post(
    "/assets/{asset_id}/links",
    responses={**problems(403, 404, 422), 200: {"headers": ETAG_HEADER}},
)
def add_asset_links(
    asset_id: AssetIdPath,
    body: LinksCreate,
    response: Response,
    session: SessionDep,
    actor: CaseWriter,
    visible: VisibleAsset,
) -> AssetRead:
    """Tie an asset to transactions or traces that link it to the proceeds."""
    asset = service.add_links(session, asset_id, body.links, actor=actor)
    return read_asset(AssetRead.model_validate(asset), response)
