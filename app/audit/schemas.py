from datetime import datetime

from pydantic import BaseModel, ConfigDict


class AuditEntryRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "example": {
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
            }
        },
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


class AuditVerification(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "valid": False,
                "entries": 1200,
                "head": None,
                "first_broken": {
                    "id": 817,
                    "position": 817,
                    "reason": "the entry's content does not match its hash",
                },
            }
        }
    )

    valid: bool
    entries: int
    head: str | None
    first_broken: BrokenLink | None
