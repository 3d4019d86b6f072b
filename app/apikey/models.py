from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, UTCDateTime


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    # Only a SHA-256 of the key is kept: the keys are 256 random bits, so no slow hash is needed.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str | None] = mapped_column(String(32))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # Loaded with the key where keys are listed; the per-request key check reads plain columns.
    compartment: Mapped["KeyCompartment | None"] = relationship(lazy="selectin")

    @property
    def case_id(self) -> int | None:
        """The case an ingest key is bound to: what it loads is filed there."""
        return self.compartment.case_id if self.compartment is not None else None


class KeyCompartment(Base):
    """An ingest key bound to a case: what it loads is filed in that case's compartment.

    A table of its own rather than a column of `api_keys`: cases already point at the key that
    opened them, and two tables pointing at each other cannot be created in one order.
    """

    __tablename__ = "key_compartments"

    api_key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
