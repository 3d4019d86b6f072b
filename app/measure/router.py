from fastapi import APIRouter, Response

from app.asset.deps import AssetListingDep, VisibleAsset
from app.asset.machine import TRANSITIONS, describe_machine
from app.asset.schemas import AssetCreate, AssetRead
from app.auth import CaseReader, CaseWriter, DeadlineSweeper, MeasureWriter
from app.case.deps import VisibleCase
from app.compartments import CompartmentsDep
from app.deps import SessionDep
from app.errors import problems
from app.inputs import AssetIdPath, CaseIdPath
from app.measure import lapses, service
from app.measure.schemas import (
    Lapse,
    MeasureRead,
    MoveRead,
    SweepResult,
    TransitionCreate,
)
from app.pagination import Page
from app.preconditions import ExpectedVersion, move_responses, tagged, tagged_read, tagged_responses

router = APIRouter(prefix="/api/v1", tags=["measures"])
# Registering an asset records its first measure (IDENTIFIED): it is served here, since
# measures depend on assets and never the reverse, under the assets tag clients know it by.
asset_router = APIRouter(prefix="/api/v1", tags=["assets"])


@asset_router.post(
    "/cases/{case_id}/assets",
    status_code=201,
    responses=tagged_responses(403, 404, 422, ok=201),
)
def register_asset(
    case_id: CaseIdPath,
    body: AssetCreate,
    response: Response,
    session: SessionDep,
    actor: CaseWriter,
    visible: VisibleCase,
    compartments: CompartmentsDep,
) -> AssetRead:
    """Register an asset of a case; its legal status starts at IDENTIFIED.

    Each type names what identifies it: bank_balance an account and its valuation (the
    balance), real_estate a registry id or address, vehicle a VIN or plate, vessel a name or
    IMO number, aircraft a registration, company_shares the company, crypto_holdings chain,
    address and asset.
    """
    asset = service.identify_asset(session, case_id, body, actor=actor, compartments=compartments)
    return tagged_read(response, AssetRead.model_validate(asset))


@router.post(
    "/assets/{asset_id}/transitions",
    status_code=201,
    responses=move_responses(403, 404, 409, 422, ok=201),
    description="Needs `If-Match` with the asset's ETag: of two racing moves one wins, the "
    "other gets 412 (428 without If-Match). An illegal move gets 409 with the moves allowed "
    "from the current status. Orders (SUSPENDED, FROZEN, SEIZED, CONFISCATION_ORDERED, "
    "CONFISCATED) record order_reference, issuing_authority and decision_date; DISPOSED a "
    "disposal_kind; RELEASED a release_reason. A duration in working days skips weekends and "
    "the jurisdiction's public holidays (a subdivision such as `DE-BY` adds its own). A measure "
    "in days lapses at the end of its last day in the jurisdiction's time zone, or the "
    "`time_zone` it states; the renewal is due never before the decision (`renew_by_at`). A "
    "seizure straight from IDENTIFIED or TRACED is an `urgent_seizure` and names its "
    "legal_basis. A freeze or seizure can be challenged: `challenge` and `challenge_dismissed` "
    "are moves to the same status (the measure stays in force, its expiry runs on unless the "
    "order names another), `challenge_upheld` is RELEASED with set_aside_on_challenge. "
    "Measures on one balance may together hold no more "
    "than the balance (409 balance_exceeded). The moves:\n\n" + describe_machine(),
)
def create_transition(
    asset_id: AssetIdPath,
    body: TransitionCreate,
    expected: ExpectedVersion,
    response: Response,
    session: SessionDep,
    actor: MeasureWriter,
    visible: VisibleAsset,
) -> MeasureRead:
    """Move an asset's legal status, recording the measure behind the move."""
    measure, asset = service.transition(session, asset_id, body, condition=expected, actor=actor)
    return tagged(response, asset.version, MeasureRead.model_validate(measure))


@router.get("/assets/{asset_id}/measures", responses=problems(403, 404, 422))
def list_asset_measures(listing: AssetListingDep) -> Page[MeasureRead]:
    """List an asset's legal history in the order it happened; it is never rewritten."""
    return listing.of(MeasureRead, service.page_history)


@router.post("/deadlines/sweep", tags=["deadlines"], responses=problems(403))
def sweep_deadlines(session: SessionDep, actor: DeadlineSweeper) -> SweepResult:
    """Move every measure whose expiry has passed to EXPIRED now (the periodic sweep's work)."""
    swept = lapses.sweep_lapsed(session)
    return SweepResult(
        expired=[m.id for m in swept], lapses=[Lapse.model_validate(m) for m in swept]
    )


@router.get("/legal-statuses", responses=problems(403))
def list_legal_statuses(actor: CaseReader) -> list[MoveRead]:
    """List every legal status of an asset with the moves allowed from it."""
    return [MoveRead(status=s, allowed=list(moves)) for s, moves in TRANSITIONS.items()]
