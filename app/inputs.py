"""Guards shared by the case, asset and measure APIs: request bodies, path ids and cursors that
the database could not take are refused as problems (4xx), never as a server error."""

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, BeforeValidator, ConfigDict, field_validator

from app.errors import InvalidInput
from app.pagination import decode_cursor

# Ids are 64-bit on PostgreSQL: a larger number can name no record.
MAX_ID = 2**63 - 1
CaseIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The case's id.")]
AssetIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The asset's id.")]
ApiKeyIdPath = Annotated[
    str, Path(pattern=r"^[0-9a-f]{1,32}$", description="The member's API key id.")
]


_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


def _not_a_number(value: Any) -> Any:
    # pydantic reads a bare number as seconds since 1970; the document promises a date-time.
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("a time is an ISO 8601 date-time, e.g. 2026-01-31T09:00:00Z")
    return value


# A date-time as the document describes it (a string in ISO 8601), never a count of seconds.
ISO_ONLY = BeforeValidator(_not_a_number)
IsoDatetime = Annotated[datetime, ISO_ONLY]


class Body(BaseModel):
    """A request body: unknown fields are refused, and text may hold no NUL character (which
    PostgreSQL cannot store)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("text may not contain NUL characters")
        return value


def _bad_cursor() -> InvalidInput:
    return InvalidInput("the cursor is not one this list gave out", field="cursor")


def int_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    (value,) = decode_cursor(cursor, arity=1)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_ID:
        raise _bad_cursor()
    return value


def time_id_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    if cursor is None:
        return None
    at, last_id = decode_cursor(cursor, arity=2)
    try:
        when = datetime.fromisoformat(str(at))
    except ValueError:
        raise _bad_cursor() from None
    if when.tzinfo is None or not isinstance(last_id, int) or not 0 <= last_id <= MAX_ID:
        raise _bad_cursor()
    return when, last_id
