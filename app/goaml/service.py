"""goAML reports in: each report whole or not at all, stored through the ledger's own services."""

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.account import service as account_service
from app.account.schemas import AccountBatch, AccountIn, HolderIn
from app.errors import InvalidInput, NotFound, PayloadTooLarge
from app.goaml.models import GoamlReport, GoamlTransaction
from app.goaml.profile import GoamlProfile, load_profile
from app.goaml.read import ReportReader, ReportRecord, TransactionRecord
from app.goaml.repository import GoamlRepository
from app.goaml.schemas import GoamlImportResult, GoamlReportResult
from app.goaml.xml import Faults, parse, validate_xsd
from app.party import service as party_service
from app.party.schemas import PartyIn
from app.principal import Principal
from app.settings import Settings
from app.source import service as source_service
from app.source.schemas import SourceIn
from app.source.service import Upload
from app.transaction import service as transaction_service
from app.transaction.ingest import COLUMNS, BatchRejected

KIND = "goaml_report"
ZIP_MAGIC = b"PK\x03\x04"
ZIP_MAX_MEMBERS = 1000
# transaction columns -> the goAML element a fault in them comes from
_ELEMENT_OF = {
    "amount": "amount_local",
    "value_time": "date_transaction",
    "narrative": "transaction_description",
}


class GoamlRejected(InvalidInput):
    code, title = "goaml_rejected", "goAML report rejected"

    def __init__(self, errors: list[dict[str, object]]) -> None:
        super().__init__(
            f"{len(errors)} problem(s) in the goAML upload; nothing of it was stored",
            errors=errors,
            error_count=len(errors),
        )


class GoamlReportNotFound(NotFound):
    code, title = "goaml_report_not_found", "goAML report not found"

    def __init__(self, document_id: str) -> None:
        super().__init__(
            f"no goAML report with source document {document_id}", source_document_id=document_id
        )


@dataclass(frozen=True, slots=True)
class ReportFile:
    upload: Upload
    data: bytes


def files_of(path: Path, upload: Upload, *, settings: Settings) -> list[ReportFile]:
    """One report, or each `.xml` member of a zip, with sizes checked before anything is read."""
    with path.open("rb") as f:
        head = f.read(4)
    if head != ZIP_MAGIC:
        return [ReportFile(upload, path.read_bytes())]
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise InvalidInput(f"not a readable zip file: {exc}") from exc
    with archive:
        members = [
            m for m in archive.infolist() if not m.is_dir() and m.filename.lower().endswith(".xml")
        ]
        if not members:
            raise InvalidInput("the zip holds no .xml report")
        if len(members) > ZIP_MAX_MEMBERS:
            raise PayloadTooLarge(
                f"the zip holds more than {ZIP_MAX_MEMBERS} reports", limit=ZIP_MAX_MEMBERS
            )
        # Declared sizes are checked first, the bytes actually read too (a zip can lie).
        if sum(m.file_size for m in members) > settings.upload_max_bytes:
            raise PayloadTooLarge(
                "the zip unpacks beyond the upload limit", limit=settings.upload_max_bytes
            )
        files = []
        for member in members:
            with archive.open(member) as f:
                data = f.read(member.file_size + 1)
            if len(data) > member.file_size:
                raise InvalidInput(f"{member.filename}: larger than the zip declares")
            digest = hashlib.sha256(data).hexdigest()
            files.append(
                ReportFile(Upload(digest, len(data), "application/xml", member.filename), data)
            )
    return files


def _read(file: ReportFile, profile: GoamlProfile, faults: Faults) -> ReportRecord | None:
    root = parse(file.data, faults)
    if root is None:
        return None
    if profile.xsd is not None:
        validate_xsd(root, str(profile.xsd), faults)
    return ReportReader(profile, faults).read(root)


def _batch(report: ReportRecord, source: SourceIn, faults: Faults) -> AccountBatch:
    parties, accounts = [], []
    for p in report.parties.values():
        try:
            parties.append(
                PartyIn(
                    key=p.key,
                    kind=p.kind,
                    name=p.name,
                    country=p.country,
                    identifiers=p.identifiers,
                )
            )
        except ValidationError as exc:
            faults.at(p.where, f"unusable party: {exc.errors()[0]['msg']}")
    for a in report.accounts.values():
        try:
            accounts.append(
                AccountIn(
                    key=a.key,
                    name=a.name,
                    bic=a.bic,
                    number=a.number,
                    institution=a.institution,
                    currency=a.currency,
                    holders=[HolderIn(party=party, role=role) for party, role in a.holders],
                )
            )
        except ValidationError as exc:
            faults.at(a.where, f"unusable account: {exc.errors()[0]['msg']}")
    return AccountBatch(source=source, parties=parties, accounts=accounts)


def _frame(report: ReportRecord) -> pl.DataFrame:
    rows: dict[str, list[Any]] = {c: [] for c in COLUMNS}
    for t in report.transactions:
        values = {
            "external_id": f"goaml:{report.rentity_id}:{t.number}",
            "from_account": t.source.account if t.source else None,
            "to_account": t.target.account if t.target else None,
            "amount": t.amount,
            "currency": report.currency,
            "value_time": t.time,
            "channel": t.transmode_code,
            "narrative": t.description,
        }
        for c in COLUMNS:
            rows[c].append(values.get(c))
    return pl.DataFrame(rows, schema=dict.fromkeys(COLUMNS, pl.String))


def _refused(exc: BatchRejected, report: ReportRecord, faults: Faults) -> GoamlRejected:
    """The ledger's own refusal, told in the report's element paths."""
    parties, accounts = list(report.parties.values()), list(report.accounts.values())
    for error in exc.extensions.get("errors", []):  # type: ignore[attr-defined]
        section, row, field = (error["loc"] + [None, None, None])[:3]
        msg = str(error.get("msg", ""))
        if section == "transaction" and isinstance(row, int) and row < len(report.transactions):
            tx = report.transactions[row].element
            name = _ELEMENT_OF.get(str(field), str(field))
            target = tx.find(name)
            faults.at(target if target is not None else tx, f"{field}: {msg}")
        elif section == "parties" and isinstance(row, int):
            faults.at(parties[row].where, f"party {parties[row].key}: {msg}", "conflict")
        elif section == "accounts" and isinstance(row, int):
            faults.at(accounts[row].where, f"account {accounts[row].key}: {msg}", "conflict")
        else:
            faults.add(None, None, msg)
    return GoamlRejected(faults.items)


def _store(
    session: Session,
    file: ReportFile,
    report: ReportRecord,
    profile: GoamlProfile,
    *,
    actor: Principal,
    settings: Settings,
) -> tuple[GoamlReportResult, bool]:
    """The report stored in the open unit of work, and whether it brought anything new."""
    faults = Faults(file.upload.filename)
    reference = (
        report.fiu_ref_number or report.entity_reference or f"rentity-{report.rentity_id}"
    )[:200]
    source = SourceIn(kind=KIND, reference=reference)
    document = source_service.record_source(
        session, source, file.upload, rows=len(report.transactions), actor=actor
    )
    batch = _batch(report, source, faults)
    if faults.items:
        session.rollback()
        raise GoamlRejected(faults.items)
    try:
        stored = account_service.load_accounts(session, batch, document_id=document.id)
        counts = None
        if report.transactions:
            counts = transaction_service.load_rows(
                session,
                _frame(report),
                document_id=document.id,
                timezone=profile.timezone,
                settings=settings,
                rows_label="transaction",
                first_row=0,
            )
    except BatchRejected as exc:
        session.rollback()
        raise _refused(exc, report, faults) from exc
    _record_details(session, report, document.id, profile, faults)
    inserted = counts.inserted if counts else 0
    document.inserted, document.already_present = inserted, counts.already_present if counts else 0
    changed = stored.parties_updated + stored.accounts_updated
    records = stored.parties_inserted + stored.accounts_inserted + stored.holders_added
    return GoamlReportResult(
        source_document_id=document.id,
        filename=file.upload.filename,
        reference=reference,
        report_code=report.report_code,
        replay=False,
        transactions=len(report.transactions),
        inserted=inserted,
        already_present=document.already_present,
        parties_inserted=stored.parties_inserted,
        accounts_inserted=stored.accounts_inserted,
        holders_added=stored.holders_added,
    ), bool(inserted or records or changed or not report.transactions)


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


def _record_details(
    session: Session,
    report: ReportRecord,
    document_id: str,
    profile: GoamlProfile,
    faults: Faults,
) -> None:
    goaml = GoamlRepository(session)
    assert report.reported_at is not None
    goaml.add(
        GoamlReport(
            source_document_id=document_id,
            rentity_id=report.rentity_id,
            rentity_branch=report.rentity_branch,
            submission_code=report.submission_code,
            report_code=report.report_code,
            entity_reference=report.entity_reference,
            fiu_ref_number=report.fiu_ref_number,
            reported_at=report.reported_at,
            currency_code_local=report.currency,
            reason=report.reason,
            action=report.action,
            indicators=report.indicators,
            profile=profile.name,
            timezone=profile.timezone or "UTC",
        )
    )
    externals = [f"goaml:{report.rentity_id}:{t.number}" for t in report.transactions]
    ids = transaction_service.transaction_ids(session, externals)
    conductors = {t.conductor for t in report.transactions if t.conductor}
    party_ids = (
        {key: party.id for key, party in party_service.parties_by_keys(session, conductors).items()}
        if conductors
        else {}
    )
    for t, external in zip(report.transactions, externals, strict=True):
        transaction_id, first_document = ids[external]
        details = _details(t, party_ids)
        if first_document == document_id:
            goaml.add(
                GoamlTransaction(
                    transaction_id=transaction_id, source_document_id=document_id, **details
                )
            )
            continue
        # Stored by an earlier report: its details stand, and a report that tells them
        # otherwise is refused rather than dropped without a word.
        stored = goaml.transaction(transaction_id)
        if stored is not None and (
            changed := [k for k, v in details.items() if getattr(stored, k) != v]
        ):
            faults.at(
                t.element,
                f"transaction {t.number} is already stored with other goAML details: "
                f"{', '.join(changed)}",
                "conflict",
            )
    if faults.items:
        session.rollback()
        raise GoamlRejected(faults.items)


def import_goaml(
    session: Session, files: list[ReportFile], *, actor: Principal, settings: Settings
) -> tuple[GoamlImportResult, bool]:
    """Every report of an upload, or none: faults of all reports are listed together.

    A report whose exact bytes are already stored is a replay and stores nothing again. True
    when anything new was stored.
    """
    profile = load_profile(settings)
    faults, reports = [], []
    for file in files:
        found = Faults(file.upload.filename)
        report = _read(file, profile, found)
        if report is not None:  # parties and accounts checked now, so all faults come at once
            _batch(report, SourceIn(kind=KIND, reference="-"), found)
        faults.extend(found.items)
        reports.append(report)
    if faults:
        raise GoamlRejected(faults)
    goaml, seen = GoamlRepository(session), dict[str, GoamlReportResult]()
    results = []
    for file, report in zip(files, reports, strict=True):
        assert report is not None
        first = seen.get(file.upload.sha256) or _replay(
            goaml.by_sha256(file.upload.sha256), file, report
        )
        if first is None:
            # Other bytes with nothing new in them (re-encoded, re-sent by another channel) are a
            # replay too: their savepoint is rolled back and they point at the first receipt.
            savepoint = session.begin_nested()
            result, new = _store(session, file, report, profile, actor=actor, settings=settings)
            if new or (known := _first_receipt(session, goaml, report)) is None:
                savepoint.commit()
            else:
                savepoint.rollback()
                result = _replay(known, file, report) or result
            seen[file.upload.sha256] = result
            results.append(result)
        else:
            results.append(
                first.model_copy(update={"replay": True, "filename": file.upload.filename})
            )
    stored = not all(r.replay for r in results)
    if stored:
        session.commit()
    return GoamlImportResult(profile=profile.name, reports=results), stored


def _first_receipt(
    session: Session, goaml: GoamlRepository, report: ReportRecord
) -> GoamlReport | None:
    external = f"goaml:{report.rentity_id}:{report.transactions[0].number}"
    found = transaction_service.transaction_ids(session, [external]).get(external)
    return goaml.get(found[1]) if found is not None else None


def _replay(
    known: GoamlReport | None, file: ReportFile, report: ReportRecord
) -> GoamlReportResult | None:
    if known is None:
        return None
    n = len(report.transactions)
    return GoamlReportResult(
        source_document_id=known.source_document_id,
        filename=file.upload.filename,
        reference=known.fiu_ref_number or known.entity_reference or f"rentity-{known.rentity_id}",
        report_code=known.report_code,
        replay=True,
        transactions=n,
        inserted=0,
        already_present=n,
        parties_inserted=0,
        accounts_inserted=0,
        holders_added=0,
    )


def get_report(session: Session, document_id: str, *, actor: Principal) -> dict[str, Any]:
    source_service.get_source(session, document_id, actor=actor)  # the same visibility rule
    goaml = GoamlRepository(session)
    if (report := goaml.get(document_id)) is None:
        raise GoamlReportNotFound(document_id)
    columns = [c.key for c in GoamlReport.__table__.columns]
    return {
        **{c: getattr(report, c) for c in columns},
        "transactions": goaml.transactions_of(document_id),
    }
