"""What a client may send: the one check for text and the one for instants, used at every
boundary (bodies, query, path and form parameters, cursors, file cells), so that a value the
database cannot store or the model would silently bend is refused as a problem (4xx), never met
as a server error deep inside.

Text may hold no NUL (PostgreSQL cannot store it) and no lone surrogate (UTF-8 cannot encode
it; JSON's `\\ud800` escape makes one), and is capped in length. Instants carry a timezone.
Frames of uploaded rows get the same rules as Polars expressions (`text_fault`).
"""

import re
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar
from urllib.parse import unquote_to_bytes

import polars as pl
from fastapi import Path, Query, Request
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError
from starlette.convertors import Convertor, register_url_convertor

from app.errors import InvalidInput, UnreadableQuery

# Ids are 64-bit on PostgreSQL: a larger number can name no record.
MAX_ID = 2**63 - 1
# The longest text any field takes unless it states less (narratives are 2000, notes 2000).
TEXT_MAX = 10_000
NUL_FAULT = "may not contain NUL characters"
SURROGATE_FAULT = "may not contain lone surrogates (a \\ud800-\\udfff escape without its pair)"
# The words the trace parameters use (tracing.params), so every naive time reads alike.
NAIVE_FAULT = "must be timezone-aware: add Z or an offset such as +01:00"
ISO_FAULT = "must be an ISO 8601 date-time with a timezone, such as 2026-01-05T10:00:00Z"


def id_in(ref: str) -> int | None:
    """The id a reference names when it is all digits and fits a database id; None when it is
    a key or an external id instead."""
    return int(ref) if ref.isascii() and ref.isdigit() and len(ref) < 19 else None


def text_fault_of(value: str, max_length: int = TEXT_MAX) -> tuple[str, str] | None:
    """(error type, message) of what makes `value` unacceptable as text, or None."""
    if "\x00" in value:
        return "text_nul", NUL_FAULT
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "text_surrogate", SURROGATE_FAULT
    if len(value) > max_length:
        return "string_too_long", f"longer than {max_length} characters"
    return None


def text_fault_in(value: Any) -> str | None:
    """The first text fault anywhere in decoded JSON (keys and values), for streams read
    without a model (FtM lines)."""
    if isinstance(value, str):
        fault = text_fault_of(value)
        return None if fault is None else fault[1]
    items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
    if isinstance(items, list):
        return next((f for f in map(text_fault_in, items) if f is not None), None)
    return None


def _text(value: str) -> str:
    if fault := text_fault_of(value):
        raise PydanticCustomError(*fault)
    return value


def checked_text(value: str, *, field: str, max_length: int) -> str:
    """`Text`'s rule where no model reads the value (an upload's file name and media type)."""
    if fault := text_fault_of(value, max_length):
        raise InvalidInput(f"{field} {fault[1]}", field=field)
    return value


_ISO_START = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ]")
_SUB_MICROSECOND = re.compile(r":[0-9]{2}[.,][0-9]{7,}")


def _iso_text(value: Any) -> Any:
    # A number (or a numeric string, as a query gives it) would be read as seconds since 1970,
    # and a bare date as its naive midnight: never what a date-time field means.
    if isinstance(value, str) and _SUB_MICROSECOND.search(value):
        # Kept to the microsecond; a finer time would be cut without a word.
        raise PydanticCustomError("datetime_precision", "has more than 6 decimals of a second")
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO_START.match(value)):
        return value
    raise PydanticCustomError("datetime_type", ISO_FAULT)


def _aware(value: datetime) -> datetime:
    if value.utcoffset() is None:
        raise PydanticCustomError("timezone_aware", NAIVE_FAULT)
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError("datetime_range", "is out of range once read as UTC") from None
    return value


Text = Annotated[str, AfterValidator(_text)]
"""Any text a client sends: no NUL, no lone surrogate, at most `TEXT_MAX` characters (a field
states its own, smaller cap with `Field(max_length=...)`)."""

Instant = Annotated[
    datetime,
    BeforeValidator(_iso_text),
    AfterValidator(_aware),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""A point in time with its timezone, from an ISO 8601 string."""

Note = Annotated[Text | None, Field(max_length=500)]
"""A short remark beside a record (None: none given)."""
Remark = Annotated[Text | None, Field(max_length=2000)]
"""A longer remark: a subject's or a measure's note."""

CursorId = Annotated[int, Field(strict=True, ge=0, le=MAX_ID)]

CaseIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The case's id.")]
AssetIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The asset's id.")]
PartyRefPath = Annotated[
    Text, Path(max_length=300, description="Party key (e.g. person:DE-ID-L01X00T47) or numeric id.")
]
ApiKeyIdPath = Annotated[
    str, Path(pattern=r"^[0-9a-f]{1,32}$", description="The member's API key id.")
]
TransactionRefPath = Annotated[
    Text, Path(max_length=200, description="Numeric id or the source's external id.")
]
AccountRefPath = Annotated[
    Text, Path(max_length=300, description="Account key (e.g. iban:DE89...) or numeric id.")
]


class KeyConvertor(Convertor[str]):
    """A key in a path that may hold slashes (`bank:<institution>/<number>`, a party's
    `person:ssn:.../name:...`), as `{name:path}` takes it, but never ending in one of the words
    the key's own routes put after it: `GET .../corrections`, whose route takes only POST, is
    then no read of a key ending in `/corrections`, and answers 405; and no route's order
    decides which of them a path is."""

    suffixes: tuple[str, ...] = ()

    def __init_subclass__(cls) -> None:
        cls.regex = ".+" + "".join(f"(?<!/{re.escape(s)})" for s in cls.suffixes)

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class AccountKey(KeyConvertor):
    """`{account:account_key}`: the routes after it are app.account's and app.transaction's."""

    suffixes = ("corrections", "history", "transactions")


class PartyKey(KeyConvertor):
    """`{party:party_key}`: the routes after it are app.resolution's."""

    suffixes = ("candidates", "same-as", "same-as/undo")


register_url_convertor("account_key", AccountKey())
register_url_convertor("party_key", PartyKey())

DueWithinDays = Annotated[
    int, Query(ge=0, le=3660, description="Due within this many days from now.")
]
"""The horizon of a list of deadlines (today is 0); the ones already passed are listed too."""
DocumentIdPath = Annotated[Text, Path(max_length=64, description="The source document's id.")]
TraceIdPath = Annotated[Text, Path(max_length=64, description="The trace's id.")]
KeyIdPath = Annotated[Text, Path(max_length=64, description="The API key's id.")]


_M = TypeVar("_M", bound=BaseModel)


def one_of(first: str, second: str, fault: str) -> Any:
    """A body's model validator: exactly one of two fields is given (else `fault`, a 422)."""

    def check(model: _M) -> _M:
        if (getattr(model, first) is None) == (getattr(model, second) is None):
            raise ValueError(fault)
        return model

    return model_validator(mode="after")(check)


class Body(BaseModel):
    """A request body: unknown fields are refused; its text fields are `Text`."""

    model_config = ConfigDict(extra="forbid")


async def query_is_utf8(request: Request) -> None:
    """Refuse a query whose percent-escapes are not UTF-8 (`%ED%A0%80`, a lone surrogate's
    would-be bytes): Starlette would read each as U+FFFD and filter on that without a word.

    Async: every request passes this check, and a plain function would cost each a round trip
    to a worker thread and back (FastAPI runs sync dependencies in its thread pool)."""
    raw = request.scope.get("query_string", b"")
    if b"%" not in raw:
        return
    try:
        unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise UnreadableQuery("the query's percent-escapes are not UTF-8") from None


def storable(value: str) -> str:
    """Text as it may be recorded whatever it holds (the audit trail records every request,
    even one refused for its text): NUL and lone surrogates written as backslash escapes."""
    return value.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")


def text_fault(column: pl.Expr) -> pl.Expr:
    """`Text`'s rule over a column of uploaded cells: the fault, or null. (Polars strings are
    UTF-8, so a lone surrogate cannot reach a frame; length caps are each column's own.)"""
    return pl.when(column.str.contains("\x00", literal=True)).then(pl.lit(NUL_FAULT))
