from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from app.goaml.models import GoamlPartyLink, GoamlReport, GoamlTransaction
from app.party.models import Party
from app.source.models import SourceDocument


class GoamlRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, source_document_id: str) -> GoamlReport | None:
        return self.session.get(GoamlReport, source_document_id)

    def by_sha256(self, sha256: str, case_id: int | None) -> GoamlReport | None:
        """The report first stored from exactly these bytes in the compartment of `case_id`
        (None: the shared pool): another compartment's copy is not this one's replay."""
        filed = (
            SourceDocument.case_id.is_(None)
            if case_id is None
            else SourceDocument.case_id == case_id
        )
        stmt = (
            select(GoamlReport)
            .join(SourceDocument, SourceDocument.id == GoamlReport.source_document_id)
            .where(SourceDocument.sha256 == sha256, filed)
            .order_by(SourceDocument.received_at)
            .limit(1)
        )
        return self.session.scalar(stmt)

    def transactions_of(self, source_document_id: str) -> list[GoamlTransaction]:
        stmt = (
            select(GoamlTransaction)
            .where(GoamlTransaction.source_document_id == source_document_id)
            .order_by(GoamlTransaction.transaction_id)
        )
        return list(self.session.scalars(stmt))

    def links_of(self, source_document_id: str) -> list[dict[str, str | None]]:
        party, related = aliased(Party), aliased(Party)
        stmt = (
            select(party.key, related.key, GoamlPartyLink.relation, GoamlPartyLink.role)
            .join(party, party.id == GoamlPartyLink.party_id)
            .join(related, related.id == GoamlPartyLink.related_party_id)
            .where(GoamlPartyLink.source_document_id == source_document_id)
            .order_by(GoamlPartyLink.relation, related.key, party.key)
        )
        return [
            {"party_key": a, "related_party_key": b, "relation": rel, "role": role}
            for a, b, rel, role in self.session.execute(stmt)
        ]

    def transaction(self, transaction_id: int) -> GoamlTransaction | None:
        return self.session.get(GoamlTransaction, transaction_id)

    def add(self, row: GoamlReport | GoamlTransaction | GoamlPartyLink) -> None:
        self.session.add(row)
