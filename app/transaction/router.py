from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from app.account import service as account_service
from app.account.numbers import AccountCheck
from app.account.schemas import AccountRead
from app.compartments import CompartmentsDep, LedgerView
from app.errors import problems
from app.filing import LedgerLoadDep
from app.inputs import AccountRefPath, Instant, Text, TransactionRefPath
from app.pagination import Page, PageDep
from app.source.intake import filed_json
from app.source.schemas import SourceIn
from app.transaction import corrections, service
from app.transaction.schemas import (
    AccountTransactionRead,
    IngestResult,
    TransactionBatch,
    TransactionCorrectionIn,
    TransactionHistory,
    TransactionRead,
)
from app.uploads import Upload, stored_or_replayed

router = APIRouter(prefix="/api/v1/transactions", tags=["transactions"])
_CHUNK = 1024 * 1024
_STORED: dict[int | str, dict[str, Any]] = {
    201: {"description": "Stored; `already_present` counts rows that were known."}
}
_REPLAY: dict[int | str, dict[str, Any]] = {
    200: {"description": "Nothing new: every row was already stored (a replay)."}
}
CaseForm = Annotated[
    int | None,
    Form(ge=1, description="File the upload in this case's compartment (need-to-know)."),
]


@router.post("/batch", status_code=201, responses={**_REPLAY, **problems(403, 404, 413, 422)})
async def create_transaction_batch(
    body: TransactionBatch,
    request: Request,
    response: Response,
    load: LedgerLoadDep,
) -> IngestResult:
    """Store a JSON batch of transactions, whole or not at all; a re-sent batch stores nothing."""
    body, upload = await filed_json(request, load.filing, body)
    result, stored = await run_in_threadpool(
        service.ingest_batch, load.session, body, upload, actor=load.actor, settings=load.settings
    )
    return stored_or_replayed(response, result, stored=stored)


@router.post(
    "/upload",
    status_code=201,
    responses={**_STORED, **_REPLAY, **problems(403, 404, 413, 415, 422)},
)
async def upload_transactions(
    file: Annotated[UploadFile, File(description="CSV (UTF-8, header row) or Parquet.")],
    kind: Annotated[Text, Form(min_length=1, max_length=50, examples=["bank_statement"])],
    reference: Annotated[Text, Form(min_length=1, max_length=200, examples=["PO-2026-017"])],
    response: Response,
    load: LedgerLoadDep,
    timezone: Annotated[
        Text | None,
        Form(max_length=64, description="IANA zone for value times without an offset."),
    ] = None,
    account_check: Annotated[
        AccountCheck,
        Form(description="`warn` stores account numbers failing their check, flagged."),
    ] = AccountCheck.REFUSE,
    case_id: CaseForm = None,
) -> IngestResult:
    """Upload a CSV or Parquet file of transactions, stored whole or not at all."""

    def ingest(path: Path, upload: Upload, *, case_id: int | None) -> tuple[IngestResult, bool]:
        source = SourceIn(kind=kind, reference=reference, case_id=case_id)
        return service.ingest_file(
            load.session,
            path,
            source,
            upload,
            timezone=timezone,
            actor=load.actor,
            settings=load.settings,
            account_check=account_check,
        )

    return await load.stored_file(
        response,
        file,
        case_id,
        media_type="application/octet-stream",
        load=ingest,
    )


@router.post("/{transaction}/corrections", status_code=201, responses=problems(403, 404, 409, 422))
async def correct_transaction(
    transaction: TransactionRefPath,
    body: TransactionCorrectionIn,
    request: Request,
    load: LedgerLoadDep,
    compartments: CompartmentsDep,
) -> TransactionHistory:
    """Supersede a transaction by a corrected record, with a reason and its source document."""
    body, upload = await filed_json(request, load.filing, body)
    history = await run_in_threadpool(
        corrections.correct_transaction,
        load.session,
        transaction,
        source=body.source,
        record=dict(body.transaction),
        reason=body.reason,
        upload=upload,
        actor=load.actor,
        settings=load.settings,
        compartments=compartments,
    )
    return TransactionHistory.model_validate(history)


@router.get("/{transaction}/history", responses=problems(403, 404, 422))
def get_transaction_history(
    transaction: TransactionRefPath, view: LedgerView
) -> TransactionHistory:
    """Get every record of a transaction, first to current, with each correction's reason."""
    found = corrections.transaction_history(view.session, transaction, view.compartments)
    return TransactionHistory.model_validate(found)


# The hot reads are async, their reads in one worker thread: FastAPI validates a sync route's
# answer in a second worker-thread round trip, a measurable part of a cheap read (issue 23).
@router.get("/{transaction}", responses=problems(403, 404, 422))
async def get_transaction(transaction: TransactionRefPath, view: LedgerView) -> TransactionRead:
    """Get one transaction by id or by the source's external id."""
    found = await run_in_threadpool(
        service.get_transaction, view.session, transaction, view.compartments
    )
    return TransactionRead.model_validate(found)


# The ledger seen from one account: its transactions and its totals in and out. Served here, as
# the ledger depends on accounts and not the reverse; included before the accounts' router.
account_router = APIRouter(prefix="/api/v1/accounts", tags=["accounts"])


# Keys may hold a slash (bank:<institution>/<number>): `{account:account_key}` (app.inputs)
# takes them but never a suffix of the account's routes (`/transactions`, `/history`).
@account_router.get("/{account:account_key}/transactions", responses=problems(403, 404, 422))
async def list_account_transactions(
    account: AccountRefPath,
    view: LedgerView,
    page: PageDep,
    start: Annotated[Instant | None, Query(description="Value time from (inclusive).")] = None,
    end: Annotated[Instant | None, Query(description="Value time until (exclusive).")] = None,
) -> Page[AccountTransactionRead]:
    """List an account's transactions in and out, in time and statement order."""

    def read() -> Page[AccountTransactionRead]:
        found = account_service.resolve_account_id(view.session, account, view.compartments)
        items, next_cursor = service.page_account_transactions(
            view.session,
            found,
            start=start,
            end=end,
            limit=page.limit,
            cursor=page.cursor,
            compartments=view.compartments,
        )
        return Page(
            items=[AccountTransactionRead.model_validate(i) for i in items],
            next_cursor=next_cursor,
        )

    return await run_in_threadpool(read)


@account_router.get("/{account:account_key}", responses=problems(403, 404, 422))
async def get_account(account: AccountRefPath, view: LedgerView) -> AccountRead:
    """Get an account by key (e.g. `iban:DE89...`) or id, with holders, totals and activity."""
    found = await run_in_threadpool(service.read_account, view.session, account, view.compartments)
    return AccountRead.model_validate(found)
