import hashlib

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from app.account import service
from app.account.schemas import AccountBatch, AccountBatchResult
from app.auth import LedgerWriter
from app.deps import SessionDep
from app.errors import problems
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
