from sqlalchemy import select
from sqlalchemy.orm import Session

from app.proposal.models import FreezingProposal


class ProposalRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def of_trace_in_case(self, trace_id: str, case_id: int) -> list[FreezingProposal]:
        stmt = select(FreezingProposal).where(
            FreezingProposal.trace_id == trace_id, FreezingProposal.case_id == case_id
        )
        return list(self.session.scalars(stmt.order_by(FreezingProposal.id)))

    def of_asset(self, asset_id: int) -> FreezingProposal | None:
        stmt = select(FreezingProposal).where(FreezingProposal.asset_id == asset_id)
        return self.session.scalars(stmt).first()

    def add(self, proposal: FreezingProposal) -> FreezingProposal:
        self.session.add(proposal)
        self.session.flush()  # a concurrent proposal of the same holding collides here
        return proposal
