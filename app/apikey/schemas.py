from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.inputs import Instant, Text
from app.principal import Role


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {"name": "analyst workstation 3", "role": "analyst"}},
    )

    name: Text = Field(min_length=1, max_length=200)
    role: Role
    expires_at: Instant | None = Field(default=None, description="When the key stops working.")


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "example": {
                "id": "3f2a9c0d1e4b5a67",
                "name": "analyst workstation 3",
                "role": "analyst",
                "created_at": "2026-01-06T08:00:00Z",
                "created_by": "0a1b2c3d4e5f6071",
                "expires_at": None,
                "revoked_at": None,
            }
        },
    )

    id: str
    name: str
    role: Role
    created_at: datetime
    created_by: str | None
    expires_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The secret, shown this once only.")
