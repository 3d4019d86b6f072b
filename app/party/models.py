from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, UTCDateTime


class Party(Base):
    """A person or legal entity, addressed by a stable key given by the source."""

    __tablename__ = "parties"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(500))
    country: Mapped[str | None] = mapped_column(String(2))
    identifiers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The name folded for search (app.party.names); the search indexes are built over it.
    search_text: Mapped[str | None] = mapped_column(String(4000))
    source_document_id: Mapped[str] = mapped_column(ForeignKey("source_documents.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
