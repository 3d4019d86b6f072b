from datetime import datetime

from pydantic import BaseModel, Field, computed_field

from app.audit.chain import milliseconds
from app.examples import example

HEX64 = r"^[0-9a-f]{64}$"


class AuditEntryRead(BaseModel):
    model_config = example(
        {
            "id": 42,
            "at": "2026-02-10T09:00:00.123456Z",
            "key_id": "3f2a9c0d1e4b5a67",
            "role": "investigator",
            "operation": "get_case",
            "method": "GET",
            "path": "/api/v1/cases/7",
            "resource": "case_id=7",
            "case_id": 7,
            "outcome": 200,
            "request_id": "5f0c6c1e9a2b4f4e8d7c6b5a49382716",
            "body_sha256": None,
            "prev_hash": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "entry_hash": "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
        },
        from_attributes=True,
    )

    id: int
    at: datetime
    key_id: str | None
    role: str | None
    operation: str
    method: str
    path: str
    resource: str | None
    case_id: int | None
    outcome: int
    request_id: str
    body_sha256: str | None
    prev_hash: str
    entry_hash: str


class BrokenLink(BaseModel):
    id: int
    position: int
    reason: str


class CheckpointFailure(BaseModel):
    checkpoint_id: int | None = Field(description="None: the checkpoint the request named.")
    entries: int
    head_hash: str
    reason: str


class AuditVerification(BaseModel):
    model_config = example(
        {
            "valid": False,
            "entries": 1180,
            "head": None,
            "first_broken": None,
            "checkpoints": 0,
            "checkpoint_failure": {
                "checkpoint_id": 2,
                "entries": 1200,
                "head_hash": "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
                "reason": ("truncated: the chain holds 1180 entries, this checkpoint signed 1200"),
            },
        },
    )

    valid: bool
    entries: int = Field(description="Entries replayed (up to the first fault).")
    head: str | None = Field(description="The head hash of a valid chain.")
    first_broken: BrokenLink | None = Field(description="The first entry that breaks the chain.")
    checkpoints: int = Field(description="Checkpoints the chain was found to match.")
    checkpoint_failure: CheckpointFailure | None = Field(
        description="The first checkpoint the chain does not match: truncated or rewritten."
    )


class AuditCheckpointRead(BaseModel):
    """A signed checkpoint; its JSON, saved as is, is what `moneytrail audit verify
    --checkpoint FILE` reads (docs/audit-checkpoints.md)."""

    model_config = example(
        {
            "id": 3,
            "at": "2026-02-10T09:00:00.123000Z",
            "timestamp": 1770714000123,
            "entries": 3000,
            "head_hash": "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
            "key_id": "3f4d85b18f9fd082",
            "public_key": "OXMoKurLG8jXnymY9yoMi0n9Oh7n6RkVgLav8vbuq3w=",
            "signature": (
                "/TvaDm+w4de/bImfbUHKz1df3aodOvfggzgopW1nxKBzlUHOHYQpG/M+t1T8LocNqMWWl0AGd/vI"
                "pgUUXB6bAw=="
            ),
        },
        from_attributes=True,
    )

    id: int | None = None
    at: datetime
    entries: int = Field(ge=1)
    head_hash: str = Field(pattern=HEX64)
    key_id: str
    public_key: str = Field(description="The signing key: base64 of its 32 raw Ed25519 bytes.")
    signature: str = Field(description="Ed25519 over the checkpoint statement, base64.")

    @computed_field(description="`at` in milliseconds since 1970-01-01 UTC, as signed.")  # type: ignore[prop-decorator]
    @property
    def timestamp(self) -> int:
        return milliseconds(self.at)
