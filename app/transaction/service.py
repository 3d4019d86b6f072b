import csv
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import polars as pl
from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import limits
from app.account import service as account_service
from app.account.numbers import AccountCheck
from app.compartments import EVERY, Compartments
from app.errors import BatchRejected, InvalidInput, PayloadTooLarge, RecordNotFound
from app.inputs import id_in
from app.matching import service as matching_service
from app.money import from_minor
from app.principal import Principal
from app.settings import Settings
from app.source import service as source_service
from app.source.schemas import SourceIn
from app.transaction import staged
from app.transaction.bulk import Conflict, LoadCounts, load_transactions
from app.transaction.errors import AmbiguousTransaction, RefileCollision
from app.transaction.ingest import COLUMNS, validate_transactions
from app.transaction.models import CASE_MARK, Transaction, engine_id_of
from app.transaction.repository import ACCOUNT_TRANSACTIONS, TransactionRepository
from app.transaction.schemas import IngestResult, TransactionBatch
from app.uploads import Upload

PARQUET_MAGIC = b"PAR1"


class TransactionNotFound(RecordNotFound):
    code, title = "transaction_not_found", "Transaction not found"
    noun, key, by = "transaction", "transaction", "id or external id"


class UnreadableFile(InvalidInput):
    code, title = "unreadable_file", "Unreadable file"


def ingest_batch(
    session: Session,
    batch: TransactionBatch,
    upload: Upload,
    *,
    actor: Principal,
    settings: Settings,
) -> tuple[IngestResult, bool]:
    """Store a JSON batch whole or not at all; True when anything new was stored."""
    if len(batch.transactions) > settings.batch_max_rows:
        raise PayloadTooLarge(
            f"{len(batch.transactions)} rows exceed the batch limit of {settings.batch_max_rows}; "
            "split the batch or upload a file",
            limit=settings.batch_max_rows,
        )
    # dict(), not model_dump(): an amount sent as a JSON number is still here, to be refused.
    rows = [dict(t) for t in batch.transactions]
    numbers = {i: r["amount"] for i, r in enumerate(rows) if not isinstance(r["amount"], str)}
    for i in numbers:
        rows[i]["amount"] = "1"  # stands in while the row's other fields are checked
    frame = pl.DataFrame(
        {c: [r[c] for r in rows] for c in COLUMNS}, schema_overrides={"sequence": pl.Int64}
    )
    if numbers:
        raise _numbers_rejected(frame, numbers, batch=batch, settings=settings)
    return _ingest(
        session,
        frame,
        batch.source,
        upload,
        timezone=batch.timezone,
        actor=actor,
        settings=settings,
        rows_label="transactions",
        first_row=0,
        account_check=batch.account_check,
    )


def _numbers_rejected(
    frame: pl.DataFrame, numbers: dict[int, object], *, batch: TransactionBatch, settings: Settings
) -> BatchRejected:
    """Amounts sent as JSON numbers, listed with every other fault of the batch's rows."""
    errors: list[dict[str, object]] = [
        {
            "loc": ["transactions", row, "amount"],
            "row": row,
            "field": "amount",
            "type": "decimal_string",
            "msg": f"a JSON number ({value!r}): send it as a decimal string such as "
            '"1500.50", as the source states it (a number may be read as a float, which cannot '
            "hold money exactly)",
        }
        for row, value in numbers.items()
    ]
    total = len(errors)
    try:
        _validated(
            frame,
            timezone=batch.timezone,
            settings=settings,
            rows_label="transactions",
            first_row=0,
            account_check=batch.account_check,
        )
    except BatchRejected as other:
        errors += other.extensions["errors"]  # type: ignore[arg-type]
        total += int(other.extensions["error_count"])  # type: ignore[call-overload]
    errors.sort(key=_row_then_column)
    return BatchRejected(errors[: settings.error_list_max], total=total, rows_label="transactions")


def _row_then_column(error: dict[str, object]) -> tuple[int, int]:
    row, field = error["row"], error["field"]
    position = COLUMNS.index(field) if field in COLUMNS else len(COLUMNS)
    return (row if isinstance(row, int) else -1, position)


def _check_shape(path: Path, *, parquet: bool, settings: Settings) -> None:
    """Columns and lines within their bounds, found before the file is read as a table."""
    if parquet:
        limits.check_columns(len(pl.read_parquet_schema(path)), settings)
        return
    limits.check_text_lines(path, max_line_bytes=settings.line_max_bytes)
    with path.open("rb") as f:
        header = f.readline().decode("utf-8", "replace")
    limits.check_columns(len(next(csv.reader([header]), [])), settings)


def read_table(path: Path, head: bytes, settings: Settings) -> pl.DataFrame:
    """A CSV or Parquet file as a frame, told apart by content rather than by its name."""
    parquet = head.startswith(PARQUET_MAGIC)
    try:
        _check_shape(path, parquet=parquet, settings=settings)
        if parquet:
            return pl.read_parquet(path)
        # Text columns stay text: amounts and ids must never pass through a float or an int.
        frame = pl.read_csv(path, infer_schema=False, encoding="utf8")
        header = pl.read_csv(path, has_header=False, n_rows=1, infer_schema=False).row(0)
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UnreadableFile(
            f"the file is neither valid UTF-8 CSV with a header row nor Parquet: {reason}"
        ) from exc
    # Polars renames a repeated column (external_id_duplicated_0): which one holds the value
    # would then be a guess, so a repeated header name refuses the file.
    if repeated := sorted({str(n) for n in header if n is not None and header.count(n) > 1}):
        raise InvalidInput(
            f"the header names column(s) {', '.join(repeated)} more than once",
            field="header",
            repeated=repeated,
        )
    return frame


def ingest_file(
    session: Session,
    path: Path,
    source: SourceIn,
    upload: Upload,
    *,
    timezone: str | None,
    actor: Principal,
    settings: Settings,
    account_check: AccountCheck = AccountCheck.REFUSE,
) -> tuple[IngestResult, bool]:
    with path.open("rb") as f:
        head = f.read(4)
    frame = read_table(path, head, settings)
    if frame.height == 0:
        raise InvalidInput("the file holds no rows")
    if frame.height > settings.upload_max_rows:
        raise PayloadTooLarge(
            f"{frame.height} rows exceed the upload limit of {settings.upload_max_rows}",
            limit=settings.upload_max_rows,
        )
    return _ingest(
        session,
        frame,
        source,
        upload,
        timezone=timezone,
        actor=actor,
        settings=settings,
        rows_label="row",
        first_row=1,
        account_check=account_check,
    )


def _ingest(
    session: Session,
    frame: pl.DataFrame,
    source: SourceIn,
    upload: Upload,
    *,
    timezone: str | None,
    actor: Principal,
    settings: Settings,
    rows_label: str,
    first_row: int,
    account_check: AccountCheck = AccountCheck.REFUSE,
) -> tuple[IngestResult, bool]:
    rows = _validated(
        frame,
        timezone=timezone,
        settings=settings,
        rows_label=rows_label,
        first_row=first_row,
        account_check=account_check,
    )
    if staged.applies(session, rows.height):
        document_id, counts = _load_staged(
            session,
            rows,
            source,
            upload,
            actor=actor,
            settings=settings,
            rows_label=rows_label,
            first_row=first_row,
        )
    else:
        document = source_service.record_source(
            session, source, upload, rows=rows.height, actor=actor
        )
        document_id = document.id
        counts = _load_checked(
            session,
            rows,
            document_id=document.id,
            settings=settings,
            rows_label=rows_label,
            first_row=first_row,
        )
        if counts.inserted:
            document.inserted, document.already_present = counts.inserted, counts.already_present
            matching_service.index_document(session, document.id)
            session.commit()
    if counts.inserted == 0:
        # A replay: keep nothing of this upload and point at where the rows were first stored.
        session.rollback()
        first_source = TransactionRepository(session).source_of(
            engine_id_of(str(rows["external_id"][0]), source.case_id)
        )
        assert first_source is not None
        return IngestResult(
            source_document_id=first_source,
            rows=rows.height,
            inserted=0,
            already_present=rows.height,
            accounts_created=0,
        ), False
    return IngestResult(
        source_document_id=document_id,
        rows=rows.height,
        inserted=counts.inserted,
        already_present=counts.already_present,
        accounts_created=counts.accounts_created,
    ), True


def _load_staged(
    session: Session,
    rows: pl.DataFrame,
    source: SourceIn,
    upload: Upload,
    *,
    actor: Principal,
    settings: Settings,
    rows_label: str,
    first_row: int,
) -> tuple[str, LoadCounts]:
    """Store a big batch under a staging document, then publish it with the request's audit
    entry (see app.transaction.staged)."""
    with staged.side_session(session) as side:
        document = source_service.record_source(
            side, source, upload, rows=rows.height, actor=actor, loader=staged.loader_name()
        )
        side.commit()
        published = False
        try:
            counts, conflicts = staged.load(
                session,
                side,
                rows,
                document_id=document.id,
                conflict_limit=settings.error_list_max,
                duplicate_tolerance=settings.duplicate_tolerance_seconds,
            )
            if conflicts:
                raise _conflicts_rejected(conflicts, rows_label=rows_label, first_row=first_row)
            if counts.inserted:
                published = source_service.publish_source(
                    session,
                    document.id,
                    inserted=counts.inserted,
                    already_present=counts.already_present,
                )
                if not published:
                    raise RuntimeError(f"the staging document {document.id} vanished")
                matching_service.index_document(session, document.id)
                session.commit()
        except BaseException:
            session.rollback()
            published = False
            raise
        finally:
            if not published:
                session.rollback()  # what it holds would block the removal
                staged.discard(side, document.id)
    return document.id, counts


def _conflicts_rejected(
    conflicts: list[Conflict], *, rows_label: str, first_row: int
) -> BatchRejected:
    offset = first_row - 1
    errors: list[dict[str, object]] = [
        {
            "loc": [rows_label, c.row_no + offset, field],
            "row": c.row_no + offset,
            "field": field,
            "type": "conflict",
            "msg": f"{c.external_id} is already stored with another {field}; evidence is never "
            "silently changed",
        }
        for c in conflicts
        for field in c.fields
    ]
    return BatchRejected(errors, total=len(errors), rows_label=rows_label)


def load_rows(
    session: Session,
    frame: pl.DataFrame,
    *,
    document_id: str,
    timezone: str | None,
    settings: Settings,
    rows_label: str,
    first_row: int,
) -> LoadCounts:
    """Check rows and load them into the open unit of work, which the caller commits.

    Other importers (goAML, FtM) store their transactions here, so that the rules, the
    all-or-nothing refusal and idempotency by external id are the same as for an upload.
    """
    rows = _validated(
        frame, timezone=timezone, settings=settings, rows_label=rows_label, first_row=first_row
    )
    return _load_checked(
        session,
        rows,
        document_id=document_id,
        settings=settings,
        rows_label=rows_label,
        first_row=first_row,
    )


def _validated(
    frame: pl.DataFrame,
    *,
    timezone: str | None,
    settings: Settings,
    rows_label: str,
    first_row: int,
    account_check: AccountCheck = AccountCheck.REFUSE,
) -> pl.DataFrame:
    return validate_transactions(
        frame,
        timezone=timezone,
        max_errors=settings.error_list_max,
        rows_label=rows_label,
        first_row=first_row,
        account_check=account_check,
    )


def _load_checked(
    session: Session,
    rows: pl.DataFrame,
    *,
    document_id: str,
    settings: Settings,
    rows_label: str,
    first_row: int,
) -> LoadCounts:
    """Load validated rows; a stored row with the same id but other content refuses them all."""
    counts, conflicts = load_transactions(
        session,
        rows,
        source_document_id=document_id,
        conflict_limit=settings.error_list_max,
        duplicate_tolerance=settings.duplicate_tolerance_seconds,
    )
    if conflicts:
        session.rollback()
        raise _conflicts_rejected(conflicts, rows_label=rows_label, first_row=first_row)
    return counts


def transaction_ids_in(
    session: Session, external_ids: list[str], case_id: int | None
) -> dict[str, tuple[int, str]]:
    """(id, source document id) of each transaction stored under one of `external_ids` in the
    compartment of `case_id` (None: the shared pool), by external id: an importer's own
    compartment, never another's."""
    engine_ids = {engine_id_of(e, case_id): e for e in external_ids}
    found = TransactionRepository(session).ids_by_engine_id(list(engine_ids))
    return {engine_ids[e]: ids for e, ids in found.items()}


class Named(NamedTuple):
    """A transaction a stored trace names: its id, source document and engine id now."""

    id: int
    document_id: str
    engine_id: str


@dataclass(frozen=True)
class LedgerRead:
    """When a stored trace read the ledger whose engine ids it names transactions by: after
    `refilings` refilings (None: not kept), and before `at`, its start."""

    at: datetime
    refilings: int | None


def transactions_named_at(
    session: Session, engine_ids: list[str], read: LedgerRead
) -> dict[str, Named]:
    """The transactions that bore `engine_ids` in the ledger `read`, by those names: a stored
    trace keeps the names it ran with (docs/engine-ids.md), and a refiling since may have
    renamed a document's rows for their new compartment and freed a name for another row.

    A row's name then is its external id in the compartment its document was filed in then:
    its current name unless refilings recorded after the read moved it, then the one the first
    of them moved it from. The refilings the ledger had seen say which came after; a run that
    did not keep their count goes by its start, and a refiling committed between its ledger's
    read and its start counts as before it: a name no row bore then is the row bearing it
    now, else the row that bore it once; of two rows, the one stored first."""
    names = sorted(set(engine_ids))
    transactions = TransactionRepository(session)
    now = {e: Named(t, d, e) for e, (t, d) in transactions.ids_by_engine_id(names).items()}
    first_later = transactions.first_refiling_after(read.refilings, read.at)
    if len(now) == len(names) and first_later is None:
        return now
    rows = transactions.by_external_ids(sorted({n.partition(CASE_MARK)[0] for n in names}))
    history: dict[str, list[tuple[int, int | None]]] = {}
    for refiling, document, from_case in transactions.filings_of(sorted({r[3] for r in rows})):
        history.setdefault(document, []).append((refiling, from_case))
    wanted = set(names)
    then: dict[str, Named] = {}
    once: dict[str, Named] = {}
    for row_id, external, engine_id, document in rows:  # by id: the first stored first
        named = Named(row_id, document, engine_id)
        moved = history.get(document, [])
        later = [
            case for refiling, case in moved if first_later is not None and refiling >= first_later
        ]
        name_then = engine_id_of(external, later[0]) if later else engine_id
        if name_then in wanted:
            then.setdefault(name_then, named)
        for name in wanted & {engine_id_of(external, case) for _, case in moved}:
            once.setdefault(name, named)
    found = {n: then.get(n) or now.get(n) or once.get(n) for n in names}
    return {n: named for n, named in found.items() if named is not None}


def refile_engine_ids(session: Session, document_id: str, case_id: int | None) -> None:
    """Rename a refiled document's rows for their new compartment (docs/engine-ids.md), in the
    caller's unit of work; refused when that compartment holds one of their external ids
    already (only admins refile, and they may see every compartment)."""
    transactions = TransactionRepository(session)
    if taken := transactions.taken_in(document_id, case_id, limit=10):
        raise RefileCollision(document_id, taken)
    try:
        with session.begin_nested():
            transactions.requalify(document_id, case_id)
    except IntegrityError as exc:  # stored meanwhile by a load that committed first
        taken = transactions.taken_in(document_id, case_id, limit=10)
        raise RefileCollision(document_id, taken) from exc


def _read(row: Row[Transaction, str, str]) -> dict[str, object]:
    tx, from_key, to_key = row
    return {
        "id": tx.id,
        "external_id": tx.external_id,
        "engine_id": tx.engine_id,
        "from_account": from_key,
        "to_account": to_key,
        "amount": from_minor(tx.amount_minor, tx.currency),
        "currency": tx.currency,
        "value_time": tx.value_time,
        "sequence": tx.sequence,
        "channel": tx.channel,
        "narrative": tx.narrative,
        "counterparty_name": tx.counterparty_name,
        "counterparty_account": tx.counterparty_account,
        "source_document_id": tx.source_document_id,
        "source_row": tx.source_row,
    }


def get_transaction(
    session: Session, ref: str, compartments: Compartments = EVERY
) -> dict[str, object]:
    """By numeric id, by engine id (what traces name), or by the source's external id when it
    names one record the caller may see; one from a document in a compartment the caller may
    not see does not exist for them (docs/engine-ids.md)."""
    transactions = TransactionRepository(session)
    numeric = id_in(ref)
    row = transactions.get(numeric, compartments) if numeric is not None else None
    row = row or _named(transactions, ref, compartments)
    if row is None:
        raise TransactionNotFound(ref)
    return _read(row)


def _named(
    transactions: TransactionRepository, ref: str, compartments: Compartments
) -> Row[Transaction, str, str] | None:
    """The visible record whose engine id is `ref`, else the one visible record stored under
    external id `ref`; 409 when several are."""
    if (row := transactions.get_by_engine_id(ref, compartments)) is not None:
        return row
    # An external id stored in the shared pool is that row's engine id, found above; here it
    # names case records only, one per visible case at most.
    found = transactions.by_external_id(ref, compartments, limit=100)
    if len(found) > 1:
        raise AmbiguousTransaction(ref, sorted(r[0].engine_id for r in found))
    return found[0] if found else None


def engine_id_for(session: Session, ref: str, compartments: Compartments) -> str | None:
    """The engine id of the visible record `ref` names (engine id or external id), if any."""
    row = _named(TransactionRepository(session), ref, compartments)
    return None if row is None else row[0].engine_id


def page_account_transactions(
    session: Session,
    account_id: int,
    *,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    cursor: str | None,
    compartments: Compartments = EVERY,
) -> tuple[list[dict[str, object]], str | None]:
    rows, next_cursor = TransactionRepository(session).page_for_account(
        account_id,
        start=start,
        end=end,
        limit=limit,
        after=ACCOUNT_TRANSACTIONS.decode(cursor),
        compartments=compartments,
    )
    items = [
        {**_read(r), "direction": "out" if r[0].from_account_id == account_id else "in"}
        for r in rows
    ]
    return items, next_cursor


def read_account(session: Session, ref: str, compartments: Compartments = EVERY) -> dict[str, Any]:
    """An account with its holders (see `account_service.read_account`), its totals in and out
    per currency and its first and last activity, over the caller's visible transactions."""
    account = account_service.read_account(session, ref, compartments)
    totals: dict[str, dict[str, Any]] = {}
    first: datetime | None = None
    last: datetime | None = None
    rows = TransactionRepository(session).totals_for_account(account["id"], compartments)
    for direction, currency, count, minor, lo, hi in rows:
        entry = totals.setdefault(
            currency,
            {"currency": currency, "count_in": 0, "total_in": 0, "count_out": 0, "total_out": 0},
        )
        entry[f"count_{direction}"], entry[f"total_{direction}"] = count, minor
        first = lo if first is None else min(first, lo)
        last = hi if last is None else max(last, hi)
    for entry in totals.values():
        for field in ("total_in", "total_out"):
            entry[field] = from_minor(entry[field], entry["currency"])
    return {
        **account,
        "totals": [totals[c] for c in sorted(totals)],
        "first_activity": first,
        "last_activity": last,
    }


def account_keys_of(session: Session, document_id: str) -> set[str]:
    """The keys of the accounts a source document's transactions debit or credit."""
    return TransactionRepository(session).account_keys_of(document_id)
