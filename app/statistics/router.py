from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from app.auth import StatisticsReader
from app.deps import SessionDep
from app.errors import problems
from app.statistics import service
from app.statistics.schemas import StatisticsRead

router = APIRouter(prefix="/api/v1", tags=["statistics"])

Year = Annotated[int, Query(ge=1900, le=9999, description="The calendar year reported.")]
_CSV: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "text/csv": {
                "example": "year,predicate_offence,legal_state,orders,currency,value\n"
                "2026,drug_trafficking,FROZEN,2,EUR,398210.55\n"
            }
        },
        "description": "One row per predicate offence, legal state and currency.",
    }
}
_DESCRIPTION = (
    "Freezing orders (moves into FROZEN or SEIZED), confiscation orders (CONFISCATION_ORDERED, "
    "CONFISCATED) and value recovered (REALISED, DISPOSED) decided in the year, with the value "
    "they concerned, by predicate offence and legal state: the figures Directive (EU) "
    "2024/1260 asks member states to report each year. Renewals and variations of a measure "
    "in force are not new orders. Admins and supervisors."
)


@router.get("/statistics", responses=problems(403, 422), description=_DESCRIPTION)
def get_statistics(session: SessionDep, actor: StatisticsReader, year: Year) -> StatisticsRead:
    """Yearly statistics of freezing, confiscation and recovery."""
    return StatisticsRead.model_validate(service.yearly_statistics(session, year))


@router.get(
    "/statistics.csv",
    response_class=Response,
    responses={**_CSV, **problems(403, 422)},
    description=_DESCRIPTION,
)
def export_statistics_csv(session: SessionDep, actor: StatisticsReader, year: Year) -> Response:
    """Yearly statistics of freezing, confiscation and recovery, as CSV."""
    body = service.statistics_csv(service.yearly_statistics(session, year))
    return Response(body, media_type="text/csv")
