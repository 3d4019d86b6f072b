"""Who is calling: API keys, roles and the scopes each role grants."""

from typing import Annotated, Protocol

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.db import reading
from app.deps import SessionDep
from app.errors import Forbidden, Unauthorized
from app.principal import Principal, Scope
from app.principal_cache import PrincipalCache

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key: `Authorization: Bearer mt_...` (create one with "
    "`moneytrail keys create --role ROLE`).",
)


class KeyLookup(Protocol):
    """Who a presented secret speaks for, or None: the apikey domain answers it (`create_app`
    puts its lookup on `app.state.key_lookup`), so this shared module knows no domain."""

    def __call__(self, session: Session, secret: str) -> Principal | None: ...


async def authenticate(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    # Which of two keys would speak for the request is a proxy's or a client's guess: refuse.
    if len(request.headers.getlist("authorization")) > 1:
        raise Unauthorized("send one Authorization header, not several")
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("an API key is required: send 'Authorization: Bearer <key>'")
    secret = credentials.credentials
    # Async: a key read lately whose standing has not changed since costs no query and no
    # worker-thread hand-off (app.principal_cache); any other goes to the database.
    cache: PrincipalCache | None = getattr(request.app.state, "principals", None)
    digest = PrincipalCache.digest(secret)
    principal = cache.get(digest) if cache is not None else None
    if principal is None:
        generation = cache.generation() if cache is not None else None
        principal = await run_in_threadpool(_look_up, request, session, secret)
        if principal is not None and cache is not None and generation is not None:
            cache.put(digest, principal, generation)
    if principal is None:
        raise Unauthorized("the API key is unknown, revoked or expired")
    # The audit trail names who asked, whatever the outcome of the request.
    request.state.principal = principal
    return principal


def _look_up(request: Request, session: Session, secret: str) -> Principal | None:
    with reading(session):  # no write lock while the request's own work has not started
        lookup: KeyLookup = request.app.state.key_lookup
        return lookup(session, secret)


PrincipalDep = Annotated[Principal, Depends(authenticate)]


def require_scopes(*needed: Scope) -> object:
    # Async: a pure check runs on the event loop instead of taking a worker-thread round trip.
    async def check(principal: PrincipalDep) -> Principal:
        if missing := set(needed) - principal.scopes:
            raise Forbidden(
                f"role '{principal.role}' lacks {', '.join(sorted(missing))}",
                role=str(principal.role),
            )
        return principal

    # Read by the access-matrix test: every API route must carry exactly such a rule.
    check.required_scopes = frozenset(needed)  # type: ignore[attr-defined]
    return Depends(check)


LedgerReader = Annotated[Principal, require_scopes(Scope.LEDGER_READ)]
LedgerWriter = Annotated[Principal, require_scopes(Scope.LEDGER_WRITE)]
# A person's judgement on records (a duplicate, two parties being one): ledger writers who do
# casework, so not an ingest key, which loads data and decides nothing.
RecordJudge = Annotated[Principal, require_scopes(Scope.LEDGER_WRITE, Scope.CASES_WRITE)]
SourceReader = Annotated[Principal, require_scopes(Scope.SOURCES_READ)]
KeyManager = Annotated[Principal, require_scopes(Scope.KEYS_MANAGE)]
# Only admins hold keys:manage: refiling evidence between compartments is theirs alone.
Administrator = Annotated[Principal, require_scopes(Scope.KEYS_MANAGE)]
CaseReader = Annotated[Principal, require_scopes(Scope.CASES_READ)]
CaseWriter = Annotated[Principal, require_scopes(Scope.CASES_WRITE)]
MeasureWriter = Annotated[Principal, require_scopes(Scope.MEASURES_WRITE)]
TraceReader = Annotated[Principal, require_scopes(Scope.TRACES_READ)]
TraceRunner = Annotated[Principal, require_scopes(Scope.TRACES_RUN)]
DeadlineSweeper = Annotated[Principal, require_scopes(Scope.DEADLINES_SWEEP)]
AuditReader = Annotated[Principal, require_scopes(Scope.AUDIT_READ)]
StatisticsReader = Annotated[Principal, require_scopes(Scope.STATISTICS_READ)]
