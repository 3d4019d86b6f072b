import hashlib
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from app.account import service
from app.account.schemas import (
    AccountBatch,
    AccountBatchResult,
    AccountFlag,
    AccountRead,
    FlaggedAccountRead,
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


@router.get("", responses=problems(403, 422))
def list_accounts(
    flag: Annotated[AccountFlag, Query(description="Accounts carrying this flag.")],
    session: SessionDep,
    actor: LedgerReader,
    page: PageDep,
) -> Page[FlaggedAccountRead]:
    """List flagged accounts, e.g. numbers stored despite a failed check (`invalid_number`)."""
    items, next_cursor = service.page_flagged_accounts(
        session, str(flag), limit=page.limit, cursor=page.cursor
    )
    return Page(
        items=[FlaggedAccountRead.model_validate(a) for a in items], next_cursor=next_cursor
    )


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


@router.get("/{account:path}", responses=problems(403, 404, 422))
def get_account(account: AccountRefPath, session: SessionDep, actor: LedgerReader) -> AccountRead:
    """Get an account by key (e.g. `iban:DE89...`) or id, with holders, totals and activity."""
    return AccountRead.model_validate(service.read_account(session, account))
