"""The case file at a glance: one read over the case, its assets, measures, traces and hits.

Its own package because it reads every other domain, and none of them reads it.
"""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.case import service as case_service
from app.case.schemas import CaseRead
from app.compartments import CaseView
from app.inputs import CaseIdPath
from app.overview import service as overview
from app.overview.schemas import CaseOverview
from app.preconditions import tagged_read, tagged_responses

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])


@router.get("/{case_id}/overview", responses=tagged_responses(403, 404, 422))
def get_case_overview(
    case_id: CaseIdPath,
    response: Response,
    view: CaseView,
    within_days: Annotated[
        int, Query(ge=0, le=3660, description="Deadlines lapsing within this many days.")
    ] = 30,
    events: Annotated[int, Query(ge=1, le=200, description="How many recent events.")] = 20,
) -> CaseOverview:
    """The whole case on one page: linked cases, subjects, assets, traces, deadlines, events.

    Assets are grouped by legal status with exact totals per currency; traces come with their
    summaries; convergence hits name only cases the caller may see. A caller not on the case
    gets 404, as for the case itself.
    """
    found = overview.case_overview(
        view.session,
        case_id,
        actor=view.actor,
        within_days=within_days,
        events=events,
        compartments=view.compartments,
    )
    return CaseOverview.model_validate({**found, "case": _case(found["case"], response)})


def _case(case: object, response: Response) -> CaseRead:
    read = CaseRead.model_validate(case_service.read_model(case))  # type: ignore[arg-type]
    return tagged_read(response, read)
