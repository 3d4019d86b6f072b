"""Opaque keyset cursors and the page envelope every list answers with."""

import base64
import binascii
import json
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, TypeAdapter, ValidationError

from app.deps import SettingsDep
from app.errors import InvalidInput
from app.inputs import CursorId, Instant, Text

T = TypeVar("T")
# Far more than any cursor this service gives out (a time, a sequence and an id).
CURSOR_MAX_LENGTH = 512


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(key: list[Any]) -> str:
    raw = json.dumps(key, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@cache
def _adapter(shape: Any) -> TypeAdapter[Any]:
    return TypeAdapter(shape)


def decode_cursor(cursor: str, shape: Any) -> Any:
    """The key a cursor holds, checked against the `shape` (a tuple type) of the list's keys.

    A cursor is client input like any other: one that is not base64 JSON of that shape, with
    text that is `Text` and times that are `Instant`, is refused before it reaches a query.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return _adapter(shape).validate_python(json.loads(raw))
    except (ValueError, binascii.Error, RecursionError, ValidationError):
        raise InvalidInput("the cursor is not one this list gave out", field="cursor") from None


def int_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    (value,) = decode_cursor(cursor, tuple[CursorId])
    return int(value)


def time_id_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    if cursor is None:
        return None
    at, last_id = decode_cursor(cursor, tuple[Instant, CursorId])
    return at, last_id


def time_text_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    """The (time, text id) key of lists ordered by a time and a hex id (sources, traces)."""
    if cursor is None:
        return None
    at, last_id = decode_cursor(cursor, tuple[Instant, Text])
    return at, last_id


class PageParams(BaseModel):
    limit: int
    cursor: str | None


def page_params(
    settings: SettingsDep,
    limit: Annotated[int | None, Query(ge=1, description="Items per page (clamped).")] = None,
    cursor: Annotated[
        str | None,
        Query(
            pattern=r"^[A-Za-z0-9_-]*$",
            max_length=CURSOR_MAX_LENGTH,
            description="`next_cursor` of the previous page.",
        ),
    ] = None,
) -> PageParams:
    wanted = limit or settings.page_limit_default
    # `cursor=` (empty) is the first page, as leaving it out is: the document allows it.
    return PageParams(limit=min(wanted, settings.page_limit_max), cursor=cursor or None)


PageDep = Annotated[PageParams, Depends(page_params)]
