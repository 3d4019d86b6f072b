"""Corrections: a stored transaction superseded by a new record, never changed in place.

The new record is loaded like any other (its own external id, checked by the same rules, under
the correcting source document); the old one leaves the engine's ledger (a `LedgerExclusion`,
which moves the ledger's fingerprint) and stays readable, with the chain of records that
replaced it and each correction's reason. Traces stored before keep their result: their
fingerprint names the ledger they ran on.
"""

from datetime import UTC, datetime
from typing import Any, cast

import polars as pl
from sqlalchemy import Row, select
from sqlalchemy.orm import Session, aliased

from app.compartments import EVERY, Compartments
from app.domain_errors import body_error
from app.errors import Conflict, InvalidInput
from app.matching import service as matching_service
from app.principal import Principal
from app.settings import Settings
from app.source import service as source_service
from app.source.schemas import SourceIn
from app.transaction import service as transaction_service
from app.transaction.duplicates import DuplicateRepository
from app.transaction.ingest import COLUMNS
from app.transaction.models import (
    SUPERSEDED,
    LedgerExclusion,
    Transaction,
    TransactionCorrection,
)
from app.uploads import Upload

Replacement = aliased(Transaction)


class TransactionSuperseded(Conflict):
    code, title = "transaction_superseded", "Transaction already superseded"

    def __init__(self, ref: str, cause: str) -> None:
        super().__init__(
            f"transaction {ref} is no longer in the ledger ({cause}): correct the record that "
            "replaced it (GET .../history)",
            transaction=ref,
            cause=cause,
        )


class CorrectionNotNew(InvalidInput):
    code, title = "correction_not_new", "Correction is not a new record"

    def __init__(self, external_id: str) -> None:
        super().__init__(
            f"{external_id} is already stored: a correction is a new record with its own "
            "external id",
            errors=body_error("transaction", "external_id", msg="already stored"),
        )


class CorrectionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def exclusion_of(self, transaction_id: int) -> LedgerExclusion | None:
        return self.session.scalar(
            select(LedgerExclusion).where(LedgerExclusion.transaction_id == transaction_id)
        )

    def replacing(self, transaction_id: int) -> TransactionCorrection | None:
        """The correction that superseded this record, if any."""
        return self.session.scalar(
            select(TransactionCorrection).where(
                TransactionCorrection.transaction_id == transaction_id
            )
        )

    def replaced_by(self, transaction_id: int) -> TransactionCorrection | None:
        """The correction this record came from, if it is a replacement."""
        return self.session.scalar(
            select(TransactionCorrection).where(
                TransactionCorrection.replacement_id == transaction_id
            )
        )

    def add(self, correction: TransactionCorrection) -> None:
        self.session.add(correction)
        self.session.flush()

    def excluded_records(self) -> list[Row[str, str, str | None, str | None]]:
        """(engine id, cause, replacement's engine id, reason) of every excluded record."""
        stmt = (
            select(
                Transaction.engine_id,
                LedgerExclusion.cause,
                Replacement.engine_id,
                TransactionCorrection.reason,
            )
            .select_from(LedgerExclusion)
            .join(Transaction, Transaction.id == LedgerExclusion.transaction_id)
            .outerjoin(
                TransactionCorrection,
                TransactionCorrection.transaction_id == LedgerExclusion.transaction_id,
            )
            .outerjoin(Replacement, Replacement.id == TransactionCorrection.replacement_id)
        )
        return list(self.session.execute(stmt))


def correct_transaction(
    session: Session,
    ref: str,
    *,
    source: SourceIn,
    record: dict[str, Any],
    reason: str,
    upload: Upload,
    actor: Principal,
    settings: Settings,
    compartments: Compartments = EVERY,
) -> dict[str, Any]:
    """Supersede transaction `ref` by `record`, stated by the correcting source document."""
    if not isinstance(record.get("amount"), str):
        raise InvalidInput(
            'amount must be an exact decimal string such as "1050.00", not a JSON number',
            errors=body_error("transaction", "amount", msg="send the amount as a string"),
        )
    old = transaction_service.get_transaction(session, ref, compartments)
    old_id = cast(int, old["id"])
    source_service.require_filed_with(session, str(old["source_document_id"]), source, ledger=True)
    corrections = CorrectionRepository(session)
    if (excluded := corrections.exclusion_of(old_id)) is not None:
        raise TransactionSuperseded(ref, excluded.cause)
    try:
        # Out of the ledger first, so that the new record is not taken for its duplicate.
        DuplicateRepository(session).exclude(old_id, SUPERSEDED)
        document = source_service.record_source(session, source, upload, rows=1, actor=actor)
        counts = transaction_service.load_rows(
            session,
            pl.DataFrame(
                {c: [record.get(c)] for c in COLUMNS}, schema_overrides={"sequence": pl.Int64}
            ),
            document_id=document.id,
            timezone=None,
            settings=settings,
            rows_label="transaction",
            first_row=0,
        )
        if counts.inserted != 1:
            raise CorrectionNotNew(str(record["external_id"]))
    except BaseException:
        session.rollback()  # nothing of a refused correction stays, the exclusion least of all
        raise
    document.inserted = 1
    external = str(record["external_id"])
    # The record just stored in the correcting document's compartment, not a namesake elsewhere.
    new_id, _ = transaction_service.transaction_ids_in(session, [external], document.case_id)[
        external
    ]
    new = transaction_service.get_transaction(session, str(new_id))
    corrections.add(
        TransactionCorrection(
            transaction_id=old_id,
            replacement_id=cast(int, new["id"]),
            reason=reason,
            source_document_id=document.id,
            corrected_by=actor.id,
            corrected_at=datetime.now(UTC),
        )
    )
    history = transaction_history(session, str(new["id"]), compartments)
    matching_service.index_document(session, document.id)
    session.commit()
    return history


def _correction(found: TransactionCorrection | None) -> dict[str, Any] | None:
    if found is None:
        return None
    return {
        "reason": found.reason,
        "source_document_id": found.source_document_id,
        "corrected_by": found.corrected_by,
        "corrected_at": found.corrected_at,
    }


def _visible_record(session: Session, tx_id: int, compartments: Compartments) -> Any:
    try:
        return transaction_service.get_transaction(session, str(tx_id), compartments)
    except transaction_service.TransactionNotFound:
        return None


def transaction_history(
    session: Session, ref: str, compartments: Compartments = EVERY
) -> dict[str, Any]:
    """Every record of one transaction, first to current, each with the correction that made
    it (none for the first) and whether the engine still reads it. Records from documents in
    compartments the caller may not see are left out, and so are links to them."""
    corrections = CorrectionRepository(session)
    first = cast(int, transaction_service.get_transaction(session, ref, compartments)["id"])
    while (came_from := corrections.replaced_by(first)) is not None:
        first = came_from.transaction_id
    versions: list[dict[str, Any]] = []
    current: int | None = first
    while current is not None:
        exclusion = corrections.exclusion_of(current)
        onward = corrections.replacing(current)
        onward_id = None if onward is None else onward.replacement_id
        record = _visible_record(session, current, compartments)
        if record is not None:
            shown = onward_id is not None and _visible_record(session, onward_id, compartments)
            versions.append(
                {
                    "transaction": record,
                    "correction": _correction(corrections.replaced_by(current)),
                    "superseded_by": onward_id if shown else None,
                    "in_ledger": exclusion is None,
                    "excluded_as": None if exclusion is None else exclusion.cause,
                }
            )
        current = onward_id
    return {"current": versions[-1]["transaction"]["id"], "versions": versions}


def replaced_among(session: Session, external_ids: pl.Series) -> list[dict[str, Any]]:
    """The records among `external_ids` that have left the ledger since: superseded ones with
    their replacement and reason, confirmed duplicates."""
    found = CorrectionRepository(session).excluded_records()
    if not found:
        return []
    used = set(external_ids)
    return [
        {"external_id": ext, "cause": cause, "replaced_by": replacement, "reason": reason}
        for ext, cause, replacement, reason in sorted(found)
        if ext in used
    ]
