from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.examples import example
from app.inputs import Body, Text


class SourceIn(Body):
    """Where a batch comes from: a bank production, an FIU report, an exchange response ..."""

    kind: Text = Field(min_length=1, max_length=50, examples=["bank_statement"])
    reference: Text = Field(min_length=1, max_length=200, examples=["PO-2026-017"])
    case_id: int | None = Field(
        default=None,
        ge=1,
        description="File the document in this case's compartment (need-to-know): only its "
        "members, admins and supervisors see what it brings. Omitted: the shared pool, or the "
        "case an ingest key is bound to.",
    )

    def filed_in(self, case_id: int | None) -> "SourceIn":
        """The same source, filed where the filing check said (`app.filing`)."""
        return self.model_copy(update={"case_id": case_id})


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
                "case_id": None,
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
    case_id: int | None = Field(
        description="The case whose compartment holds the document; null: the shared pool."
    )


class CorrectionRead(BaseModel):
    """Why a record (or an account's details) was corrected, by whom, and on which document."""

    reason: str
    source_document_id: str
    corrected_by: str
    corrected_at: datetime


def correction_example(reason: str) -> dict[str, Any]:
    """A `CorrectionRead` as the examples of a record's history show it."""
    return {
        "reason": reason,
        "source_document_id": "5d1c7e9b8a7f6e5d0b6f0f3c2f3e4d3a",
        "corrected_by": "3f2a9c0d1e4b5a67",
        "corrected_at": "2026-03-13T09:00:00Z",
    }


class Sourced(Body):
    """A JSON body that brings records from one source document (`app.source.intake`)."""

    source: SourceIn


class CorrectionIn(Sourced):
    """What every correction states: why, and the document that says so."""

    reason: Text = Field(min_length=1, max_length=2000)


class CompartmentChangeIn(Body):
    model_config = example({"case_id": 7, "reason": "court order 2026/113 covers this production"})

    case_id: int | None = Field(
        ge=1, description="The case to file the document in; null: the shared pool."
    )
    reason: Text = Field(min_length=1, max_length=2000)


class CompartmentChangeRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "example": {
                "id": 1,
                "source_document_id": "0b6f0f3c2f3e4d3a9d1c7e9b8a7f6e5d",
                "from_case_id": None,
                "to_case_id": 7,
                "reason": "court order 2026/113 covers this production",
                "changed_by": "0a1b2c3d4e5f6071",
                "changed_at": "2026-01-06T08:00:00Z",
            }
        },
    )

    id: int
    source_document_id: str
    from_case_id: int | None
    to_case_id: int | None
    reason: str
    changed_by: str
    changed_at: datetime
