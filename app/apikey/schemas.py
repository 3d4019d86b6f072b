from datetime import datetime

from pydantic import BaseModel, Field

from app.examples import example
from app.inputs import Body, Instant, Text
from app.principal import Role


class ApiKeyCreate(Body):
    model_config = example({"name": "analyst workstation 3", "role": "analyst"})

    name: Text = Field(min_length=1, max_length=200)
    role: Role
    expires_at: Instant | None = Field(default=None, description="When the key stops working.")
    case_id: int | None = Field(
        default=None,
        ge=1,
        description="Bind an ingest key to a case: everything it loads is filed in that case's "
        "compartment, and it may name no other.",
    )


class ApiKeyRead(BaseModel):
    model_config = example(
        {
            "id": "3f2a9c0d1e4b5a67",
            "name": "analyst workstation 3",
            "role": "analyst",
            "created_at": "2026-01-06T08:00:00Z",
            "created_by": "0a1b2c3d4e5f6071",
            "expires_at": None,
            "revoked_at": None,
            "case_id": None,
        },
        from_attributes=True,
    )

    id: str
    name: str
    role: Role
    created_at: datetime
    created_by: str | None
    expires_at: datetime | None
    revoked_at: datetime | None
    case_id: int | None = Field(
        default=None, description="The case an ingest key is bound to (its loads are filed there)."
    )


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The secret, shown this once only.")
