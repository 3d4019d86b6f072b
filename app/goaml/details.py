"""What a stored goAML report said beside its ledger rows: the report, its transactions' goAML
details and the party links it made."""

from typing import Any

from sqlalchemy.orm import Session

from app.attributes import same_named
from app.goaml.models import GoamlPartyLink, GoamlReport, GoamlTransaction
from app.goaml.profile import GoamlProfile
from app.goaml.records import ReportRecord, TransactionRecord
from app.goaml.repository import GoamlRepository
from app.goaml.xml import Faults
from app.party import service as party_service
from app.transaction import service as transaction_service

# What the stored report keeps of the report's header, under the same names.
REPORT_HEADER = [
    "rentity_id",
    "rentity_branch",
    "submission_code",
    "report_code",
    "entity_reference",
    "fiu_ref_number",
    "reported_at",
    "reason",
    "action",
    "indicators",
]


def record_links(session: Session, report: ReportRecord, document_id: str) -> int:
    """Directors and probable same persons, by party id, with this report as their source."""
    if not report.links:
        return 0
    keys = {k for link in report.links for k in (link.party, link.related)}
    ids = {key: p.id for key, p in party_service.parties_by_keys(session, keys).items()}
    goaml = GoamlRepository(session)
    for link in report.links:
        goaml.add(
            GoamlPartyLink(
                source_document_id=document_id,
                party_id=ids[link.party],
                related_party_id=ids[link.related],
                relation=link.relation,
                role=link.role,
            )
        )
    return len(report.links)


def record_report(
    session: Session,
    report: ReportRecord,
    document_id: str,
    profile: GoamlProfile,
    faults: Faults,
    *,
    case_id: int | None,
) -> None:
    goaml = GoamlRepository(session)
    assert report.reported_at is not None
    goaml.add(
        GoamlReport(
            source_document_id=document_id,
            **same_named(report, REPORT_HEADER),
            currency_code_local=report.currency,
            profile=profile.name,
            timezone=profile.timezone or "UTC",
        )
    )
    externals = [f"goaml:{report.rentity_id}:{t.number}" for t in report.transactions]
    # Within the report's own compartment: another compartment's copy is another record.
    ids = transaction_service.transaction_ids_in(session, externals, case_id)
    conductors = {t.conductor for t in report.transactions if t.conductor}
    party_ids = (
        {key: party.id for key, party in party_service.parties_by_keys(session, conductors).items()}
        if conductors
        else {}
    )
    for t, external in zip(report.transactions, externals, strict=True):
        transaction_id, first_document = ids[external]
        told = _details(t, party_ids)
        if first_document == document_id:
            goaml.add(
                GoamlTransaction(
                    transaction_id=transaction_id, source_document_id=document_id, **told
                )
            )
            continue
        # Stored by an earlier report: its details stand, and a report that tells them
        # otherwise is refused rather than dropped without a word.
        stored = goaml.transaction(transaction_id)
        if stored is not None and (
            changed := [k for k, v in told.items() if getattr(stored, k) != v]
        ):
            faults.at(
                t.element,
                f"transaction {t.number} is already stored with other goAML details: "
                f"{', '.join(changed)}",
                "conflict",
            )


def _details(t: TransactionRecord, party_ids: dict[str, int]) -> dict[str, Any]:
    """A report transaction's goAML details, as `GoamlTransaction` columns."""
    return {
        "transactionnumber": t.number,
        "internal_ref_number": t.internal_ref,
        "transmode_code": t.transmode_code,
        "transaction_location": t.location,
        "value_date": t.value_date,
        "from_funds_code": t.source.funds_code if t.source else None,
        "to_funds_code": t.target.funds_code if t.target else None,
        "from_my_client": bool(t.source and t.source.my_client),
        "to_my_client": bool(t.target and t.target.my_client),
        "conductor_party_id": party_ids.get(t.conductor) if t.conductor else None,
        "foreign_currency": t.foreign,
        "parties": [
            {k: (str(v) if v is not None else None) for k, v in p.items()} for p in t.parties
        ],
    }
