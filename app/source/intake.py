"""A JSON body received as a source document: filed where its caller may file, and hashed."""

import hashlib

from fastapi import Request

from app.filing import Filing
from app.source.schemas import SourceIn
from app.uploads import Upload

SOURCE_CASE = ("body", "source", "case_id")


async def filed_json(request: Request, filing: Filing, source: SourceIn) -> tuple[SourceIn, Upload]:
    """The body's source filed in the case the caller may file in (422 naming
    `source.case_id` otherwise), and the body as the upload the source document records."""
    case_id = await filing.checked(source.case_id, field=SOURCE_CASE)
    raw = await request.body()
    return source.filed_in(case_id), Upload(
        hashlib.sha256(raw).hexdigest(), len(raw), "application/json"
    )
