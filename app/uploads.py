"""Receiving an uploaded file: streamed to a private temporary file, hashed, size-limited."""

import hashlib
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from fastapi import Response, UploadFile

from app.errors import PayloadTooLarge
from app.inputs import checked_text

_CHUNK = 1024 * 1024
_R = TypeVar("_R")


@dataclass(frozen=True, slots=True)
class Upload:
    """What was received, before any of it is read as records."""

    sha256: str
    size_bytes: int
    media_type: str
    filename: str | None = None


@asynccontextmanager
async def received(
    file: UploadFile, *, limit: int, default_media_type: str
) -> AsyncIterator[tuple[Path, Upload]]:
    """The upload on disk with its SHA-256 and size; the file is gone after the block."""
    digest, size = hashlib.sha256(), 0
    with tempfile.TemporaryDirectory(prefix="moneytrail-upload-") as tmp:
        path = Path(tmp) / "upload"
        with path.open("wb") as out:
            while chunk := await file.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(
                        f"the file exceeds the upload limit of {limit} bytes", limit=limit
                    )
                digest.update(chunk)
                out.write(chunk)
        # Both are the client's words, stored with the source document.
        media_type = checked_text(
            file.content_type or default_media_type, field="media_type", max_length=100
        )
        filename = file.filename
        if filename is not None:
            filename = checked_text(filename, field="filename", max_length=255)
        yield path, Upload(digest.hexdigest(), size, media_type, filename=filename)


def stored_or_replayed(response: Response, result: _R, *, stored: bool) -> _R:
    """`result`, answered 201 when the upload stored anything and 200 when all of it was
    already known (a replay: re-sending is safe and stores nothing)."""
    response.status_code = 201 if stored else 200
    return result
