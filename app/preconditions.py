"""Optimistic concurrency: a record's version is its ETag; a write must send it as If-Match."""

import re
from dataclasses import dataclass
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import Depends, Header, Response
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.errors import AppError, problems
from app.inputs import Text

B = TypeVar("B")


class Versioned(Protocol):
    @property
    def version(self) -> int: ...


V = TypeVar("V", bound=Versioned)
_ETAG = re.compile(r'^"(\d{1,9})"$')


class PreconditionFailed(AppError):
    status, code, title = 412, "precondition_failed", "Precondition failed"

    def __init__(self, current: int | None) -> None:
        super().__init__(
            "the record changed since it was read: read it again and resend with its new ETag",
            current_etag=etag_of(current) if current is not None else None,
        )


class PreconditionRequired(AppError):
    status, code, title = 428, "precondition_required", "Precondition required"

    def __init__(self) -> None:
        super().__init__(
            "this change can race with others: send If-Match with the ETag of the record as read"
        )


def etag_of(version: int) -> str:
    return f'"{version}"'


def tagged(response: Response, version: int, body: B) -> B:
    """`body`, answered with the ETag of the record's `version` (what the next If-Match of a
    move names): the one way a route that reads or moves a versioned record sets it."""
    response.headers["ETag"] = etag_of(version)
    return body


def tagged_read(response: Response, read: V) -> V:
    """A read of a versioned record, answered with its own ETag."""
    return tagged(response, read.version, read)


@dataclass(frozen=True, slots=True)
class IfMatch:
    """What a request's If-Match header asks for; checked once the record is known to exist
    for the caller, so that a caller who may not see it gets 404, not 428."""

    sent: bool
    # None when sent: `If-Match: *`, which any current version matches.
    version: int | None = None


def check_version(condition: IfMatch, current: int) -> None:
    if not condition.sent:
        raise PreconditionRequired()
    if condition.version is not None and condition.version != current:
        raise PreconditionFailed(current)


def flush_or_precondition_failed(session: Session) -> None:
    """Flush conditional updates; a writer that lost a race answers 412, never 500."""
    try:
        session.flush()
    except StaleDataError:
        # The versioned UPDATE matched no row: another request committed first.
        session.rollback()
        raise PreconditionFailed(None) from None
    except OperationalError as exc:
        # SQLite serialises writers: the loser of a race finds its snapshot outdated (or times
        # out waiting) and reports the database as locked.
        if session.bind is None or session.bind.dialect.name != "sqlite":
            raise
        if "locked" not in str(exc.orig):
            raise
        session.rollback()
        raise PreconditionFailed(None) from None


def if_match(
    header: Annotated[
        Text | None,
        Header(
            alias="If-Match",
            max_length=100,
            description='The ETag of the record as last read, e.g. `"3"`.',
            examples=['"3"'],
        ),
    ] = None,
) -> IfMatch:
    if header is None:
        return IfMatch(sent=False)
    value = header.strip()
    if value == "*":
        return IfMatch(sent=True)
    if (match := _ETAG.match(value)) is None:
        # Never matches a stored version: the check answers 412 with the current ETag.
        return IfMatch(sent=True, version=-1)
    return IfMatch(sent=True, version=int(match.group(1)))


ExpectedVersion = Annotated[IfMatch, Depends(if_match)]
ETAG_HEADER: dict[str, Any] = {
    "ETag": {
        "description": "The record's version; send it back as If-Match to change the record.",
        "schema": {"type": "string", "example": '"3"'},
    }
}


def tagged_responses(*statuses: int, ok: int = 200) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a route that answers a versioned record: its problems (`statuses`), and
    on success (`ok`) the record's ETag."""
    return {**problems(*statuses), ok: {"headers": ETAG_HEADER}}


def move_responses(*statuses: int, ok: int = 200) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a move that needs If-Match: 412 when the record changed since it was
    read, 428 without the header, and the new ETag on success."""
    return tagged_responses(*statuses, 412, 428, ok=ok)
