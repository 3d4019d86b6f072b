"""Opaque keyset cursors and the page envelope every list answers with."""

import base64
import json
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

from app.deps import SettingsDep
from app.errors import InvalidInput

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(key: list[Any]) -> str:
    raw = json.dumps(key, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, arity: int) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except ValueError:
        key = None
    if not isinstance(key, list) or len(key) != arity:
        raise InvalidInput("the cursor is not one this list gave out", field="cursor")
    return key


class PageParams(BaseModel):
    limit: int
    cursor: str | None


def page_params(
    settings: SettingsDep,
    limit: Annotated[int | None, Query(ge=1, description="Items per page (clamped).")] = None,
    cursor: Annotated[
        str | None,
        Query(pattern=r"^[A-Za-z0-9_-]*$", description="`next_cursor` of the previous page."),
    ] = None,
) -> PageParams:
    wanted = limit or settings.page_limit_default
    # `cursor=` (empty) is the first page, as leaving it out is: the document allows it.
    return PageParams(limit=min(wanted, settings.page_limit_max), cursor=cursor or None)


PageDep = Annotated[PageParams, Depends(page_params)]
