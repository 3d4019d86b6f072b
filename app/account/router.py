import hashlib
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from app.account import service
from app.account.schemas import (
    AccountBatch,
    AccountBatchResult,
    AccountCorrectionIn,
    AccountHistory,
    AccountRead,
)
from app.auth import LedgerReader, LedgerWriter
from app.deps import SessionDep
from app.errors import problems
from app.inputs import AccountRefPath, Instant
from app.pagination import Page, PageDep
from app.transaction import service as transaction_service
from app.transaction.schemas import AccountTransactionRead
from app.uploads import Upload

router = APIRouter(prefix="/api/v1/accounts", tags=["accounts"])


@router.post("/batch", status_code=201, responses=problems(403, 422))
async def create_account_batch(
    body: AccountBatch, request: Request, session: SessionDep, actor: LedgerWriter
) -> AccountBatchResult:
    """Load parties, accounts and holder links as one all-or-nothing batch."""
    raw = await request.body()
    upload = Upload(hashlib.sha256(raw).hexdigest(), len(raw), "application/json")
    return await run_in_threadpool(service.ingest_accounts, session, body, upload, actor=actor)


# Keys may hold a slash (bank:<institution>/<number>), hence the path converter; the
# history route comes first so that its suffix is never read as part of a key.
@router.get("/{account:path}/transactions", responses=problems(403, 404, 422))
def list_account_transactions(
    account: AccountRefPath,
    session: SessionDep,
    actor: LedgerReader,
    page: PageDep,
    start: Annotated[Instant | None, Query(description="Value time from (inclusive).")] = None,
    end: Annotated[Instant | None, Query(description="Value time until (exclusive).")] = None,
) -> Page[AccountTransactionRead]:
    """List an account's transactions in and out, in time and statement order."""
    found = service.resolve_account(session, account)
    items, next_cursor = transaction_service.page_account_transactions(
        session, found.id, start=start, end=end, limit=page.limit, cursor=page.cursor
    )
    return Page(
        items=[AccountTransactionRead.model_validate(i) for i in items], next_cursor=next_cursor
    )


@router.post("/{account:path}/corrections", status_code=201, responses=problems(403, 404, 422))
async def correct_account(
    account: AccountRefPath,
    body: AccountCorrectionIn,
    request: Request,
    session: SessionDep,
    actor: LedgerWriter,
) -> AccountHistory:
    """Correct an account's details with a reason and the correcting source document."""
    raw = await request.body()
    upload = Upload(hashlib.sha256(raw).hexdigest(), len(raw), "application/json")
    return AccountHistory.model_validate(
        await run_in_threadpool(
            service.correct_account,
            session,
            account,
            source=body.source,
            details=body.details.model_dump(exclude_unset=True),
            reason=body.reason,
            upload=upload,
            actor=actor,
        )
    )


@router.get("/{account:path}/history", responses=problems(403, 404, 422))
def get_account_history(
    account: AccountRefPath, session: SessionDep, actor: LedgerReader
) -> AccountHistory:
    """Get an account's details as first loaded and after each correction, with the reasons."""
    return AccountHistory.model_validate(service.account_history(session, account))


@router.get("/{account:path}", responses=problems(403, 404, 422))
def get_account(account: AccountRefPath, session: SessionDep, actor: LedgerReader) -> AccountRead:
    """Get an account by key (e.g. `iban:DE89...`) or id, with holders, totals and activity."""
    return AccountRead.model_validate(service.read_account(session, account))
