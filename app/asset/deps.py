"""Route dependencies of the asset domain."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import Depends
from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.asset import service as asset_service
from app.auth import CaseReader, PrincipalDep
from app.deps import SessionDep
from app.inputs import AssetIdPath
from app.pagination import Page, PageDep, PageParams
from app.principal import Principal

M = TypeVar("M", bound=BaseModel)


def visible_asset(asset_id: AssetIdPath, session: SessionDep, actor: PrincipalDep) -> int:
    """404 for an asset the caller may not see, before the body or its If-Match is looked at
    (as `app.case.deps.visible_case`)."""
    return asset_service.get_asset(session, asset_id, actor=actor).id


# Declare after the scope rule (the `actor` parameter): a role without the scope gets 403 first.
VisibleAsset = Annotated[int, Depends(visible_asset)]


class AssetRecords(Protocol):
    """A service's page of one kind of an asset's records (valuations, costs, measures, sale
    orders), of an asset the caller may see: (rows, next cursor)."""

    def __call__(
        self, session: Session, asset_id: int, *, actor: Principal, limit: int, cursor: str | None
    ) -> tuple[Sequence[Any], str | None]: ...


@dataclass(frozen=True, slots=True)
class AssetListing:
    """A request for a page of one asset's records: the asset, the case reader, the page."""

    asset_id: int
    session: Session
    actor: Principal
    page: PageParams

    def of(self, model: type[M], records: AssetRecords) -> Page[M]:
        found = records(
            self.session,
            self.asset_id,
            actor=self.actor,
            limit=self.page.limit,
            cursor=self.page.cursor,
        )
        return Page.of(model, found)


def asset_listing(
    asset_id: AssetIdPath, session: SessionDep, actor: CaseReader, page: PageDep
) -> AssetListing:
    return AssetListing(asset_id, session, actor, page)


AssetListingDep = Annotated[AssetListing, Depends(asset_listing)]
