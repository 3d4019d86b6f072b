from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from app.account import service as account_service
from app.account.keys import normalise_key
from app.auth import TraceReader, TraceRunner
from app.compartments import Compartments, CompartmentsDep
from app.deps import SessionDep
from app.errors import problems
from app.inputs import Text, TraceIdPath
from app.pagination import Page, PageDep, PageParams
from app.trace import service, shares, views
from app.trace.chart import chart_of_trace
from app.trace.chart_plan import PER_COLUMN
from app.trace.roles import names_by_account
from app.trace.runtime import TraceRuntime, TraceRuntimeDep
from app.trace.schemas import (
    ExplainedPath,
    FlagKind,
    RerunDiff,
    RoleName,
    TraceAccount,
    TraceAccountRoles,
    TraceClaimantShare,
    TraceCreate,
    TraceExit,
    TraceFlag,
    TraceFlow,
    TraceRead,
    TraceSource,
    TraceStatus,
)

router = APIRouter(prefix="/api/v1/traces", tags=["traces"])
_ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {"model": TraceRead, "description": "Still running as a job: poll GET /traces/{id}."}
}


@dataclass(frozen=True, slots=True)
class Finished:
    """A finished trace the caller may see: its run and result, with the session and the
    runtime the route reads further with."""

    session: Any  # routers build no queries, nor name their session's type
    run: Any  # app.trace.models.TraceRun: routers import no models
    result: Any  # tracing.TraceResult
    runtime: TraceRuntime
    compartments: Compartments  # what the caller may see: labels come only from it


def finished_trace(
    trace_id: TraceIdPath, session: SessionDep, actor: TraceReader, runtime: TraceRuntimeDep
) -> Finished:
    run = service.visible_trace(session, trace_id, actor=actor)
    result = service.finished_result(session, run, runtime)
    return Finished(session, run, result, runtime, service.caller_compartments(session, actor))


FinishedTrace = Annotated[Finished, Depends(finished_trace)]
AccountFilter = Annotated[
    Text | None, Query(max_length=300, description="Only this account (key).")
]


@router.post("", status_code=201, responses={**_ACCEPTED, **problems(403, 404, 409, 422)})
def create_trace(
    body: TraceCreate,
    response: Response,
    session: SessionDep,
    actor: TraceRunner,
    runtime: TraceRuntimeDep,
    compartments: CompartmentsDep,
    mode: Annotated[
        str, Query(pattern="^(auto|async)$", description="`async` answers 202 at once.")
    ] = "auto",
) -> TraceRead:
    """Run a trace over what the caller may see; small ones answer with the result."""
    run = service.start_trace(
        session,
        body,
        actor=actor,
        runtime=runtime,
        force_async=mode == "async",
        compartments=compartments,
    )
    if run.status == TraceStatus.RUNNING:
        response.status_code = 202
    return service.trace_read(run, runtime)


@router.get("", responses=problems(403, 422))
def list_traces(
    session: SessionDep, actor: TraceReader, page: PageDep, runtime: TraceRuntimeDep
) -> Page[TraceRead]:
    """List the traces the caller may see, newest first."""
    rows, next_cursor = service.page_traces(
        session, actor=actor, limit=page.limit, cursor=page.cursor
    )
    return Page(items=[service.trace_read(r, runtime) for r in rows], next_cursor=next_cursor)


@router.get("/{trace_id}", responses=problems(403, 404, 422))
async def get_trace(
    trace_id: TraceIdPath, session: SessionDep, actor: TraceReader, runtime: TraceRuntimeDep
) -> TraceRead:
    """Get a trace: its parameters, provenance, status, progress and summary."""

    # Async, its reads in one worker thread: FastAPI validates a sync route's answer in a
    # second worker-thread round trip, a measurable part of a cheap read (issue 23).
    def read() -> TraceRead:
        return service.trace_read(service.visible_trace(session, trace_id, actor=actor), runtime)

    return await run_in_threadpool(read)


@router.post("/{trace_id}/cancel", responses=problems(403, 404, 422))
def cancel_trace(
    trace_id: TraceIdPath, session: SessionDep, actor: TraceRunner, runtime: TraceRuntimeDep
) -> TraceRead:
    """Cancel a running trace job (a finished trace is left as it is)."""
    return service.trace_read(
        service.cancel_trace(session, trace_id, actor=actor, runtime=runtime), runtime
    )


@router.get("/{trace_id}/accounts", responses=problems(403, 404, 409, 422))
def list_trace_accounts(
    found: FinishedTrace,
    page: PageDep,
    sort: Annotated[
        Literal["received", "held", "hop"], Query(description="The order of the accounts.")
    ] = "received",
) -> Page[TraceAccount]:
    """The accounts a trace reached, with what they received, passed on and hold."""
    return _accounts(found, page, sort=sort)


def _holders(found: Finished) -> dict[str, str]:
    keys = found.result.accounts["account"].to_list()
    return account_service.holder_names(found.session, keys, found.compartments)


def _accounts(
    found: Finished, page: PageParams, *, sort: str, holdings_only: bool = False
) -> Page[TraceAccount]:
    rows = views.account_rows(
        found.result,
        sort=sort,
        limit=page.limit,
        cursor=page.cursor,
        holders=_holders(found),
        roles=service.trace_roles(found.runtime, found.run, found.result),
        holdings_only=holdings_only,
    )
    return Page.of(TraceAccount, rows)


@router.get("/{trace_id}/roles", responses=problems(403, 404, 409, 422))
def list_trace_roles(
    found: FinishedTrace,
    page: PageDep,
    role: Annotated[RoleName | None, Query(description="Only accounts playing this role.")] = None,
    account: AccountFilter = None,
) -> Page[TraceAccountRoles]:
    """Each reached account's roles in the network (money mule, collector, distributor, hub,
    broker, sink, exit) with the figures that earned them, under the trace's `roles`
    thresholds, by account."""
    key = None if account is None else (normalise_key(account) or account)
    return Page.of(
        TraceAccountRoles,
        views.role_rows(
            service.trace_roles(found.runtime, found.run, found.result),
            role=role,
            account=key,
            limit=page.limit,
            cursor=page.cursor,
            holders=_holders(found),
        ),
    )


@router.get("/{trace_id}/holdings", responses=problems(403, 404, 409, 422))
def list_trace_holdings(
    found: FinishedTrace,
    page: PageDep,
) -> Page[TraceAccount]:
    """Where the taint is now: accounts holding it at `as_of`, largest first (freeze candidates)."""
    return _accounts(found, page, sort="held", holdings_only=True)


@router.get("/{trace_id}/flows", responses=problems(403, 404, 409, 422))
def list_trace_flows(
    found: FinishedTrace,
    page: PageDep,
) -> Page[TraceFlow]:
    """The transactions on the trail, by hop and time, with their traced amounts."""
    result = found.result
    return Page.of(TraceFlow, views.flow_rows(result, limit=page.limit, cursor=page.cursor))


@router.get("/{trace_id}/exits", responses=problems(403, 404, 409, 422))
def list_trace_exits(
    found: FinishedTrace,
    page: PageDep,
) -> Page[TraceExit]:
    """Where taint left the traced universe: stopped accounts, cash-out, hop limit."""
    result = found.result
    return Page.of(TraceExit, views.exit_rows(result, limit=page.limit, cursor=page.cursor))


@router.get("/{trace_id}/flags", responses=problems(403, 404, 409, 422))
def list_trace_flags(
    found: FinishedTrace,
    page: PageDep,
    kind: Annotated[FlagKind | None, Query(description="Only flags of this kind.")] = None,
    account: Annotated[
        Text | None, Query(max_length=300, description="Only flags on this account (key).")
    ] = None,
) -> Page[TraceFlag]:
    """The accounts the trace flagged for a human look (inferred opening balances, overdrafts,
    accounts not expanded), by account."""
    result = found.result
    key = None if account is None else (normalise_key(account) or account)
    return Page.of(
        TraceFlag,
        views.flag_rows(result, kind=kind, account=key, limit=page.limit, cursor=page.cursor),
    )


@router.get("/{trace_id}/claimants", responses=problems(403, 404, 409, 422))
def list_trace_claimants(
    found: FinishedTrace,
    page: PageDep,
    account: AccountFilter = None,
    claimant: Annotated[
        Text | None, Query(max_length=300, description="Only this claimant.")
    ] = None,
) -> Page[TraceClaimantShare]:
    """Each claimant's taint received and held per account (traces whose seeds name claimants);
    the summary gives each claimant's total held and exited."""
    result = found.result
    key = None if account is None else (normalise_key(account) or account)
    return Page.of(
        TraceClaimantShare,
        shares.claimant_rows(
            result, account=key, claimant=claimant, limit=page.limit, cursor=page.cursor
        ),
    )


@router.get("/{trace_id}/sources", responses=problems(403, 404, 409, 422))
def list_trace_sources(
    found: FinishedTrace,
    page: PageDep,
) -> Page[TraceSource]:
    """Sources of funds: where each seed's money entered the traced ledger (a value rule traced
    backward); a seed's amounts sum exactly to it."""
    result = found.result
    return Page.of(TraceSource, shares.source_rows(result, limit=page.limit, cursor=page.cursor))


@router.get("/{trace_id}/explain", responses=problems(403, 404, 409, 422))
def explain_trace(
    found: FinishedTrace,
    to: Annotated[Text, Query(max_length=300, description="Account key or id to explain.")],
    k: Annotated[int, Query(ge=1, le=50)] = 5,
    currency: Annotated[Text | None, Query(max_length=16)] = None,
) -> list[ExplainedPath]:
    """The strongest paths that carried value from a seed to one account (backward: from an
    origin to a seed)."""
    result = found.result
    account = account_service.resolve_account(found.session, to, found.compartments)
    paths = views.explained_paths(result, to=account.key, currency=currency, k=k)
    return [ExplainedPath.model_validate(p) for p in paths]


_SVG: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"image/svg+xml": {"example": "<svg ...>"}},
        "description": "The flow-of-funds chart.",
    }
}
_PNG: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"image/png": {"example": "(binary PNG)"}},
        "description": "The flow-of-funds chart.",
    }
}
_CSV: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {"example": "account,currency,hops,...\n"}},
        "description": "CSV with a header row.",
    }
}
_JSON: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/json": {"example": {"accounts": [], "flows": []}}},
        "description": "The stored canonical result, byte for byte.",
    }
}


@dataclass(frozen=True, slots=True)
class ChartOptions:
    per_column: int
    empty_edges: bool


def chart_options(
    per_column: Annotated[
        int,
        Query(
            ge=1,
            le=40,
            description="Accounts shown per hop column, the most significant first; the rest "
            "of the column fold into one node with their count and totals.",
            examples=[PER_COLUMN],
        ),
    ] = PER_COLUMN,
    empty_edges: Annotated[
        bool,
        Query(
            description="Also draw the transfers that carried no traced value (dashed).",
            examples=[False],
        ),
    ] = False,
) -> ChartOptions:
    return ChartOptions(per_column, empty_edges)


ChartOptionsDep = Annotated[ChartOptions, Depends(chart_options)]


def _chart(found: Finished, fmt: str, options: ChartOptions) -> bytes:
    roles = names_by_account(service.trace_roles(found.runtime, found.run, found.result))
    return chart_of_trace(
        found.session,
        found.run,
        found.result,
        fmt=fmt,
        now=datetime.now(UTC),
        compartments=found.compartments,
        per_column=options.per_column,
        empty_edges=options.empty_edges,
        roles=roles,
    )


@router.get(
    "/{trace_id}/graph.svg",
    response_class=Response,
    responses={**_SVG, **problems(403, 404, 409, 422)},
)
def get_trace_graph_svg(
    found: FinishedTrace,
    options: ChartOptionsDep,
) -> Response:
    """The trace as a flow-of-funds chart (SVG, text searchable): seeds left, hops rightwards."""
    chart = _chart(found, "svg", options)
    return Response(chart, media_type="image/svg+xml")


@router.get(
    "/{trace_id}/graph.png",
    response_class=Response,
    responses={**_PNG, **problems(403, 404, 409, 422)},
)
def get_trace_graph_png(
    found: FinishedTrace,
    options: ChartOptionsDep,
) -> Response:
    """The trace as a flow-of-funds chart (PNG)."""
    return Response(_chart(found, "png", options), media_type="image/png")


@router.get(
    "/{trace_id}/accounts.csv",
    # The CSV answer is all the document names: PlainTextResponse would add text/plain.
    response_class=Response,
    responses={**_CSV, **problems(403, 404, 409, 422)},
)
def export_trace_accounts_csv(
    found: FinishedTrace,
) -> PlainTextResponse:
    """The accounts reached, as CSV."""
    result = found.result
    return PlainTextResponse(
        views.csv_of(views.accounts_frame(result, sort="received")), media_type="text/csv"
    )


@router.get(
    "/{trace_id}/flows.csv",
    response_class=Response,
    responses={**_CSV, **problems(403, 404, 409, 422)},
)
def export_trace_flows_csv(
    found: FinishedTrace,
) -> PlainTextResponse:
    """The transactions on the trail, as CSV."""
    result = found.result
    return PlainTextResponse(
        views.csv_of(result.flows.sort("hop", "value_time", "external_id")), media_type="text/csv"
    )


@router.get(
    "/{trace_id}/result.json",
    response_class=Response,
    responses={**_JSON, **problems(403, 404, 409, 422)},
)
def export_trace_result(trace_id: TraceIdPath, session: SessionDep, actor: TraceReader) -> Response:
    """The stored canonical result (its SHA-256 is `result_sha256`), for evidence bundles."""
    run = service.visible_trace(session, trace_id, actor=actor)
    return Response(service.result_json(session, run), media_type="application/json")


@router.post("/{trace_id}/rerun", status_code=201, responses=problems(403, 404, 409, 422))
def rerun_trace(
    trace_id: TraceIdPath,
    session: SessionDep,
    actor: TraceRunner,
    runtime: TraceRuntimeDep,
    compartments: CompartmentsDep,
) -> RerunDiff:
    """Run a stored trace again on today's data and report what changed."""
    diff = service.rerun_trace(
        session, trace_id, actor=actor, runtime=runtime, compartments=compartments
    )
    return RerunDiff.model_validate({**diff, "trace": service.trace_read(diff["trace"], runtime)})
