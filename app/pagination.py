"""Opaque keyset cursors, the one way a list pages, and the envelope every list answers with.

Each list owns a `CursorCodec`: its cursor is base64url JSON of `[list name, *key]`, so a cursor
decodes to a frozen key of that list's shape or is refused as one `InvalidCursor` problem,
whether it is garbage, JSON of another shape, or the cursor of another list. Repositories page
with `page` (keyset over a query) and in-memory lists with `page_slice` (a position).
"""

import base64
import binascii
import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, ClassVar, Generic, NamedTuple, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from sqlalchemy import ColumnElement, Select, tuple_
from sqlalchemy.orm import QueryableAttribute, Session

from app.deps import SettingsDep
from app.errors import InvalidInput
from app.inputs import CursorId, DueWithinDays, Instant, Text

T = TypeVar("T")
K = TypeVar("K", bound=tuple[Any, ...])
R = TypeVar("R")
M = TypeVar("M", bound=BaseModel)
# Far more than any cursor this service gives out (a list name, a time, a sequence and an id).
CURSOR_MAX_LENGTH = 512


class InvalidCursor(InvalidInput):
    code, title = "invalid_cursor", "Invalid cursor"

    def __init__(self) -> None:
        super().__init__("the cursor is not one this list gave out", field="cursor")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None

    @staticmethod
    def of(model: type[M], found: tuple[Sequence[Any], str | None]) -> "Page[M]":
        """A list's page as a service returns it (rows, next cursor), each row read as `model`."""
        rows, next_cursor = found
        return Page(items=[model.model_validate(r) for r in rows], next_cursor=next_cursor)


# The keys lists page by. Their field types are the input rules a cursor's parts must meet:
# a cursor is client input like any other, checked before it reaches a query.
class IdKey(NamedTuple):
    id: CursorId


class TimeIdKey(NamedTuple):
    at: Instant
    id: CursorId


@dataclass(frozen=True, slots=True)
class DueWindow:
    """A page of what falls due: due by `until` (the late included) in the cases `case_ids`
    (None: every case), `limit` rows by (due, id) after the key `after`."""

    until: datetime
    case_ids: Collection[int] | None
    limit: int
    after: TimeIdKey | None = None


class TimeTextKey(NamedTuple):
    """A time and a hex id (sources, traces)."""

    at: Instant
    id: Text


class TimeSeqIdKey(NamedTuple):
    """Value time, statement sequence (-1 for none) and id: an account's statement order."""

    at: Instant
    seq: Annotated[int, Field(strict=True, ge=-1)]
    id: CursorId


class TimeRankIdKey(NamedTuple):
    """A time, the rank of a row's kind at that time, and an id: a list merging kinds."""

    at: Instant
    rank: Annotated[int, Field(strict=True, ge=0, le=99)]
    id: CursorId


class Position(NamedTuple):
    """Where the next page starts in a list computed whole (a trace's rows, convergence)."""

    offset: CursorId


def _jsonable(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"a cursor key holds no {type(value).__name__}")


class CursorCodec(Generic[K]):
    """The cursor of one list: `encode` a key of type `key`, `decode` it back or refuse it."""

    names: ClassVar[dict[str, "CursorCodec[Any]"]] = {}

    def __init__(self, name: str, key: type[K]) -> None:
        if name in CursorCodec.names:
            raise ValueError(f"two lists may not share the cursor name {name!r}")
        CursorCodec.names[name] = self
        self.name, self.key = name, key
        self._adapter: TypeAdapter[K] = TypeAdapter(key)

    def __repr__(self) -> str:
        return f"CursorCodec({self.name!r}, {self.key.__name__})"

    def encode(self, key: K) -> str:
        raw = json.dumps([self.name, *key], separators=(",", ":"), default=_jsonable)
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def decode(self, cursor: str | None) -> K | None:
        """The key `cursor` holds (None for the first page), or `InvalidCursor`."""
        if cursor is None:
            return None
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            payload = json.loads(raw)
        except (ValueError, binascii.Error, RecursionError):
            raise InvalidCursor() from None
        if not isinstance(payload, list) or not payload or payload[0] != self.name:
            raise InvalidCursor()
        try:
            return self._adapter.validate_python(tuple(payload[1:]))
        except (ValueError, RecursionError, ValidationError):
            raise InvalidCursor() from None


@dataclass(frozen=True, slots=True)
class Keyset(Generic[K, R]):
    """A list's order as a keyset: the columns, their direction, and the key of a fetched row.

    `after` builds the predicate "beyond this key" when the row comparison of the columns is
    not the query wanted (the default is `(columns) > key`, or `<` when descending).
    """

    codec: CursorCodec[K]
    columns: tuple[ColumnElement[Any] | QueryableAttribute[Any], ...]
    key_of: Callable[[R], K]
    descending: bool = False
    after: Callable[[K], ColumnElement[bool]] | None = None

    def beyond(self, key: K) -> ColumnElement[bool]:
        if self.after is not None:
            return self.after(key)
        beyond: ColumnElement[bool]
        if len(self.columns) == 1:
            (column,) = self.columns
            beyond = column < key[0] if self.descending else column > key[0]
        else:
            row = tuple_(*self.columns)
            beyond = row < tuple(key) if self.descending else row > tuple(key)
        return beyond


def page(
    session: Session,
    stmt: Select[*tuple[Any, ...]],
    order: Keyset[K, R],
    *,
    limit: int,
    after: K | None,
    scalars: bool = True,
) -> tuple[list[R], str | None]:
    """One page of `stmt` in `order` after the key `after`, and the cursor of the next page."""
    if after is not None:
        stmt = stmt.where(order.beyond(after))
    columns = [c.desc() if order.descending else c for c in order.columns]
    stmt = stmt.order_by(*columns).limit(limit + 1)
    result = session.scalars(stmt) if scalars else session.execute(stmt)
    rows: list[R] = list(result)  # type: ignore[arg-type]  # `key_of` states the row type
    # One row more than the page was fetched: its presence says a next page exists.
    if len(rows) > limit:
        return rows[:limit], order.codec.encode(order.key_of(rows[limit - 1]))
    return rows, None


def page_slice(
    total: int, codec: CursorCodec[Position], *, limit: int, cursor: str | None
) -> tuple[slice, str | None]:
    """Where one page of a list computed whole (`total` items) lies, and the next cursor."""
    after = codec.decode(cursor)
    start = after.offset if after is not None else 0
    more = start + limit < total
    return slice(start, start + limit), codec.encode(Position(start + limit)) if more else None


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


class DuePage(PageParams):
    """A page of a deadline list: what falls due within `within_days` from today (0: today),
    and what is already late."""

    within_days: int


def due_page(page: PageDep, within_days: DueWithinDays = 14) -> DuePage:
    return DuePage(limit=page.limit, cursor=page.cursor, within_days=within_days)


DuePageDep = Annotated[DuePage, Depends(due_page)]
