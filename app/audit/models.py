from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, IdKey, UTCDateTime

# The advisory lock PostgreSQL appends queue on (and /readyz probes for write starvation).
AUDIT_APPEND_LOCK = 7340001


class AuditEntry(Base):
    """One request, as the audit trail keeps it: append-only and hash-chained.

    `entry_hash` covers every other field and the previous entry's hash, so changing, removing
    or inserting a row breaks the chain at that row (see `app.audit.chain`).
    """

    __tablename__ = "audit_entries"

    id: Mapped[IdKey]
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    key_id: Mapped[str | None] = mapped_column(String(32), index=True)
    role: Mapped[str | None] = mapped_column(String(20))
    operation: Mapped[str] = mapped_column(String(100), index=True)
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(2000))
    resource: Mapped[str | None] = mapped_column(String(300), index=True)
    case_id: Mapped[int | None] = mapped_column(BigId, index=True)
    outcome: Mapped[int] = mapped_column(Integer)
    request_id: Mapped[str] = mapped_column(String(64))
    body_sha256: Mapped[str | None] = mapped_column(String(64))
    # Unique: two entries claiming the same predecessor would fork the chain.
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditCheckpoint(Base):
    """A signed statement of the chain's length and head at one moment (app.audit.chain).

    Append-only like the entries. Deleting entries from the tail, or rewriting them and their
    hashes, leaves a chain that is valid on its own but no longer the one a checkpoint signed.
    """

    __tablename__ = "audit_checkpoints"

    id: Mapped[IdKey]
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    # One checkpoint per length: two processes that sign the same head keep one of them.
    entries: Mapped[int] = mapped_column(BigInteger, unique=True)
    head_id: Mapped[int] = mapped_column(BigId)
    head_hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(16))
    public_key: Mapped[str] = mapped_column(String(44))
    signature: Mapped[str] = mapped_column(String(88))
