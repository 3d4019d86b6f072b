"""Lapsed and lapsing measures: the deadline list and the sweep that records expiries."""

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from app.asset import service as asset_service
from app.asset.machine import LAPSING, TIME_LIMITED, LegalStatus
from app.asset.models import Asset
from app.case import service as case_service
from app.case.models import Case
from app.measure import service as measure_service
from app.measure.models import Measure
from app.measure.schemas import DeadlineRead, MeasureType, ReleaseReason
from app.pagination import DueWindow
from app.preconditions import PreconditionFailed, flush_or_precondition_failed

L = LegalStatus


def sweep_lapsed(session: Session, *, now: datetime | None = None) -> list[Measure]:
    """Record every lapsed measure as an event: EXPIRED, or RELEASED for a suspension."""
    now = now or datetime.now(UTC)
    recorded = []
    lapsing = asset_service.lapsed_assets(session, now, statuses=[str(s) for s in LAPSING])
    in_force = measure_service.measures_in_force(session, lapsing)
    for asset in lapsing:
        lapsed = in_force.get((asset.id, asset.version))
        current, last_day = asset.status, asset.expiry_on
        # An FIU postponement that ran out with no order releases the funds (LEGAL row 5:
        # RELEASED, reason expired_no_order); a lapsed freeze or seizure is EXPIRED (§5).
        suspension = current == str(L.SUSPENDED)
        target = L.RELEASED if suspension else L.EXPIRED
        event = Measure(
            asset_id=asset.id,
            seq=asset.version + 1,
            from_status=current,
            to_status=str(target),
            release_reason=str(ReleaseReason.EXPIRED_NO_ORDER) if suspension else None,
            measure_type=str(MeasureType.EXPIRY),
            order_reference=lapsed.order_reference if lapsed else None,
            jurisdiction=asset.jurisdiction,
            expiry_on=last_day,
            note=f"measure {lapsed.id if lapsed else '?'} lapsed at the end of {last_day} "
            "with no renewal",
            recorded_at=now,
        )
        measure_service.apply_move(asset, target, None, None)
        try:
            flush_or_precondition_failed(session)
        except PreconditionFailed:
            continue  # renewed or released meanwhile: nothing lapsed
        measure_service.record_event(session, event)
        session.commit()
        recorded.append(event)
    return recorded


@dataclass(frozen=True, slots=True)
class Lapsing:
    """A measure in force whose asset's expiry falls due (read by `DeadlineRead`)."""

    asset: Asset
    measure: Measure
    case: Case
    lapsed: bool
    lapses_to_expired: bool


def measure_deadlines(
    session: Session, window: DueWindow, *, now: datetime
) -> tuple[list[DeadlineRead], bool]:
    """Measures whose expiry falls within the window, lapsed ones not yet swept included, by
    (expiry, asset id); and whether more follow."""
    rows, next_cursor = asset_service.expiring_assets(
        session, window, statuses=[str(s) for s in TIME_LIMITED]
    )
    cases = case_service.cases_by_ids(session, [a.case_id for a in rows])
    latest = measure_service.measures_in_force(session, rows)
    items = []
    for asset in rows:
        assert asset.expires_at is not None
        lapsing = Lapsing(
            asset=asset,
            measure=latest[(asset.id, asset.version)],
            case=cases[asset.case_id],
            lapsed=asset.expires_at <= now,
            lapses_to_expired=asset.status in LAPSING,
        )
        items.append(DeadlineRead.model_validate(lapsing))
    return items, next_cursor is not None
