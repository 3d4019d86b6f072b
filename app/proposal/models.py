from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, BigId, UTCDateTime


class FreezingProposal(Base):
    """A holding of a trace proposed for freezing in a case: the asset it became.

    One per (trace, case, account, currency): proposing the same trace to the same case again
    finds it and creates nothing.
    """

    __tablename__ = "freezing_proposals"
    __table_args__ = (UniqueConstraint("trace_id", "case_id", "account_key", "currency"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    trace_id: Mapped[str] = mapped_column(ForeignKey("trace_runs.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    account_key: Mapped[str] = mapped_column(String(300))
    currency: Mapped[str] = mapped_column(String(8))
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"), index=True)
    held_minor: Mapped[int] = mapped_column(BigInteger)
    # Each claimant's share of the holding, for later restitution: a list of
    # {"claimant", "amount"} (decimal strings) summing to the holding; None when the trace
    # named no claimants.
    claimant_shares: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(ForeignKey("api_keys.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
