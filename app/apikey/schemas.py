from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.principal import Role


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"example": {"name": "analyst workstation 3", "role": "analyst"}},
    )

    name: str = Field(min_length=1, max_length=200)
    role: Role
    expires_at: datetime | None = Field(default=None, description="When the key stops working.")


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    role: Role
    created_at: datetime
    created_by: str | None
    expires_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The secret, shown this once only.")
