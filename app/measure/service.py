"""Legal measures: each move of an asset's legal status, checked against the law's order of
things and recorded as an append-only event."""

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from app.account import service as account_service
from app.account.models import Account
from app.asset import service as asset_service
from app.asset.machine import (
    CHALLENGEABLE,
    ORDERS,
    RESTRAINED,
    TIME_LIMITED,
    TRANSITIONS,
    UNFROZEN,
    LegalStatus,
)
from app.asset.models import Asset
from app.asset.schemas import AssetCreate
from app.attributes import same_named
from app.case import service as case_service
from app.compartments import Compartments
from app.measure import deadlines
from app.measure.deadlines import Deadline
from app.measure.errors import BalanceExceeded, IllegalTransition, InvalidMeasure
from app.measure.models import Measure
from app.measure.repository import MEASURES, MeasureRepository
from app.measure.schemas import (
    CHALLENGE_TYPES,
    DEFAULT_TYPE,
    MeasureType,
    ReleaseReason,
    TransitionCreate,
)
from app.money import from_minor
from app.preconditions import IfMatch, check_version, flush_or_precondition_failed
from app.principal import Principal

L = LegalStatus
# Moves that put (part of) the asset under a new measure of restraint.
HOLDING = frozenset({L.SUSPENDED, L.FROZEN, L.SEIZED})
# The order behind a move, as a measure, its request and a sale order name it.
ORDER = ("order_reference", "issuing_authority", "legal_basis")
# What a measure row stores of the request as it was given, under the same names.
STORED_AS_GIVEN = [
    *ORDER,
    "executing_authority",
    "time_zone",
    "currency",
    "value_based",
    "custodian",
    "note",
]


def identify_asset(
    session: Session,
    case_id: int,
    data: AssetCreate,
    *,
    actor: Principal,
    compartments: Compartments,
) -> Asset:
    """Register an asset: its first event is the move from nothing to IDENTIFIED."""
    asset = asset_service.build_asset(
        session, case_id, data, actor=actor, status=L.IDENTIFIED, compartments=compartments
    )
    MeasureRepository(session).add(_identification(asset, actor))
    session.commit()
    return asset_service.name_owners(session, [asset], compartments)[0]


def _identification(asset: Asset, actor: Principal) -> Measure:
    """An asset's first event: the move from nothing to IDENTIFIED."""
    return Measure(
        asset_id=asset.id,
        seq=asset.version,
        to_status=str(L.IDENTIFIED),
        measure_type=str(MeasureType.IDENTIFICATION),
        jurisdiction=asset.jurisdiction,
        actor_id=actor.id,
        recorded_at=asset.created_at,
    )


def _require(data: TransitionCreate, *fields: str) -> None:
    for field in fields:
        if getattr(data, field) is None:
            raise InvalidMeasure(f"a move to {data.to_status} records {field}", field=field)


def _check_record(data: TransitionCreate) -> None:
    target = data.to_status
    if target in ORDERS:
        _require(data, "order_reference", "issuing_authority")
        if data.decision_date is None and data.decided_at is None:
            _require(data, "decision_date")
    if target is L.UNDER_APPEAL:
        _require(data, "order_reference")
    if target is L.SUBSTITUTED:
        _require(data, "order_reference", "amount")
    if target is L.DISPOSED:
        _require(data, "disposal_kind")
    if target is L.RELEASED:
        _require(data, "release_reason")
    for field, status in (
        ("disposal_kind", L.DISPOSED),
        ("release_reason", L.RELEASED),
        ("destination_account", L.DISSIPATED),
    ):
        if target is not status and getattr(data, field) is not None:
            raise InvalidMeasure(f"{field} belongs to a move to {status} only", field=field)
    if (data.amount is None) != (data.currency is None):
        raise InvalidMeasure("amount and currency go together", field="currency")


def _measure_type(session: Session, asset: Asset, data: TransitionCreate) -> MeasureType:
    """The act the move records, checked against where the asset stands."""
    current, target, kind = L(asset.status), data.to_status, data.measure_type
    if target is L.SEIZED and current in UNFROZEN:
        # A seizure with no freeze before it (cash at a border, a car at a search) is urgent;
        # it names the basis that allows seizing without a prior order.
        if kind not in (None, MeasureType.URGENT_SEIZURE):
            raise InvalidMeasure(
                f"a seizure straight from {current} is an urgent_seizure", field="measure_type"
            )
        _require(data, "legal_basis")
        return MeasureType.URGENT_SEIZURE
    if kind is MeasureType.URGENT_SEIZURE:
        raise InvalidMeasure(
            "an urgent seizure is a move to SEIZED from IDENTIFIED or TRACED", field="measure_type"
        )
    if kind in CHALLENGE_TYPES:
        _check_challenge(session, asset, data, kind)
    return kind or DEFAULT_TYPE[target]


def _check_challenge(
    session: Session, asset: Asset, data: TransitionCreate, kind: MeasureType
) -> None:
    """A challenge to a freeze or seizure in force: lodged and dismissed leave it in force (a
    move to the same status), upheld releases it; a decision needs a challenge pending."""
    current = L(asset.status)
    if current not in CHALLENGEABLE:
        raise InvalidMeasure(
            f"a {current} asset has no freeze or seizure in force to challenge (a confiscation "
            "order is appealed: UNDER_APPEAL)",
            field="measure_type",
        )
    if kind is MeasureType.CHALLENGE_UPHELD:
        if data.to_status is not L.RELEASED or (
            data.release_reason is not ReleaseReason.SET_ASIDE_ON_CHALLENGE
        ):
            raise InvalidMeasure(
                "an upheld challenge releases: to_status RELEASED, release_reason "
                "set_aside_on_challenge",
                field="release_reason",
            )
    elif data.to_status is not current:
        raise InvalidMeasure(
            f"a challenge lodged or dismissed leaves the measure in force: to_status {current}",
            field="to_status",
        )
    last = MeasureRepository(session).latest_of_types(asset.id, [str(t) for t in CHALLENGE_TYPES])
    pending = last is not None and last.measure_type == MeasureType.CHALLENGE
    if kind is MeasureType.CHALLENGE and pending:
        assert last is not None
        raise InvalidMeasure(
            f"challenge {last.order_reference} (measure {last.id}) is pending",
            field="measure_type",
        )
    if kind is not MeasureType.CHALLENGE and not pending:
        raise InvalidMeasure("no challenge is pending against this measure", field="measure_type")


def _expiry(data: TransitionCreate, asset: Asset, jurisdiction: str) -> Deadline | None:
    try:
        return _compute_expiry(data, asset, jurisdiction)
    except OverflowError:
        raise InvalidMeasure("the expiry falls outside the calendar", field="duration") from None
    except deadlines.UnknownCalendar as exc:
        raise InvalidMeasure(str(exc), field="jurisdiction") from None
    except deadlines.UnknownZone as exc:
        raise InvalidMeasure(str(exc), field="time_zone") from None


def _compute_expiry(data: TransitionCreate, asset: Asset, jurisdiction: str) -> Deadline | None:
    decided_on = data.decision_date or (data.decided_at.date() if data.decided_at else None)
    if data.duration is not None and data.expiry_date is not None:
        raise InvalidMeasure("give a duration or an expiry date, not both", field="duration")
    if data.duration is not None:
        if decided_on is None:
            raise InvalidMeasure("a duration is counted from the decision", field="decision_date")
        zone = deadlines.zone_of(jurisdiction, data.time_zone)
        found = deadlines.expiry(
            decided_on,
            data.duration.value,
            data.duration.unit,
            jurisdiction,
            zone,
            decided_at=data.decided_at,
        )
    elif data.expiry_date is not None:
        zone = deadlines.zone_of(jurisdiction, data.time_zone)
        found = deadlines.until(data.expiry_date, decided_on, jurisdiction, zone)
    elif (
        data.to_status in CHALLENGEABLE
        and asset.status == data.to_status
        and asset.expires_at
        and asset.expiry_on
        and asset.renew_by
        and asset.renew_by_at
    ):
        # A variation, or a challenge lodged or dismissed, that names no new expiry leaves the
        # one in force: deadlines keep running unless the order says otherwise.
        kept = Deadline(asset.expiry_on, asset.expires_at, asset.renew_by, asset.renew_by_at)
        return _renew_as_ordered(data, kept, decided_on, jurisdiction)
    else:
        if data.to_status is L.SUSPENDED:
            raise InvalidMeasure(
                "a suspension is time-limited: give a duration or an expiry date",
                field="duration",
            )
        if data.renew_by is not None:
            raise InvalidMeasure("a renew-by date needs an expiry", field="renew_by")
        return None
    if data.to_status not in TIME_LIMITED:
        raise InvalidMeasure(f"a move to {data.to_status} carries no expiry", field="duration")
    if decided_on is not None and found.last_day < decided_on:
        raise InvalidMeasure("the expiry lies before the decision", field="expiry_date")
    return _renew_as_ordered(data, found, decided_on, jurisdiction)


def _renew_as_ordered(
    data: TransitionCreate, found: Deadline, decided_on: date | None, jurisdiction: str
) -> Deadline:
    """The deadline with the renew-by date the order names, if it names one."""
    if data.renew_by is None:
        return found
    if decided_on is not None and data.renew_by < decided_on:
        raise InvalidMeasure("the renew-by date lies before the decision", field="renew_by")
    if data.renew_by > found.last_day:
        raise InvalidMeasure("the renew-by date lies after the expiry", field="renew_by")
    zone = deadlines.zone_of(jurisdiction, data.time_zone)
    at = min(deadlines.end_of(data.renew_by, zone), found.ends_at)
    return Deadline(found.last_day, found.ends_at, data.renew_by, at)


def _check_balance(
    session: Session, asset: Asset, held: int | None, currency: str | None, *, actor: Principal
) -> None:
    """Measures on one balance may together hold no more than the balance."""
    if asset.value_minor is None or asset.currency is None:
        return
    if currency is not None and currency != asset.currency:
        raise InvalidMeasure(f"the asset is valued in {asset.currency}", field="currency")
    wanted = asset.value_minor if held is None else held
    elsewhere, cases = 0, set[int]()
    if asset.account_id is not None:
        for other in asset_service.assets_on_account(
            session, asset.account_id, statuses=[str(s) for s in RESTRAINED]
        ):
            if other.id != asset.id and other.currency == asset.currency:
                elsewhere += other.restrained_minor or other.value_minor or 0
                cases.add(other.case_id)
    available = max(asset.value_minor - elsewhere, 0)
    if wanted <= available:
        return
    asked = f"the measure would hold {from_minor(wanted, asset.currency)} {asset.currency}"
    if all(case_service.may_see_case(session, c, actor=actor) for c in cases):
        shown = from_minor(available, asset.currency)
        raise BalanceExceeded(
            f"{asked} but only {shown} of the balance is not held by other measures",
            available=shown,
        )
    # Part of the balance is held for a case the caller is not on: neither that case nor its
    # figures are theirs to know. A supervisor sees every case and can resolve it.
    raise BalanceExceeded(
        f"{asked}, more than the part of the balance free of other measures; a supervisor "
        "can see every measure on this balance and resolve it",
        resolved_by="supervisor",
    )


def transition(
    session: Session,
    asset_id: int,
    data: TransitionCreate,
    *,
    condition: IfMatch,
    actor: Principal,
    commit: bool = True,
) -> tuple[Measure, Asset]:
    """Move an asset by a measure. `commit=False` leaves the move flushed but not committed:
    for a use case that records more with it (an interlocutory sale) in one commit."""
    asset = asset_service.get_writable_asset(session, asset_id, actor=actor)
    check_version(condition, asset.version)
    current, target = L(asset.status), data.to_status
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(current, target, [str(s) for s in TRANSITIONS[current]])
    _check_record(data)
    kind = _measure_type(session, asset, data)
    case = case_service.get_case(session, asset.case_id, actor=actor)
    jurisdiction = data.jurisdiction or asset.jurisdiction or case.jurisdiction
    # An order of a federal court for a Bavarian case is not executed abroad: countries compare.
    abroad = deadlines.country_of(jurisdiction) != deadlines.country_of(case.jurisdiction)
    if target in ORDERS and abroad and not data.executing_authority:
        raise InvalidMeasure(
            f"an order in {jurisdiction} for a {case.jurisdiction} case names its executing "
            "authority",
            field="executing_authority",
        )
    amount = None
    if data.amount is not None and data.currency is not None:
        amount = asset_service.minor_units(data.amount, data.currency, field="amount")
    expiry = _expiry(data, asset, jurisdiction)
    destination = None
    if data.destination_account is not None:
        # Named among what the case's members may see: the new asset is the case's.
        scope = case_service.writing_compartments(session, asset.case_id, actor=actor)
        destination = account_service.resolve_account(session, data.destination_account, scope)
    held = _held_after(asset, target, amount)
    if target in HOLDING:
        _check_balance(session, asset, held, data.currency, actor=actor)
    measure = _record(asset, data, kind, jurisdiction, amount, expiry, actor=actor)
    position = _position(asset)
    apply_move(asset, target, held, expiry)
    # The versioned UPDATE of the asset goes first: a writer that lost a race stops here.
    flush_or_precondition_failed(session)
    MeasureRepository(session).add(measure)
    if target is L.SUBSTITUTED and amount is not None and data.currency is not None:
        _substitute(session, asset, measure, amount, data.currency, position, actor=actor)
    if destination is not None:
        _follow(session, asset, measure, destination, amount, data.currency, actor=actor)
    if commit:
        session.commit()
    return measure, asset


def _position(asset: Asset) -> tuple[LegalStatus, Deadline | None]:
    """Where the asset stands: its status and the deadline of the measure in force."""
    kept = None
    if asset.expires_at and asset.expiry_on and asset.renew_by and asset.renew_by_at:
        kept = Deadline(asset.expiry_on, asset.expires_at, asset.renew_by, asset.renew_by_at)
    return L(asset.status), kept


def _held_after(asset: Asset, target: LegalStatus, amount: int | None) -> int | None:
    """The part of the value the measure in force will hold after the move (None: all)."""
    if target in HOLDING:
        # A renewal, or a seizure of what was frozen, that names no amount keeps the part held.
        return asset.restrained_minor if amount is None and asset.status in HOLDING else amount
    return asset.restrained_minor if target in RESTRAINED else None


def _record(
    asset: Asset,
    data: TransitionCreate,
    kind: MeasureType,
    jurisdiction: str,
    amount: int | None,
    expiry: Deadline | None,
    *,
    actor: Principal,
) -> Measure:
    target = data.to_status
    return Measure(
        asset_id=asset.id,
        seq=asset.version + 1,
        from_status=asset.status,
        to_status=str(target),
        measure_type=str(kind),
        **same_named(data, STORED_AS_GIVEN),
        jurisdiction=jurisdiction,
        decision_on=data.decision_date or (data.decided_at.date() if data.decided_at else None),
        effective_on=data.effective_date,
        notified_on=data.notified_date,
        duration_value=data.duration.value if data.duration else None,
        duration_unit=str(data.duration.unit) if data.duration else None,
        expires_at=expiry.ends_at if expiry else None,
        expiry_on=expiry.last_day if expiry else None,
        renew_by=expiry.renew_by if expiry else None,
        renew_by_at=expiry.renew_by_at if expiry else None,
        amount_minor=amount,
        basis=str(data.basis) if data.basis else None,
        disposal_kind=str(data.disposal_kind) if data.disposal_kind else None,
        release_reason=str(data.release_reason) if data.release_reason else None,
        actor_id=actor.id,
        recorded_at=datetime.now(UTC),
    )


def apply_move(
    asset: Asset, target: LegalStatus, held: int | None, expiry: Deadline | None
) -> None:
    asset.restrained_minor = held
    asset.status = str(target)
    # Every move bumps the version, also one that changes no column (a bare renewal record).
    flag_modified(asset, "status")
    asset.expires_at = expiry.ends_at if expiry else None
    asset.expiry_on = expiry.last_day if expiry else None
    asset.renew_by = expiry.renew_by if expiry else None
    asset.renew_by_at = expiry.renew_by_at if expiry else None


def _substitute(
    session: Session,
    asset: Asset,
    sale: Measure,
    amount: int,
    currency: str,
    position: tuple[LegalStatus, Deadline | None],
    *,
    actor: Principal,
) -> None:
    """The proceeds stand where the sold asset stood: frozen or seized under the same order,
    with its deadline still running (Directive (EU) 2024/1260, interlocutory sale)."""
    held_as, kept = position
    cash = asset_service.add_substitute(
        session,
        asset,
        amount_minor=amount,
        currency=currency,
        held_as=held_as,
        expiry=(kept.ends_at, kept.last_day, kept.renew_by, kept.renew_by_at) if kept else None,
        actor=actor,
    )
    first = Measure(
        to_status=str(held_as),
        measure_type=str(MeasureType.INTERLOCUTORY_SALE),
        order_reference=sale.order_reference,
        jurisdiction=sale.jurisdiction,
        expires_at=kept.ends_at if kept else None,
        expiry_on=kept.last_day if kept else None,
        renew_by=kept.renew_by if kept else None,
        renew_by_at=kept.renew_by_at if kept else None,
        amount_minor=amount,
        currency=currency,
        note=f"proceeds of the sale of asset {asset.id}, held as it was",
    )
    _record_derived(session, sale, cash, first, mark="replaced by cash asset", actor=actor)


def _follow(
    session: Session,
    asset: Asset,
    escape: Measure,
    destination: Account,
    amount: int | None,
    currency: str | None,
    *,
    actor: Principal,
) -> None:
    """A freeze does not follow the money: where it went is a new asset, IDENTIFIED."""
    found = asset_service.add_escaped(
        session, asset, destination, amount_minor=amount, currency=currency, actor=actor
    )
    first = Measure(
        to_status=str(L.IDENTIFIED),
        measure_type=str(MeasureType.IDENTIFICATION),
        jurisdiction=found.jurisdiction,
        amount_minor=amount,
        currency=currency,
        note=f"value escaped from asset {asset.id}: a new hop to trace",
    )
    _record_derived(session, escape, found, first, mark="escaped to asset", actor=actor)


def _record_derived(
    session: Session, cause: Measure, derived: Asset, first: Measure, *, mark: str, actor: Principal
) -> None:
    """`first`, the first measure of `derived` (the asset that `cause` made), recorded when the
    cause was; the cause's note names the new asset (`mark` and its id)."""
    cause.note = ((cause.note or "") + f" [{mark} {derived.id}]").strip()
    first.asset_id, first.seq = derived.id, derived.version
    first.actor_id, first.recorded_at = actor.id, cause.recorded_at
    MeasureRepository(session).add(first)


def page_history(
    session: Session, asset_id: int, *, actor: Principal, limit: int, cursor: str | None
) -> tuple[list[Measure], str | None]:
    asset_service.get_asset(session, asset_id, actor=actor)
    after = MEASURES.decode(cursor)
    return MeasureRepository(session).history(asset_id, limit=limit, after=after)


def measures_in_force(session: Session, assets: Iterable[Asset]) -> dict[tuple[int, int], Measure]:
    """The event each asset's status comes from (its `seq` is the asset's version), by
    (asset id, seq)."""
    return MeasureRepository(session).by_asset_seq((a.id, a.version) for a in assets)


def record_event(session: Session, measure: Measure) -> Measure:
    """Append an event the caller built (the sweep's expiries); the caller commits."""
    return MeasureRepository(session).add(measure)


def realisation(session: Session, asset_id: int) -> Measure | None:
    """The asset's latest move to REALISED (its amount: what the sale or collection brought)."""
    return MeasureRepository(session).latest_into(asset_id, str(L.REALISED))


def recent_moves(session: Session, asset_ids: list[int], *, limit: int) -> list[Measure]:
    """The latest legal moves of the given assets, newest first."""
    return MeasureRepository(session).recent(asset_ids, limit=limit) if asset_ids else []


def orders_in_year(session: Session, year: int, *, statuses: list[str]) -> list[Any]:
    """Every move into the given statuses decided in `year`, with its asset and offences."""
    return MeasureRepository(session).orders_between(
        date(year, 1, 1), date(year, 12, 31), statuses=statuses
    )


def register_traced_asset(
    session: Session,
    case_id: int,
    data: AssetCreate,
    *,
    actor: Principal,
    amount_minor: int,
    currency: str,
    note: str,
    compartments: Compartments,
) -> Asset:
    """Register an asset a trace found (DESIGN §5, LEGAL B.2 #1-2): IDENTIFIED, then TRACED with
    the tainted amount and the trace in `note`; its account, owners and transactions are named
    among what `compartments` hold (the case's, as all its members read the asset). Flushed,
    not committed: the caller stores its batch whole or not at all."""
    asset = asset_service.build_asset(
        session, case_id, data, actor=actor, status=L.IDENTIFIED, compartments=compartments
    )
    measures = MeasureRepository(session)
    measures.add(_identification(asset, actor))
    apply_move(asset, L.TRACED, None, None)
    session.flush()
    measures.add(
        Measure(
            asset_id=asset.id,
            seq=asset.version,
            from_status=str(L.IDENTIFIED),
            to_status=str(L.TRACED),
            measure_type=str(MeasureType.TRACING),
            jurisdiction=asset.jurisdiction,
            amount_minor=amount_minor,
            currency=currency,
            note=note,
            actor_id=actor.id,
            recorded_at=asset.created_at,
        )
    )
    return asset
