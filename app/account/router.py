from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from app.account import service
from app.account.schemas import (
    AccountBatch,
    AccountBatchResult,
    AccountCorrectionIn,
    AccountFlag,
    AccountHistory,
    FlaggedAccountRead,
)
from app.compartments import CompartmentsDep, LedgerView
from app.errors import problems
from app.filing import LedgerLoadDep
from app.inputs import AccountRefPath
from app.pagination import Page, PageDep
from app.source.intake import filed_json

router = APIRouter(prefix="/api/v1/accounts", tags=["accounts"])


@router.post("/batch", status_code=201, responses=problems(403, 404, 422))
async def create_account_batch(
    body: AccountBatch,
    request: Request,
    load: LedgerLoadDep,
) -> AccountBatchResult:
    """Load parties, accounts and holder links as one all-or-nothing batch."""
    body, upload = await filed_json(request, load.filing, body)
    return await run_in_threadpool(
        service.ingest_accounts, load.session, body, upload, actor=load.actor
    )


@router.get("", responses=problems(403, 422))
def list_accounts(
    flag: Annotated[
        AccountFlag,
        Query(description="Accounts carrying this flag.", examples=["invalid_number"]),
    ],
    view: LedgerView,
    page: PageDep,
) -> Page[FlaggedAccountRead]:
    """List flagged accounts, e.g. numbers stored despite a failed check (`invalid_number`)."""
    found = service.page_flagged_accounts(
        view.session,
        str(flag),
        limit=page.limit,
        cursor=page.cursor,
        compartments=view.compartments,
    )
    return Page.of(FlaggedAccountRead, found)


@router.post(
    "/{account:account_key}/corrections", status_code=201, responses=problems(403, 404, 422)
)
async def correct_account(
    account: AccountRefPath,
    body: AccountCorrectionIn,
    request: Request,
    load: LedgerLoadDep,
    compartments: CompartmentsDep,
) -> AccountHistory:
    """Correct an account's details with a reason and the correcting source document."""
    body, upload = await filed_json(request, load.filing, body)
    return AccountHistory.model_validate(
        await run_in_threadpool(
            service.correct_account,
            load.session,
            account,
            body,
            upload,
            actor=load.actor,
            compartments=compartments,
        )
    )


@router.get("/{account:account_key}/history", responses=problems(403, 404, 422))
def get_account_history(account: AccountRefPath, view: LedgerView) -> AccountHistory:
    """Get an account's details as first loaded and after each correction, with the reasons."""
    found = service.account_history(view.session, account, view.compartments)
    return AccountHistory.model_validate(found)
