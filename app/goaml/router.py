from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from app.auth import SourceReader
from app.compartments import CompartmentsDep
from app.deps import SessionDep
from app.errors import problems
from app.filing import LedgerLoadDep
from app.goaml import service
from app.goaml.schemas import GoamlImportResult, GoamlReportRead
from app.inputs import DocumentIdPath
from app.uploads import received, stored_or_replayed

router = APIRouter(prefix="/api/v1/imports/goaml", tags=["imports"])
_CHUNK = 1024 * 1024
_STATUS: dict[int | str, dict[str, Any]] = {
    200: {"description": "Nothing new: every report was already stored (a replay)."},
    201: {"description": "Stored; `replay` marks reports whose exact bytes were known."},
}


@router.post("", status_code=201, responses={**_STATUS, **problems(403, 404, 413, 422)})
async def import_goaml_reports(
    file: Annotated[UploadFile, File(description="One goAML report (XML) or a zip of several.")],
    response: Response,
    load: LedgerLoadDep,
    case_id: Annotated[
        int | None,
        Query(ge=1, description="File the reports in this case's compartment (need-to-know)."),
    ] = None,
) -> GoamlImportResult:
    """Import goAML reports: transactions, accounts and parties, each report whole or not at all."""
    case_id = await load.filing.checked(case_id, field=("query", "case_id"))
    settings = load.settings
    async with received(
        file, limit=settings.upload_max_bytes, default_media_type="application/xml"
    ) as (path, upload):
        files = await run_in_threadpool(service.files_of, path, upload, settings=settings)
        result, stored = await run_in_threadpool(
            service.import_goaml,
            load.session,
            files,
            actor=load.actor,
            settings=settings,
            case_id=case_id,
        )
    return stored_or_replayed(response, result, stored=stored)


@router.get("/{source_document_id}", responses=problems(403, 404, 422))
def get_goaml_report(
    source_document_id: DocumentIdPath,
    session: SessionDep,
    actor: SourceReader,
    compartments: CompartmentsDep,
) -> GoamlReportRead:
    """Get what a stored goAML report said about itself, and its transactions' goAML details."""
    return GoamlReportRead.model_validate(
        service.get_report(session, source_document_id, actor=actor, compartments=compartments)
    )
