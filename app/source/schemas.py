from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class SourceIn(BaseModel):
    """Where a batch comes from: a bank production, an FIU report, an exchange response ..."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(min_length=1, max_length=50, examples=["bank_statement"])
    reference: str = Field(min_length=1, max_length=200, examples=["PO-2026-017"])


class SourceDocumentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: str
    reference: str
    received_at: datetime
    uploaded_by: str
    sha256: str = Field(description="SHA-256 of the bytes as uploaded (the JSON body for batches).")
    filename: str | None
    media_type: str
    size_bytes: int
    row_count: int
    inserted: int
    already_present: int
