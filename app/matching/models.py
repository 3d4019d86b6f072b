from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdKey, UTCDateTime


class MatchKey(Base):
    """One keyed digest of a key that a case-filed document holds: nothing readable.

    A row per document (not per case) so that refiling a document moves its digests with it
    and no other document's rows need rebuilding; `case_id` is the document's case at indexing,
    kept here so that a match is one index lookup. Shared-pool documents have no rows: what the
    pool holds every caller sees, so it signals no blind match.
    """

    __tablename__ = "match_keys"
    __table_args__ = (Index("ix_match_keys_digest_case", "digest", "case_id"),)

    source_document_id: Mapped[str] = mapped_column(
        ForeignKey("source_documents.id"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)


class MatchNotification(Base):
    """A case's lead told that another case now holds one of their keys (named by its digest).

    Made once per pair of cases and key, to the case that held the key first (`case_id`),
    naming the case whose document brought it since (`other_case_id`); that case learns only
    that a match exists. The lead decides whether to make contact; the other side learns only
    that decision's reveal (the lead's contact on `contact`, nothing on `decline`).
    """

    __tablename__ = "match_notifications"
    __table_args__ = (UniqueConstraint("case_id", "other_case_id", "kind", "digest"),)

    id: Mapped[IdKey]
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    other_case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decision: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(String(2000))
    decided_by: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
