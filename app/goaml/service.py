"""goAML reports in: each report whole or not at all, stored through the ledger's own services."""

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import polars as pl
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app import limits
from app.account import service as account_service
from app.account.schemas import AccountBatch, AccountIn, HolderIn
from app.attributes import same_named
from app.compartments import EVERY, Compartments
from app.errors import BatchRejected, InvalidInput, RecordNotFound
from app.goaml import details
from app.goaml.models import GoamlReport
from app.goaml.profile import GoamlProfile, load_profile
from app.goaml.read import ReportReader
from app.goaml.records import ReportRecord
from app.goaml.repository import GoamlRepository
from app.goaml.schemas import GoamlImportResult, GoamlNote, GoamlReportResult
from app.goaml.xml import Faults, ShapeExceeded, parse, validate_xsd
from app.matching import service as matching_service
from app.party.schemas import PartyIn
from app.principal import Principal
from app.settings import Settings
from app.source import service as source_service
from app.source.schemas import SourceIn
from app.transaction import service as transaction_service
from app.transaction.ingest import COLUMNS
from app.uploads import Upload

KIND = "goaml_report"
ZIP_MAGIC = b"PK\x03\x04"
# An account record holds what AccountIn reads, under the same names, but for its holders.
ACCOUNT_DETAILS = ("key", "name", "bic", "number", "institution", "currency")
# transaction columns -> the goAML element a fault in them comes from
_ELEMENT_OF = {
    "amount": "amount_local",
    "value_time": "date_transaction",
    "narrative": "transaction_description",
}


class GoamlRejected(InvalidInput):
    code, title = "goaml_rejected", "goAML report rejected"

    def __init__(
        self,
        errors: list[dict[str, object]],
        *,
        limit: int,
        total: int | None = None,
        not_counted: list[dict[str, object]] | None = None,
    ) -> None:
        total = max(total or 0, len(errors))
        truncated = total > limit
        listed = f"; the first {limit} are listed" if truncated else ""
        super().__init__(
            f"{total} problem(s) in the goAML upload{listed}; nothing of it was stored",
            errors=errors[:limit],
            error_count=total,
            truncated=truncated,
            not_counted=(not_counted or [])[:limit],
            not_counted_count=len(not_counted or []),
        )


class GoamlReportNotFound(RecordNotFound):
    code, title = "goaml_report_not_found", "goAML report not found"
    noun, key, by = "goAML report", "source_document_id", "source document"


@dataclass(frozen=True, slots=True)
class ReportFile:
    upload: Upload
    data: bytes


def files_of(path: Path, upload: Upload, *, settings: Settings) -> list[ReportFile]:
    """One report, or each `.xml` member of a zip, unpacked within the bounds of app.limits."""
    with path.open("rb") as f:
        head = f.read(4)
    if head != ZIP_MAGIC:
        limits.check_xml_size(upload.size_bytes, settings)
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
        files = []
        for member, data in limits.zip_members(archive, members, settings):
            digest = hashlib.sha256(data).hexdigest()
            files.append(
                ReportFile(Upload(digest, len(data), "application/xml", member.filename), data)
            )
    return files


def _read(
    file: ReportFile,
    profile: GoamlProfile,
    faults: Faults,
    notes: Faults,
    settings: Settings,
) -> ReportRecord | None:
    """The report, read by our rules and, beside them, by the profile's XSD if it names one."""
    try:
        root = parse(
            file.data,
            faults,
            max_elements=settings.xml_max_elements,
            max_depth=settings.xml_max_depth,
        )
    except ShapeExceeded as exc:
        raise limits.LimitExceeded(
            f"{file.upload.filename or 'the report'}: {exc.detail}",
            field=exc.field,
            limit=exc.limit,
        ) from exc
    if root is None:
        return None
    if profile.xsd is not None:
        validate_xsd(root, str(profile.xsd), faults, notes)
    return ReportReader(profile, faults, notes).read(root)


def _batch(report: ReportRecord, source: SourceIn, faults: Faults) -> AccountBatch:
    parties, accounts = [], []
    for p in report.parties.values():
        try:
            # A party record holds what PartyIn reads, under the same names.
            parties.append(PartyIn.model_validate(p, from_attributes=True))
        except ValidationError as exc:
            faults.at(p.where, f"unusable party: {exc.errors()[0]['msg']}")
    for a in report.accounts.values():
        try:
            accounts.append(
                AccountIn(
                    **same_named(a, ACCOUNT_DETAILS),
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


def _refused(exc: BatchRejected, report: ReportRecord, faults: Faults, limit: int) -> GoamlRejected:
    """The ledger's own refusal, told in the report's element paths."""
    parties, accounts = list(report.parties.values()), list(report.accounts.values())
    listed: list[dict[str, Any]] = exc.extensions.get("errors", [])  # type: ignore[assignment]
    for error in listed:
        section, row, field = (error["loc"] + [None, None, None])[:3]
        msg = str(error.get("msg", ""))
        if section == "transaction" and isinstance(row, int) and row < len(report.transactions):
            tx = report.transactions[row].element
            name = _ELEMENT_OF.get(str(field), str(field))
            target = tx.find(name)
            faults.at(target if target is not None else tx, f"<{name}>: {msg}")
        elif section == "parties" and isinstance(row, int):
            faults.at(parties[row].where, f"party {parties[row].key}: {msg}", "conflict")
        elif section == "accounts" and isinstance(row, int):
            faults.at(accounts[row].where, f"account {accounts[row].key}: {msg}", "conflict")
        else:
            faults.add(None, None, msg)
    unlisted = cast(int, exc.extensions.get("error_count", len(listed))) - len(listed)
    return GoamlRejected(faults.items, limit=limit, total=len(faults.items) + unlisted)


def _store(
    session: Session,
    file: ReportFile,
    report: ReportRecord,
    profile: GoamlProfile,
    *,
    actor: Principal,
    settings: Settings,
    notes: tuple[list[GoamlNote], int],
    case_id: int | None,
) -> tuple[GoamlReportResult, bool]:
    """The report stored in the open unit of work, and whether it brought anything new."""
    faults = Faults(file.upload.filename)
    reference = report.reference
    source = SourceIn(kind=KIND, reference=reference, case_id=case_id)
    document = source_service.record_source(
        session, source, file.upload, rows=len(report.transactions), actor=actor
    )
    batch = _batch(report, source, faults)
    if faults.items:
        session.rollback()
        raise GoamlRejected(faults.items, limit=settings.error_list_max)
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
        raise _refused(exc, report, faults, settings.error_list_max) from exc
    details.record_report(session, report, document.id, profile, faults, case_id=case_id)
    if faults.items:  # a transaction stored before, whose goAML details this report tells otherwise
        session.rollback()
        raise GoamlRejected(faults.items, limit=settings.error_list_max)
    links = details.record_links(session, report, document.id)
    inserted = counts.inserted if counts else 0
    document.inserted, document.already_present = inserted, counts.already_present if counts else 0
    changed = stored.parties_updated + stored.accounts_updated
    records = stored.parties_inserted + stored.accounts_inserted + stored.holders_added
    matching_service.index_document(session, document.id)
    return GoamlReportResult(
        source_document_id=document.id,
        filename=file.upload.filename,
        reference=reference,
        report_code=report.report_code,
        replay=False,
        transactions=len(report.transactions),
        inserted=inserted,
        already_present=document.already_present,
        **same_named(stored, ("parties_inserted", "accounts_inserted", "holders_added")),
        repeats=report.repeats,
        party_links=links,
        notes=notes[0],
        note_count=notes[1],
    ), bool(inserted or records or changed or not report.transactions)


def import_goaml(
    session: Session,
    files: list[ReportFile],
    *,
    actor: Principal,
    settings: Settings,
    case_id: int | None = None,
) -> tuple[GoamlImportResult, bool]:
    """Every report of an upload, or none: faults of all reports are listed together.

    A report whose exact bytes are already stored is a replay and stores nothing again. True
    when anything new was stored.
    """
    profile = load_profile(settings)
    faults, reports = [], []
    notes: list[list[GoamlNote]] = []
    note_counts: list[int] = []
    not_counted: list[dict[str, object]] = []
    for file in files:
        found, noted = Faults(file.upload.filename), Faults(file.upload.filename)
        report = _read(file, profile, found, noted, settings)
        if report is not None:  # parties and accounts checked now, so all faults come at once
            _batch(report, SourceIn(kind=KIND, reference="-"), found)
        faults.extend(found.items)
        not_counted.extend(n for n in noted.items if n["type"] == "schema_equal_value")
        reports.append(report)
        # Cut like the faults: a million truncated dates need not come back a million times.
        notes.append([GoamlNote.model_validate(n) for n in noted.items[: settings.error_list_max]])
        note_counts.append(len(noted.items))
    if faults:
        raise GoamlRejected(faults, limit=settings.error_list_max, not_counted=not_counted)
    goaml, seen = GoamlRepository(session), dict[str, GoamlReportResult]()
    results = []
    for file, report, said, said_count in zip(files, reports, notes, note_counts, strict=True):
        assert report is not None
        first = seen.get(file.upload.sha256) or _replay(
            goaml.by_sha256(file.upload.sha256, case_id), file, report
        )
        if first is None:
            # Other bytes with nothing new in them (re-encoded, re-sent by another channel) are a
            # replay too: their savepoint is rolled back and they point at the first receipt.
            savepoint = session.begin_nested()
            result, new = _store(
                session,
                file,
                report,
                profile,
                actor=actor,
                settings=settings,
                notes=(said, said_count),
                case_id=case_id,
            )
            if new or (known := _first_receipt(session, goaml, report, case_id)) is None:
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
    session: Session, goaml: GoamlRepository, report: ReportRecord, case_id: int | None
) -> GoamlReport | None:
    """The report that first stored this one's transactions in its compartment."""
    external = f"goaml:{report.rentity_id}:{report.transactions[0].number}"
    found = transaction_service.transaction_ids_in(session, [external], case_id).get(external)
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
        repeats=report.repeats,
        party_links=0,
        notes=[],
        note_count=0,
    )


def get_report(
    session: Session,
    document_id: str,
    *,
    actor: Principal,
    compartments: Compartments = EVERY,
) -> dict[str, Any]:
    # The same visibility rule as the document's own read, compartments included.
    source_service.get_source(session, document_id, actor=actor, compartments=compartments)
    goaml = GoamlRepository(session)
    if (report := goaml.get(document_id)) is None:
        raise GoamlReportNotFound(document_id)
    columns = [c.key for c in GoamlReport.__table__.columns]
    return {
        **same_named(report, columns),
        "transactions": goaml.transactions_of(document_id),
        "party_links": goaml.links_of(document_id),
    }
