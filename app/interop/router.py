from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Response, UploadFile

from app.auth import TraceReader
from app.compartments import CaseView, LedgerView
from app.deps import SessionDep
from app.errors import problems
from app.filing import LedgerLoadDep
from app.inputs import CaseIdPath, Text, TraceIdPath
from app.interop import graph, service
from app.trace.runtime import TraceRuntimeDep
from app.transaction.schemas import IngestResult

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


@dataclass(frozen=True)
class _Export:
    """A format a trace and an account's neighbourhood are both exported in."""

    format: str  # app.interop.service's name for it
    suffix: str  # the last segment of its paths
    media_type: str
    responses: dict[int | str, dict[str, Any]]
    trace_doc: str
    trace_file: str
    neighbourhood_doc: str
    neighbourhood_file: str


_EXPORTS = (
    _Export(
        "graphml",
        "graphml",
        "application/graphml+xml",
        _GRAPHML,
        "Export a trace as GraphML (yEd, Gephi, networkx, i2 via GraphML import).",
        "trace-{trace_id}.graphml",
        "Export accounts' neighbourhood (transactions in and out, counterparts) as GraphML.",
        "neighbourhood.graphml",
    ),
    _Export(
        "gexf",
        "gexf",
        "application/gexf+xml",
        _GEXF,
        "Export a trace as GEXF for Gephi.",
        "trace-{trace_id}.gexf",
        "Export accounts' neighbourhood (transactions in and out, counterparts) as GEXF.",
        "neighbourhood.gexf",
    ),
    _Export(
        "i2-entities",
        "i2-entities.csv",
        "text/csv",
        _I2_ENTITIES,
        "Export a trace's accounts as the i2 entities CSV (import spec: docs/i2-import.md).",
        "trace-{trace_id}-entities.csv",
        "Export accounts' neighbourhood as the i2 entities CSV (docs/i2-import.md).",
        "neighbourhood-entities.csv",
    ),
    _Export(
        "i2-links",
        "i2-links.csv",
        "text/csv",
        _I2_LINKS,
        "Export a trace's transactions as the i2 links CSV (import spec: docs/i2-import.md).",
        "trace-{trace_id}-links.csv",
        "Export accounts' neighbourhood as the i2 links CSV (docs/i2-import.md).",
        "neighbourhood-links.csv",
    ),
)


def _name(export: _Export) -> str:
    return export.format.replace("-", "_")


def _export_route(path: str, endpoint: Any, name: str, doc: str, export: _Export) -> None:
    not_found = (404, 409) if "{trace_id}" in path else (404,)
    router.add_api_route(
        path,
        endpoint,
        methods=["GET"],
        name=name,
        description=doc,
        response_class=Response,
        responses={**export.responses, **problems(403, *not_found, 422)},
    )


def _trace_export(export: _Export) -> None:
    def endpoint(
        trace_id: TraceIdPath, session: SessionDep, actor: TraceReader, runtime: TraceRuntimeDep
    ) -> Response:
        body = service.export_trace(session, trace_id, export.format, actor=actor, runtime=runtime)
        return _download(body, export.media_type, export.trace_file.format(trace_id=trace_id))

    path = f"/api/v1/traces/{{trace_id}}/export/{export.suffix}"
    _export_route(path, endpoint, f"export_trace_{_name(export)}", export.trace_doc, export)


def _neighbourhood_export(export: _Export) -> None:
    def endpoint(view: LedgerView, account: Accounts) -> Response:
        body = service.export_neighbourhood(view.session, account, export.format, view.compartments)
        return _download(body, export.media_type, export.neighbourhood_file)

    name, doc = f"export_neighbourhood_{_name(export)}", export.neighbourhood_doc
    _export_route(f"/api/v1/exports/{export.suffix}", endpoint, name, doc, export)


Accounts = Annotated[
    list[Text],
    Query(
        min_length=1,
        max_length=100,
        description="Account key or id; repeat for several.",
        examples=["iban:DE89370400440532013000"],
    ),
]
for _export in _EXPORTS:
    _trace_export(_export)


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


@router.get(
    "/api/v1/exports/ftm",
    response_class=Response,
    responses={**_FTM, **problems(403, 404, 422, 501)},
)
def export_neighbourhood_ftm(view: LedgerView, account: Accounts) -> Response:
    """Export accounts' neighbourhood (holders, transactions, counterparts) as FtM entities."""
    lines = service.neighbourhood_ftm(view.session, account, view.compartments)
    return _download("".join(lines), NDJSON, "neighbourhood.ftm.json")


for _export in _EXPORTS:
    _neighbourhood_export(_export)


@router.get(
    "/api/v1/cases/{case_id}/export/ftm",
    response_class=Response,
    responses={**_FTM, **problems(403, 404, 501)},
)
def export_case_ftm(case_id: CaseIdPath, view: CaseView) -> Response:
    """Export a case's subjects (parties, accounts and their neighbourhood) as FtM entities."""
    lines = service.case_ftm(
        view.session, case_id, actor=view.actor, compartments=view.compartments
    )
    return _download("".join(lines), NDJSON, f"case-{case_id}.ftm.json")


@router.post(
    "/api/v1/imports/ftm",
    status_code=201,
    responses={
        200: {"description": "Nothing new: everything in the stream was already stored."},
        **problems(403, 404, 413, 422, 501),
    },
)
async def import_ftm_entities(
    file: Annotated[UploadFile, File(description="FtM entities, one JSON object a line.")],
    reference: Annotated[Text, Form(min_length=1, max_length=200, examples=["ALEPH-2026-04"])],
    response: Response,
    load: LedgerLoadDep,
    case_id: Annotated[
        int | None,
        Form(ge=1, description="File the entities in this case's compartment (need-to-know)."),
    ] = None,
) -> IngestResult:
    """Import FollowTheMoney entities (Payment, BankAccount, CryptoWallet, Person, Company ...)."""
    ftm = partial(
        service.import_ftm,
        load.session,
        reference=reference,
        actor=load.actor,
        settings=load.settings,
    )
    return await load.stored_file(response, file, case_id, media_type=NDJSON, load=ftm)
