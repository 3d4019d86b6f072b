"""Realising assets before and after confiscation (Directive (EU) 2024/1260): interlocutory
sales of frozen or seized assets, and the allocation of realised proceeds to victims and the
state."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from app.asset import service as asset_service
from app.asset.machine import LegalStatus
from app.asset.models import Asset
from app.asset.schemas import AssetType
from app.attributes import same_named
from app.case import service as case_service
from app.case.models import Case
from app.compartments import Compartments
from app.errors import NotFound
from app.measure import deadlines
from app.measure import service as measure_service
from app.measure.schemas import MeasureType, TransitionCreate
from app.money import from_minor
from app.pagination import DuePage, DueWindow
from app.party import service as party_service
from app.preconditions import IfMatch
from app.principal import Principal
from app.proposal import service as proposal_service
from app.realisation.errors import (
    AllocationConflict,
    AllocationNotFound,
    InvalidRealisation,
    SaleConflict,
    SaleNotFound,
)
from app.realisation.models import InterlocutorySale, ProceedsShare
from app.realisation.repository import DUE, SALES, RealisationRepository
from app.realisation.schemas import (
    AllocationCreate,
    Recipient,
    SaleCreate,
    SaleDeadlineRead,
    SaleOrderCreate,
    SaleStatus,
)

L = LegalStatus
# What an interlocutory sale may sell: an asset held by a freeze or a seizure in force.
SALEABLE = frozenset({L.FROZEN, L.SEIZED})
# Money needs no sale: confiscated cash or a balance is its own proceeds.
MONEY = frozenset({AssetType.CASH, AssetType.BANK_BALANCE})


def order_sale(
    session: Session, asset_id: int, data: SaleOrderCreate, *, actor: Principal
) -> InterlocutorySale:
    """Record an order to sell a frozen or seized asset before final confiscation, with the
    deadline for the sale counted as the deadlines of measures are."""
    asset = asset_service.get_writable_asset(session, asset_id, actor=actor)
    if asset.status not in SALEABLE:
        raise SaleConflict(
            f"a {asset.status} asset is not held by a freeze or seizure: it cannot be sold "
            "before confiscation",
            current_status=asset.status,
        )
    sales = RealisationRepository(session)
    if (pending := sales.open_sale(asset.id)) is not None:
        raise SaleConflict(
            f"sale order {pending.order_reference} (id {pending.id}) is not yet carried out",
            sale_id=pending.id,
        )
    case = case_service.get_case(session, asset.case_id, actor=actor)
    jurisdiction = asset.jurisdiction or case.jurisdiction
    due = _sale_deadline(data, jurisdiction)
    sale = InterlocutorySale(
        asset_id=asset.id,
        ground=str(data.ground),
        **same_named(data, [*measure_service.ORDER, "note"]),
        jurisdiction=jurisdiction,
        decision_on=data.decision_date,
        sell_by=due.last_day,
        sell_by_at=due.ends_at,
        status=str(SaleStatus.ORDERED),
        ordered_by=actor.id,
        ordered_at=datetime.now(UTC),
    )
    sales.add(sale)
    session.commit()
    return sale


def _sale_deadline(data: SaleOrderCreate, jurisdiction: str) -> deadlines.Deadline:
    try:
        zone = deadlines.zone_of(jurisdiction, data.time_zone)
        if data.sell_within is not None:
            value, unit = data.sell_within.value, data.sell_within.unit
            return deadlines.expiry(data.decision_date, value, unit, jurisdiction, zone)
        assert data.sell_by is not None  # the schema asks for one of the two
        if data.sell_by < data.decision_date:
            raise InvalidRealisation("the sale is due before the decision", field="sell_by")
        return deadlines.until(data.sell_by, data.decision_date, jurisdiction, zone)
    except OverflowError:
        raise InvalidRealisation(
            "the deadline falls outside the calendar", field="sell_within"
        ) from None
    except deadlines.UnknownCalendar as exc:
        raise InvalidRealisation(str(exc), field="sell_within") from None
    except deadlines.UnknownZone as exc:
        raise InvalidRealisation(str(exc), field="time_zone") from None


def record_sale(
    session: Session,
    asset_id: int,
    sale_id: int,
    data: SaleCreate,
    *,
    condition: IfMatch,
    actor: Principal,
) -> tuple[InterlocutorySale, int]:
    """Carry out a sale order: the asset moves to SUBSTITUTED and its proceeds become a cash
    asset held as the sold one was (FROZEN or SEIZED, the same deadline), linked to it.
    Returns the sale and the sold asset's new version."""
    sales = RealisationRepository(session)
    asset_service.get_asset(session, asset_id, actor=actor)
    sale = sales.sale(asset_id, sale_id)
    if sale is None:
        raise SaleNotFound(sale_id)
    if sale.status != SaleStatus.ORDERED:
        raise SaleConflict(f"sale order {sale.order_reference} is carried out already")
    if data.sold_on < sale.decision_on:
        raise InvalidRealisation("the sale lies before its order", field="sold_on")
    move = TransitionCreate(
        to_status=L.SUBSTITUTED,
        measure_type=MeasureType.INTERLOCUTORY_SALE,
        **same_named(sale, measure_service.ORDER),
        decision_date=sale.decision_on,
        effective_date=data.sold_on,
        **same_named(data, ("amount", "currency", "note")),
    )
    measure, asset = measure_service.transition(
        session, asset_id, move, condition=condition, actor=actor, commit=False
    )
    substitute = asset_service.substitute_of(session, asset.id)
    assert measure.amount_minor is not None
    assert substitute is not None
    sale.status = str(SaleStatus.SOLD)
    sale.sold_on, sale.buyer = data.sold_on, data.buyer
    sale.price_minor, sale.currency = measure.amount_minor, data.currency
    sale.substitute_asset_id, sale.measure_id = substitute.id, measure.id
    sale.sold_by, sale.sold_at = actor.id, measure.recorded_at
    session.commit()
    return sale, asset.version


def page_sales(
    session: Session, asset_id: int, *, actor: Principal, limit: int, cursor: str | None
) -> tuple[list[InterlocutorySale], str | None]:
    asset_service.get_asset(session, asset_id, actor=actor)
    return RealisationRepository(session).page_sales(
        asset_id, limit=limit, after=SALES.decode(cursor)
    )


def page_due_sales(
    session: Session,
    *,
    actor: Principal,
    due: DuePage,
    now: datetime | None = None,
) -> tuple[list[InterlocutorySale], str | None]:
    """Sale orders of the caller's cases not yet carried out whose last day falls within
    `due.within_days` from today, and those already late, soonest first."""
    now = now or datetime.now(UTC)
    window = DueWindow(
        until=deadlines.due_until(due.within_days, now),
        case_ids=case_service.visible_case_ids(session, actor=actor),
        limit=due.limit,
        after=DUE.decode(due.cursor),
    )
    rows, next_cursor = RealisationRepository(session).due(
        window, statuses=[str(s) for s in SALEABLE]
    )
    return [sale for sale, _ in rows], next_cursor


@dataclass(frozen=True, slots=True)
class SaleDue:
    """An order not carried out, its asset and case (read by `SaleDeadlineRead`)."""

    sale: InterlocutorySale
    asset: Asset
    case: Case


def sales_due(session: Session, window: DueWindow) -> tuple[list[SaleDeadlineRead], bool]:
    """Sale orders not carried out, whose asset is still frozen or seized, due within the
    window (late ones too), by (due, id); and whether more follow. A sold order, or one whose
    asset was released, is no longer due."""
    rows, next_cursor = RealisationRepository(session).due(
        window, statuses=[str(s) for s in SALEABLE]
    )
    cases = case_service.cases_by_ids(session, [asset.case_id for _, asset in rows])
    items = [
        SaleDeadlineRead.model_validate(SaleDue(sale, asset, cases[asset.case_id]))
        for sale, asset in rows
    ]
    return items, next_cursor is not None


@dataclass(frozen=True)
class Allocation:
    """An asset's proceeds and the shares they went to (read by `AllocationRead`)."""

    asset_id: int
    proceeds: str
    currency: str
    to_victims: str
    to_state: str
    shares: Sequence[ProceedsShare]
    recorded_by: str
    recorded_at: datetime


def allocate_proceeds(
    session: Session, asset_id: int, data: AllocationCreate, *, actor: Principal
) -> Allocation:
    """Allocate an asset's realised proceeds: each victim's share as given, the rest to the
    state; recorded once, the shares summing exactly to the proceeds."""
    asset = asset_service.get_writable_asset(session, asset_id, actor=actor)
    proceeds, currency = _proceeds(session, asset)
    repository = RealisationRepository(session)
    if repository.shares(asset.id):
        raise AllocationConflict(f"the proceeds of asset {asset.id} are allocated already")
    # Victims are named among what the case's members may see: they read the allocation.
    scope = case_service.writing_compartments(session, asset.case_id, actor=actor)
    if data.from_claimants:
        victims = claimant_victims(session, asset, proceeds, scope)
    else:
        victims = victim_shares(session, data, currency, scope)
    given = sum(amount for _, amount, _ in victims)
    if given > proceeds:
        raise InvalidRealisation(
            f"the victims' shares ({from_minor(given, currency)} {currency}) "
            f"exceed the proceeds ({from_minor(proceeds, currency)} {currency})",
            field="victims",
        )
    now = datetime.now(UTC)
    rows: list[tuple[Recipient, int | None, int, str | None]] = [
        (Recipient.VICTIM, party, amount, note) for party, amount, note in victims
    ]
    rows.append((Recipient.STATE, None, proceeds - given, data.note))
    for recipient, party_id, amount, note in rows:
        repository.add(
            ProceedsShare(
                asset_id=asset.id,
                recipient=str(recipient),
                party_id=party_id,
                amount_minor=amount,
                currency=currency,
                note=note,
                recorded_by=actor.id,
                recorded_at=now,
            )
        )
    session.commit()
    return _allocation(asset.id, repository.shares(asset.id))


def _proceeds(session: Session, asset: Asset) -> tuple[int, str]:
    """What the asset brought: the amount its realisation recorded; confiscated money is its
    own proceeds (its valuation)."""
    if asset.status not in (L.REALISED, L.DISPOSED, L.CONFISCATED):
        raise AllocationConflict(
            f"a {asset.status} asset has no proceeds to allocate: realise it first",
            current_status=asset.status,
        )
    realised = measure_service.realisation(session, asset.id)
    if realised is not None and realised.amount_minor is not None and realised.currency:
        return realised.amount_minor, realised.currency
    if asset.type in MONEY and asset.value_minor is not None and asset.currency is not None:
        return asset.value_minor, asset.currency
    raise AllocationConflict(
        "no proceeds are recorded: the move to REALISED names the amount and currency"
    )


def victim_shares(
    session: Session, data: AllocationCreate, currency: str, compartments: Compartments
) -> list[tuple[int, int, str | None]]:
    """(party id, amount in minor units, note) for each victim, as the request gives them.

    The seam for trace claimant shares: a victim's share derived from the claimant shares a
    trace computed for the asset's account plugs in here (split the proceeds by them with
    `split_by_weights`, so they too sum exactly).
    """
    seen: set[int] = set()
    shares = []
    for i, victim in enumerate(data.victims):
        party = party_service.resolve_party(session, victim.party, compartments)
        if party.id in seen:
            raise InvalidRealisation(
                f"party {victim.party} is named twice", field=f"victims.{i}.party"
            )
        seen.add(party.id)
        amount = asset_service.minor_units(victim.amount, currency, field=f"victims.{i}")
        shares.append((party.id, amount, victim.note))
    return shares


def claimant_victims(
    session: Session, asset: Asset, proceeds: int, compartments: Compartments
) -> list[tuple[int, int, str | None]]:
    """(party id, amount in minor units, note) for each claimant of the taint held where the
    asset came from: the proceeds split by their shares (largest remainder, so that the parts
    and the state's share of unattributed taint sum exactly to the proceeds)."""
    shares = proposal_service.claimant_shares_of_asset(session, asset.id)
    if not shares:
        raise InvalidRealisation(
            f"asset {asset.id} came from no freezing proposal of a trace with claimants",
            field="from_claimants",
        )
    # The shares are exact decimals in the holding's currency; any common scale keeps the ratio.
    weights = [int(Decimal(s["amount"] or "0").scaleb(18)) for s in shares]
    parts = split_by_weights(proceeds, weights)
    victims: list[tuple[int, int, str | None]] = []
    for share, part in zip(shares, parts, strict=True):
        if share["claimant"] is None or part == 0:
            continue  # unattributed taint: its share stays with the state
        try:
            party = party_service.resolve_party(session, share["claimant"], compartments)
        except NotFound as exc:
            raise InvalidRealisation(
                f"claimant {share['claimant']!r} names no party: record the victim as a party "
                "(or give the victims' shares)",
                field="from_claimants",
            ) from exc
        victims.append((party.id, part, f"claimant's share of the taint held ({share['amount']})"))
    return victims


def split_by_weights(total: int, weights: Sequence[int]) -> list[int]:
    """`total` minor units split in proportion to `weights` by the largest remainder: the parts
    sum exactly to `total` (ties go to the earlier weight)."""
    whole = sum(weights)
    if whole <= 0:
        raise ValueError("the weights sum to nothing")
    parts = [total * w // whole for w in weights]
    remainders = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % whole), i))
    for i in remainders[: total - sum(parts)]:
        parts[i] += 1
    return parts


def get_allocation(session: Session, asset_id: int, *, actor: Principal) -> Allocation:
    asset_service.get_asset(session, asset_id, actor=actor)
    shares = RealisationRepository(session).shares(asset_id)
    if not shares:
        raise AllocationNotFound(asset_id)
    return _allocation(asset_id, shares)


def _allocation(asset_id: int, shares: list[ProceedsShare]) -> Allocation:
    currency = shares[0].currency
    to_victims = sum(s.amount_minor for s in shares if s.recipient == Recipient.VICTIM)
    to_state = sum(s.amount_minor for s in shares if s.recipient == Recipient.STATE)
    text = from_minor
    return Allocation(
        asset_id=asset_id,
        proceeds=text(to_victims + to_state, currency),
        currency=currency,
        to_victims=text(to_victims, currency),
        to_state=text(to_state, currency),
        shares=shares,
        recorded_by=shares[0].recorded_by,
        recorded_at=shares[0].recorded_at,
    )
