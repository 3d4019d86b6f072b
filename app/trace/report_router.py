"""The expert report of a trace, as HTML and as PDF."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Response
from fastapi.types import DecoratedCallable

from app.auth import TraceReader
from app.deps import SessionDep
from app.errors import problems
from app.inputs import TraceIdPath
from app.trace import report
from app.trace import service as trace_service
from app.trace.chart import chart_of_trace
from app.trace.report_html import render_html
from app.trace.report_pdf import render_pdf
from app.trace.roles import names_by_account
from app.trace.runtime import TraceRuntime, TraceRuntimeDep

router = APIRouter(prefix="/api/v1/traces", tags=["traces"])

_HTML: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/html": {"example": "<!DOCTYPE html><html>...Tracing report..."}},
        "description": "The report as one self-contained HTML page (the chart inline as SVG).",
    }
}
_PDF: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/pdf": {"example": "(binary PDF)"}},
        "description": "The report as PDF, with page numbers and the case reference on each page.",
    }
}
_DESCRIPTION = (
    "What a forensic accountant files as an expert report: the question (seeds, window, hops, "
    "cut-offs), the rule and what it means in law (Clayton's Case, Re Hallett and Roscoe v "
    "Winder, the rolling charge, Barlow Clowes) and the same-day policy; the evidence (ledger "
    "fingerprint, the source documents of the transactions followed with their SHA-256 and "
    "received times, engine version, who ran it and when, result_sha256); the summary, the "
    "holdings with holder and institution, the strongest paths to the main holdings; what "
    "FIFO, LIFO, LIBR and haircut find at those holdings, side by side; and the chart."
)


def _report_route(
    suffix: str, media: dict[int | str, dict[str, Any]]
) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """The route of the report in one format: the same description and problems in each."""
    return router.get(
        f"/{{trace_id}}/report.{suffix}",
        response_class=Response,
        responses={**media, **problems(403, 404, 409, 422)},
        description=_DESCRIPTION,
    )


def _parts(
    session: Any, trace_id: str, actor: Any, runtime: TraceRuntime, fmt: str
) -> tuple[report.Report, bytes]:
    now = datetime.now(UTC)
    found, run, result = report.report_of_trace(
        session, trace_id, actor=actor, runtime=runtime, now=now
    )
    roles = names_by_account(trace_service.trace_roles(runtime, run, result))
    compartments = trace_service.caller_compartments(session, actor)
    return found, chart_of_trace(
        session, run, result, fmt=fmt, now=now, roles=roles, compartments=compartments
    )


@_report_route("html", _HTML)
def get_trace_report_html(
    trace_id: TraceIdPath, session: SessionDep, actor: TraceReader, runtime: TraceRuntimeDep
) -> Response:
    """The trace's expert report as an HTML page."""
    found, chart = _parts(session, trace_id, actor, runtime, "svg")
    return Response(render_html(found, chart), media_type="text/html; charset=utf-8")


@_report_route("pdf", _PDF)
def get_trace_report_pdf(
    trace_id: TraceIdPath, session: SessionDep, actor: TraceReader, runtime: TraceRuntimeDep
) -> Response:
    """The trace's expert report as PDF."""
    found, chart = _parts(session, trace_id, actor, runtime, "png")
    return Response(
        render_pdf(found, chart),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="trace-{trace_id}-report.pdf"'},
    )
