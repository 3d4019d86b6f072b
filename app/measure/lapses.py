"""Lapsed and lapsing measures: the deadline list and the sweep that records expiries."""

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from app.asset import service as asset_service
from app.asset.machine import LAPSING, TIME_LIMITED, LegalStatus
from app.case import service as case_service
from app.measure import deadlines
from app.measure import service as measure_service
from app.measure.models import Measure
from app.measure.schemas import MeasureType, ReleaseReason
from app.preconditions import PreconditionFailed, flush_or_precondition_failed
from app.principal import Principal

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


def page_deadlines(
    session: Session,
    *,
    actor: Principal,
    within_days: int,
    limit: int,
    cursor: str | None,
    now: datetime | None = None,
    case_id: int | None = None,
) -> tuple[list[dict[str, object]], str | None]:
    """Measures of the caller's cases (or of one case it may see) whose last day falls within
    `within_days` from today (0: today), and those that lapsed and are not yet swept."""
    now = now or datetime.now(UTC)
    rows, next_cursor = asset_service.expiring_assets(
        session,
        until=deadlines.end_of(now.date() + timedelta(days=within_days), UTC),
        statuses=[str(s) for s in TIME_LIMITED],
        case_ids=[case_id]
        if case_id is not None
        else case_service.visible_case_ids(session, actor=actor),
        limit=limit,
        cursor=cursor,
    )
    cases = case_service.cases_by_ids(session, [a.case_id for a in rows])
    latest = measure_service.measures_in_force(session, rows)
    items = []
    for asset in rows:
        assert asset.expires_at is not None
        measure = latest[(asset.id, asset.version)]
        items.append(
            {
                "asset_id": asset.id,
                "case_id": asset.case_id,
                "case_reference": cases[asset.case_id].reference,
                "asset_type": asset.type,
                "description": asset.description,
                "status": asset.status,
                "measure_id": measure.id,
                "measure_type": measure.measure_type,
                "order_reference": measure.order_reference,
                "jurisdiction": measure.jurisdiction,
                "expiry_date": asset.expiry_on,
                "expires_at": asset.expires_at,
                "renew_by": asset.renew_by,
                "renew_by_at": asset.renew_by_at,
                "lapsed": asset.expires_at <= now,
                "lapses_to_expired": asset.status in LAPSING,
            }
        )
    return items, next_cursor
