"""A JSON body received as a source document: filed where its caller may file, and hashed."""

import hashlib
from typing import TypeVar

from fastapi import Request

from app.filing import Filing
from app.source.schemas import Sourced
from app.uploads import Upload

SOURCE_CASE = ("body", "source", "case_id")
S = TypeVar("S", bound=Sourced)


async def filed_json(request: Request, filing: Filing, body: S) -> tuple[S, Upload]:
    """The body with its source filed in the case the caller may file in (422 naming
    `source.case_id` otherwise), and the body as the upload the source document records."""
    case_id = await filing.checked(body.source.case_id, field=SOURCE_CASE)
    raw = await request.body()
    filed = body.model_copy(update={"source": body.source.filed_in(case_id)})
    return filed, Upload(hashlib.sha256(raw).hexdigest(), len(raw), "application/json")
