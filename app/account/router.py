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
from app.auth import LedgerReader
from app.compartments import CompartmentsDep
from app.deps import SessionDep
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
    session: SessionDep,
    actor: LedgerReader,
    page: PageDep,
    compartments: CompartmentsDep,
) -> Page[FlaggedAccountRead]:
    """List flagged accounts, e.g. numbers stored despite a failed check (`invalid_number`)."""
    return Page.of(
        FlaggedAccountRead,
        service.page_flagged_accounts(
            session, str(flag), limit=page.limit, cursor=page.cursor, compartments=compartments
        ),
    )


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
def get_account_history(
    account: AccountRefPath, session: SessionDep, actor: LedgerReader, compartments: CompartmentsDep
) -> AccountHistory:
    """Get an account's details as first loaded and after each correction, with the reasons."""
    return AccountHistory.model_validate(service.account_history(session, account, compartments))
