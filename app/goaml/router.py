from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Response, UploadFile

from app.compartments import SourceView
from app.errors import problems
from app.filing import LedgerLoadDep
from app.goaml import service
from app.goaml.schemas import GoamlImportResult, GoamlReportRead
from app.inputs import DocumentIdPath
from app.uploads import Upload

router = APIRouter(prefix="/api/v1/imports/goaml", tags=["imports"])
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

    def import_reports(
        path: Path, upload: Upload, *, case_id: int | None
    ) -> tuple[GoamlImportResult, bool]:
        files = service.files_of(path, upload, settings=load.settings)
        return service.import_goaml(
            load.session, files, actor=load.actor, settings=load.settings, case_id=case_id
        )

    return await load.stored_file(
        response,
        file,
        case_id,
        media_type="application/xml",
        load=import_reports,
        field=("query", "case_id"),
    )


@router.get("/{source_document_id}", responses=problems(403, 404, 422))
def get_goaml_report(source_document_id: DocumentIdPath, view: SourceView) -> GoamlReportRead:
    """Get what a stored goAML report said about itself, and its transactions' goAML details."""
    report = service.get_report(
        view.session, source_document_id, actor=view.actor, compartments=view.compartments
    )
    return GoamlReportRead.model_validate(report)
