from sqlalchemy import literal, select
from sqlalchemy.orm import Session

from app.asset.models import Asset
from app.proposal.models import FreezingProposal

# The longest chain of replacements followed (sale proceeds replacing what was sold, ...):
# it also ends a cycle, should one be recorded.
MAX_REPLACEMENTS = 64


class ProposalRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def of_trace_in_case(self, trace_id: str, case_id: int) -> list[FreezingProposal]:
        stmt = select(FreezingProposal).where(
            FreezingProposal.trace_id == trace_id, FreezingProposal.case_id == case_id
        )
        return list(self.session.scalars(stmt.order_by(FreezingProposal.id)))

    def of_asset_or_replaced(self, asset_id: int) -> FreezingProposal | None:
        """The proposal that made the asset, or the nearest asset it replaces: one query."""
        chain = (
            select(Asset.id.label("id"), literal(0).label("depth"))
            .where(Asset.id == asset_id)
            .cte("chain", recursive=True)
        )
        chain = chain.union_all(
            select(Asset.replaces_asset_id, chain.c.depth + 1)
            .join(chain, Asset.id == chain.c.id)
            .where(Asset.replaces_asset_id.is_not(None), chain.c.depth < MAX_REPLACEMENTS)
        )
        stmt = (
            select(FreezingProposal)
            .join(chain, FreezingProposal.asset_id == chain.c.id)
            .order_by(chain.c.depth, FreezingProposal.id)
            .limit(1)
        )
        return self.session.scalars(stmt).first()

    def add(self, proposal: FreezingProposal) -> FreezingProposal:
        self.session.add(proposal)
        self.session.flush()  # a concurrent proposal of the same holding collides here
        return proposal
