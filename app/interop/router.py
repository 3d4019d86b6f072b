from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from app.auth import CaseReader, LedgerReader, LedgerWriter, TraceReader
from app.deps import SessionDep, SettingsDep
from app.errors import problems
from app.filing import FilingDep
from app.inputs import CaseIdPath, Text, TraceIdPath
from app.interop import graph, service
from app.trace.runtime import TraceRuntimeDep
from app.transaction.schemas import IngestResult
from app.uploads import received

router = APIRouter(tags=["interop"])
NDJSON = "application/x-ndjson"
_FTM_EXAMPLE = (
    '{"id": "5f1c...", "schema": "Payment", "properties": {"amount": ["9500.00"], '
    '"currency": ["EUR"], "date": ["2026-01-05T09:10:00"], "payer": ["..."], '
    '"beneficiary": ["..."], "recordId": ["DEMO-D01"]}}\n'
)


def _content(media_type: str, example: str, description: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"content": {media_type: {"example": example}}, "description": description}}


def _download(body: bytes | str, media_type: str, filename: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


_GRAPHML = _content(
    "application/graphml+xml",
    '<?xml version="1.0" encoding="utf-8"?><graphml xmlns="http://graphml.graphdrawing.org/xmlns">'
    '<graph edgedefault="directed">...</graph></graphml>',
    "GraphML: accounts as nodes, transactions as edges (amounts as decimal strings and minor "
    "units).",
)
_GEXF = _content(
    "application/gexf+xml",
    '<?xml version="1.0" encoding="utf-8"?><gexf xmlns="http://gexf.net/1.2" version="1.2">'
    "...</gexf>",
    "GEXF 1.2 for Gephi.",
)
_I2_ENTITIES = _content(
    "text/csv", ",".join(graph.I2_ENTITY_COLUMNS) + "\r\n", "i2 entities (docs/i2-import.md)."
)
_I2_LINKS = _content(
    "text/csv", ",".join(graph.I2_LINK_COLUMNS) + "\r\n", "i2 links (docs/i2-import.md)."
)
_FTM = _content(NDJSON, _FTM_EXAMPLE, "FollowTheMoney entities, one JSON object a line.")


@router.get(
    "/api/v1/traces/{trace_id}/export/graphml",
    response_class=Response,
    responses={**_GRAPHML, **problems(403, 404, 409, 422)},
)
def export_trace_graphml(
    trace_id: TraceIdPath, session: SessionDep, actor: TraceReader, runtime: TraceRuntimeDep
) -> Response:
    """Export a trace as GraphML (yEd, Gephi, networkx, i2 via GraphML import)."""
    body = service.export_trace(session, trace_id, "graphml", actor=actor, runtime=runtime)
    return _download(body, "application/graphml+xml", f"trace-{trace_id}.graphml")


@router.get(
    "/api/v1/traces/{trace_id}/export/gexf",
    response_class=Response,
    responses={**_GEXF, **problems(403, 404, 409, 422)},
)
def export_trace_gexf(
    trace_id: TraceIdPath, session: SessionDep, actor: TraceReader, runtime: TraceRuntimeDep
) -> Response:
    """Export a trace as GEXF for Gephi."""
    body = service.export_trace(session, trace_id, "gexf", actor=actor, runtime=runtime)
    return _download(body, "application/gexf+xml", f"trace-{trace_id}.gexf")


@router.get(
    "/api/v1/traces/{trace_id}/export/i2-entities.csv",
    response_class=Response,
    responses={**_I2_ENTITIES, **problems(403, 404, 409, 422)},
)
def export_trace_i2_entities(
    trace_id: TraceIdPath, session: SessionDep, actor: TraceReader, runtime: TraceRuntimeDep
) -> Response:
    """Export a trace's accounts as the i2 entities CSV (import spec: docs/i2-import.md)."""
    body = service.export_trace(session, trace_id, "i2-entities", actor=actor, runtime=runtime)
    return _download(body, "text/csv", f"trace-{trace_id}-entities.csv")


@router.get(
    "/api/v1/traces/{trace_id}/export/i2-links.csv",
    response_class=Response,
    responses={**_I2_LINKS, **problems(403, 404, 409, 422)},
)
def export_trace_i2_links(
    trace_id: TraceIdPath, session: SessionDep, actor: TraceReader, runtime: TraceRuntimeDep
) -> Response:
    """Export a trace's transactions as the i2 links CSV (import spec: docs/i2-import.md)."""
    body = service.export_trace(session, trace_id, "i2-links", actor=actor, runtime=runtime)
    return _download(body, "text/csv", f"trace-{trace_id}-links.csv")


@router.get(
    "/api/v1/traces/{trace_id}/export/ftm",
    response_class=Response,
    responses={**_FTM, **problems(403, 404, 409, 422, 501)},
)
def export_trace_ftm(
    trace_id: TraceIdPath, session: SessionDep, actor: TraceReader, runtime: TraceRuntimeDep
) -> Response:
    """Export a trace as FollowTheMoney entities (accounts, holders, ownerships, payments).

    Each Payment's `amount` is the amount the trace attributed to the seeds (none for a
    reachability trace); `description` gives the full amount paid, `summary` the rule and the
    trace. Payment ids are the trace's own. Holders are those the trace's ledger knew when it
    ran: holder links loaded since are left out.
    """
    lines = service.trace_ftm(session, trace_id, actor=actor, runtime=runtime)
    return _download("".join(lines), NDJSON, f"trace-{trace_id}.ftm.json")


Accounts = Annotated[
    list[Text],
    Query(
        min_length=1,
        max_length=100,
        description="Account key or id; repeat for several.",
        examples=["iban:DE89370400440532013000"],
    ),
]


@router.get(
    "/api/v1/exports/ftm",
    response_class=Response,
    responses={**_FTM, **problems(403, 404, 422, 501)},
)
def export_neighbourhood_ftm(
    session: SessionDep, actor: LedgerReader, account: Accounts
) -> Response:
    """Export accounts' neighbourhood (holders, transactions, counterparts) as FtM entities."""
    lines = service.neighbourhood_ftm(session, account)
    return _download("".join(lines), NDJSON, "neighbourhood.ftm.json")


@router.get(
    "/api/v1/exports/graphml",
    response_class=Response,
    responses={**_GRAPHML, **problems(403, 404, 422)},
)
def export_neighbourhood_graphml(
    session: SessionDep, actor: LedgerReader, account: Accounts
) -> Response:
    """Export accounts' neighbourhood (transactions in and out, counterparts) as GraphML."""
    body = service.export_neighbourhood(session, account, "graphml")
    return _download(body, "application/graphml+xml", "neighbourhood.graphml")


@router.get(
    "/api/v1/exports/gexf",
    response_class=Response,
    responses={**_GEXF, **problems(403, 404, 422)},
)
def export_neighbourhood_gexf(
    session: SessionDep, actor: LedgerReader, account: Accounts
) -> Response:
    """Export accounts' neighbourhood (transactions in and out, counterparts) as GEXF."""
    body = service.export_neighbourhood(session, account, "gexf")
    return _download(body, "application/gexf+xml", "neighbourhood.gexf")


@router.get(
    "/api/v1/exports/i2-entities.csv",
    response_class=Response,
    responses={**_I2_ENTITIES, **problems(403, 404, 422)},
)
def export_neighbourhood_i2_entities(
    session: SessionDep, actor: LedgerReader, account: Accounts
) -> Response:
    """Export accounts' neighbourhood as the i2 entities CSV (docs/i2-import.md)."""
    body = service.export_neighbourhood(session, account, "i2-entities")
    return _download(body, "text/csv", "neighbourhood-entities.csv")


@router.get(
    "/api/v1/exports/i2-links.csv",
    response_class=Response,
    responses={**_I2_LINKS, **problems(403, 404, 422)},
)
def export_neighbourhood_i2_links(
    session: SessionDep, actor: LedgerReader, account: Accounts
) -> Response:
    """Export accounts' neighbourhood as the i2 links CSV (docs/i2-import.md)."""
    body = service.export_neighbourhood(session, account, "i2-links")
    return _download(body, "text/csv", "neighbourhood-links.csv")


@router.get(
    "/api/v1/cases/{case_id}/export/ftm",
    response_class=Response,
    responses={**_FTM, **problems(403, 404, 501)},
)
def export_case_ftm(case_id: CaseIdPath, session: SessionDep, actor: CaseReader) -> Response:
    """Export a case's subjects (parties, accounts and their neighbourhood) as FtM entities."""
    lines = service.case_ftm(session, case_id, actor=actor)
    return _download("".join(lines), NDJSON, f"case-{case_id}.ftm.json")


@router.post(
    "/api/v1/imports/ftm",
    status_code=201,
    responses={
        200: {"description": "Nothing new: everything in the stream was already stored."},
        **problems(403, 413, 422, 501),
    },
)
async def import_ftm_entities(
    file: Annotated[UploadFile, File(description="FtM entities, one JSON object a line.")],
    reference: Annotated[Text, Form(min_length=1, max_length=200, examples=["ALEPH-2026-04"])],
    response: Response,
    session: SessionDep,
    actor: LedgerWriter,
    settings: SettingsDep,
    filing: FilingDep,
    case_id: Annotated[
        int | None,
        Form(ge=1, description="File the entities in this case's compartment (need-to-know)."),
    ] = None,
) -> IngestResult:
    """Import FollowTheMoney entities (Payment, BankAccount, CryptoWallet, Person, Company ...)."""
    case_id = await filing.checked(case_id, field=("body", "case_id"))
    async with received(file, limit=settings.upload_max_bytes, default_media_type=NDJSON) as (
        path,
        upload,
    ):
        result, stored = await run_in_threadpool(
            service.import_ftm,
            session,
            path,
            upload,
            reference=reference,
            actor=actor,
            settings=settings,
            case_id=case_id,
        )
    response.status_code = 201 if stored else 200
    return result
