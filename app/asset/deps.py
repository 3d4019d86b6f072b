"""Route dependencies of the asset domain."""

from typing import Annotated

from fastapi import Depends

from app.asset import service as asset_service
from app.auth import PrincipalDep
from app.deps import SessionDep
from app.inputs import AssetIdPath


def visible_asset(asset_id: AssetIdPath, session: SessionDep, actor: PrincipalDep) -> int:
    """404 for an asset the caller may not see, before the body or its If-Match is looked at
    (as `app.case.deps.visible_case`)."""
    return asset_service.get_asset(session, asset_id, actor=actor).id


# Declare after the scope rule (the `actor` parameter): a role without the scope gets 403 first.
VisibleAsset = Annotated[int, Depends(visible_asset)]
