from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.inputs import Text


class SourceIn(BaseModel):
    """Where a batch comes from: a bank production, an FIU report, an exchange response ..."""

    model_config = ConfigDict(extra="forbid")

    kind: Text = Field(min_length=1, max_length=50, examples=["bank_statement"])
    reference: Text = Field(min_length=1, max_length=200, examples=["PO-2026-017"])


class SourceDocumentRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "example": {
                "id": "0b6f0f3c2f3e4d3a9d1c7e9b8a7f6e5d",
                "kind": "bank_statement",
                "reference": "PO-2026-017",
                "received_at": "2026-01-06T08:00:00Z",
                "uploaded_by": "3f2a9c0d1e4b5a67",
                "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                "filename": "statement.csv",
                "media_type": "text/csv",
                "size_bytes": 18211,
                "row_count": 120,
                "inserted": 120,
                "already_present": 0,
            }
        },
    )

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


class CorrectionRead(BaseModel):
    """Why a record (or an account's details) was corrected, by whom, and on which document."""

    reason: str
    source_document_id: str
    corrected_by: str
    corrected_at: datetime
