"""Assets: what can be frozen or confiscated, who owns it, and what ties it to the proceeds."""

from collections.abc import Collection
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from app.account import service as account_service
from app.account.models import Account
from app.asset.errors import AssetNotFound, InvalidAsset
from app.asset.machine import LegalStatus
from app.asset.models import Asset, AssetCost, AssetLink, AssetOwner, AssetValuation
from app.asset.repository import ASSETS, COSTS, VALUATIONS, AssetRepository
from app.asset.schemas import AssetCreate, AssetType, CostCreate, LinkIn, ValuationCreate
from app.attributes import same_named
from app.case import service as case_service
from app.case.errors import CaseNotFound
from app.compartments import Compartments
from app.inputs import MAX_ID
from app.money import decimals_of, to_minor
from app.pagination import DueWindow
from app.party import service as party_service
from app.principal import Principal
from app.trace import service as trace_service
from app.transaction import service as transaction_service

# What an asset row stores of the request as it was given, under the same names.
STORED_AS_GIVEN = [
    "description",
    "registry_id",
    "address",
    "vin",
    "registration",
    "name",
    "company_name",
    "chain",
    "wallet_address",
    "holding_asset",
]


def minor_units(amount: Decimal, currency: str, *, field: str) -> int:
    """Exact integer minor units, or a 422 naming the field."""
    if decimals_of(currency) is None:
        raise InvalidAsset(f"unknown currency '{currency}'", field=f"{field}.currency")
    try:
        minor = to_minor(amount, currency)
    except ValueError as exc:
        raise InvalidAsset(str(exc), field=f"{field}.amount") from None
    if abs(minor) > MAX_ID:
        raise InvalidAsset(f"{amount} {currency} is beyond what is stored", field=f"{field}.amount")
    return minor


def basis_points(percent: Decimal | None) -> int | None:
    return None if percent is None else int(percent * 100)


def get_asset(session: Session, asset_id: int, *, actor: Principal) -> Asset:
    asset = AssetRepository(session).get(asset_id)
    if asset is None:
        raise AssetNotFound(asset_id)
    try:
        case_service.get_case(session, asset.case_id, actor=actor)
    except CaseNotFound:
        raise AssetNotFound(asset_id) from None
    return asset


def asset_as_seen(
    session: Session, asset_id: int, *, actor: Principal, compartments: Compartments
) -> Asset:
    """An asset the caller may see, its owners named as the caller's compartments tell them."""
    return name_owners(session, [get_asset(session, asset_id, actor=actor)], compartments)[0]


def name_owners(session: Session, assets: list[Asset], compartments: Compartments) -> list[Asset]:
    """`assets`, each owner named as the caller's documents tell of its party
    (`party_service.parties_as_seen`), in two queries however many: a party's row holds what
    its creating document stated, which a member of the asset's case may not see. Call it last
    in a read, after any commit (what `AssetRead` shows of the owners)."""
    owners = [owner for asset in assets for owner in asset.owners]
    if owners:
        parties = {owner.party_id: owner.party for owner in owners}
        seen = party_service.parties_as_seen(session, parties.values(), compartments)
        for owner in owners:
            owner.seen_name = seen[owner.party_id].name
    return assets


def get_writable_asset(session: Session, asset_id: int, *, actor: Principal) -> Asset:
    asset = get_asset(session, asset_id, actor=actor)
    case_service.get_writable_case(session, asset.case_id, actor=actor)
    return asset


def build_asset(
    session: Session,
    case_id: int,
    data: AssetCreate,
    *,
    actor: Principal,
    status: LegalStatus,
    compartments: Compartments,
) -> Asset:
    """Validate and add an asset (flushed; the caller's use case records its first event).
    Accounts, owners and transactions are named among what the caller's compartments hold of
    the case's (`Compartments.within`): every member of the case reads the asset."""
    case = case_service.get_writable_case(session, case_id, actor=actor)
    compartments = compartments.within(case.id)
    account_id = None
    if data.account is not None:
        account_id = account_service.resolve_account_id(session, data.account, compartments)
    value = currency = None
    if data.valuation is not None:
        currency = data.valuation.currency
        value = minor_units(data.valuation.amount, currency, field="valuation")
    holding = None
    if data.holding_amount is not None:
        if data.holding_asset is None:
            raise InvalidAsset("holding_amount needs holding_asset", field="holding_asset")
        holding = minor_units(data.holding_amount, data.holding_asset, field="holding")
    assets = AssetRepository(session)
    asset = assets.add(
        Asset(
            case_id=case.id,
            type=str(data.type),
            jurisdiction=data.jurisdiction or case.jurisdiction,
            status=str(status),
            account_id=account_id,
            **same_named(data, STORED_AS_GIVEN),
            share_basis_points=basis_points(data.share_percent),
            holding_minor=holding,
            value_minor=value,
            currency=currency,
            valued_on=data.valuation.valued_on if data.valuation else None,
            valuation_method=data.valuation.method if data.valuation else None,
            created_by=actor.id,
            created_at=datetime.now(UTC),
        )
    )
    _add_owners(session, asset, data, compartments)
    _add_links(session, asset, data.links, actor=actor, compartments=compartments)
    _record_valuation(session, asset, actor=actor)
    session.flush()
    return asset


def _record_valuation(
    session: Session, asset: Asset, *, actor: Principal, source: str | None = None
) -> None:
    """The asset's valuation as it stands, as the first entry of its history."""
    if asset.value_minor is None or asset.currency is None:
        return
    AssetRepository(session).add_valuation(
        AssetValuation(
            asset_id=asset.id,
            amount_minor=asset.value_minor,
            currency=asset.currency,
            valued_on=asset.valued_on,
            method=asset.valuation_method,
            source=source,
            recorded_by=actor.id,
            recorded_at=asset.created_at,
        )
    )


def revalue_asset(
    session: Session, asset_id: int, data: ValuationCreate, *, actor: Principal
) -> AssetValuation:
    """Record a valuation; the latest by date (then by recording) is the one the asset shows."""
    asset = get_writable_asset(session, asset_id, actor=actor)
    if asset.currency is not None and data.currency != asset.currency:
        # Measures hold parts of the value in this currency: a revaluation keeps it.
        raise InvalidAsset(f"the asset is valued in {asset.currency}", field="currency")
    assets = AssetRepository(session)
    valuation = assets.add_valuation(
        AssetValuation(
            asset_id=asset.id,
            amount_minor=minor_units(data.amount, data.currency, field="valuation"),
            currency=data.currency,
            valued_on=data.valued_on,
            method=data.method,
            source=data.source,
            recorded_by=actor.id,
            recorded_at=datetime.now(UTC),
        )
    )
    latest = max(assets.valuations(asset.id), key=_recency)
    assets.mirror_valuation(asset, latest)
    session.commit()
    return valuation


def _recency(valuation: AssetValuation) -> tuple[bool, date, int]:
    # An undated valuation (given so at registration) is older than any dated one.
    return (valuation.valued_on is not None, valuation.valued_on or date.min, valuation.id)


def page_valuations(
    session: Session, asset_id: int, *, actor: Principal, limit: int, cursor: str | None
) -> tuple[list[AssetValuation], str | None]:
    get_asset(session, asset_id, actor=actor)
    return AssetRepository(session).page_valuations(
        asset_id, limit=limit, after=VALUATIONS.decode(cursor)
    )


def add_cost(session: Session, asset_id: int, data: CostCreate, *, actor: Principal) -> AssetCost:
    """Record a cost of keeping the asset; the asset shows the totals beside its value."""
    asset = get_writable_asset(session, asset_id, actor=actor)
    if asset.currency is not None and data.currency != asset.currency:
        raise InvalidAsset(
            f"the asset is valued in {asset.currency}: record its costs in it", field="currency"
        )
    cost = AssetRepository(session).add_cost(
        AssetCost(
            asset_id=asset.id,
            kind=str(data.kind),
            amount_minor=minor_units(data.amount, data.currency, field="cost"),
            currency=data.currency,
            incurred_on=data.incurred_on,
            note=data.note,
            recorded_by=actor.id,
            recorded_at=datetime.now(UTC),
        )
    )
    session.commit()
    session.refresh(asset, ["costs"])
    return cost


def page_costs(
    session: Session, asset_id: int, *, actor: Principal, limit: int, cursor: str | None
) -> tuple[list[AssetCost], str | None]:
    get_asset(session, asset_id, actor=actor)
    return AssetRepository(session).page_costs(asset_id, limit=limit, after=COSTS.decode(cursor))


def substitute_of(session: Session, asset_id: int) -> Asset | None:
    """The cash asset that replaced an asset sold before confiscation, if any."""
    return AssetRepository(session).substitute_of(asset_id)


def _add_links(
    session: Session,
    asset: Asset,
    links: list[LinkIn],
    *,
    actor: Principal,
    compartments: Compartments,
) -> None:
    for link in links:
        transaction_id = None
        if link.transaction is not None:
            found = transaction_service.get_transaction(session, link.transaction, compartments)
            transaction_id = int(str(found["id"]))
        if link.trace_id is not None:
            # Only a trace the caller may see, and that read only what the case's members see.
            trace_service.trace_for_case(session, link.trace_id, asset.case_id, actor=actor)
        AssetRepository(session).add_link(
            AssetLink(
                asset_id=asset.id,
                transaction_id=transaction_id,
                trace_id=link.trace_id,
                note=link.note,
            )
        )


def add_links(
    session: Session,
    asset_id: int,
    links: list[LinkIn],
    *,
    actor: Principal,
    compartments: Compartments,
) -> Asset:
    """Tie an asset to more transactions or traces, e.g. once a trace reached it."""
    asset = get_writable_asset(session, asset_id, actor=actor)
    # Named among what the case's members may see (`Compartments.within`), read back as the
    # caller sees it.
    _add_links(session, asset, links, actor=actor, compartments=compartments.within(asset.case_id))
    session.commit()
    session.refresh(asset, ["links"])
    return name_owners(session, [asset], compartments)[0]


def _add_owners(
    session: Session, asset: Asset, data: AssetCreate, compartments: Compartments
) -> None:
    seen: set[int] = set()
    total = 0
    for i, owner in enumerate(data.owners):
        party = party_service.resolve_party(session, owner.party, compartments)
        if party.id in seen:
            raise InvalidAsset(f"party {owner.party} is named twice", field=f"owners.{i}.party")
        seen.add(party.id)
        points = basis_points(owner.share_percent)
        total += points or 0
        if total > 10_000:
            raise InvalidAsset("owners' shares exceed 100 %", field=f"owners.{i}.share_percent")
        AssetRepository(session).add_owner(
            AssetOwner(asset_id=asset.id, party_id=party.id, share_basis_points=points)
        )


def add_substitute(
    session: Session,
    replaced: Asset,
    *,
    amount_minor: int,
    currency: str,
    held_as: LegalStatus,
    expiry: tuple[datetime, date, date, datetime] | None,
    actor: Principal,
) -> Asset:
    """Interlocutory sale: a cash asset replaces the sold one in the same legal position
    (`held_as`, FROZEN or SEIZED), under the measure in force and its deadline (`expiry`:
    expires_at, expiry_on, renew_by, renew_by_at)."""
    now = datetime.now(UTC)
    expires_at, expiry_on, renew_by, renew_by_at = expiry or (None, None, None, None)
    cash = Asset(
        type=str(AssetType.CASH),
        description=f"Proceeds of the interlocutory sale of asset {replaced.id}",
        jurisdiction=replaced.jurisdiction,
        status=str(held_as),
        value_minor=amount_minor,
        currency=currency,
        valued_on=now.date(),
        valuation_method="sale price",
        expires_at=expires_at,
        expiry_on=expiry_on,
        renew_by=renew_by,
        renew_by_at=renew_by_at,
        replaces_asset_id=replaced.id,
    )
    return _add_derived(session, replaced, cash, now=now, actor=actor, source="sale of asset")


def add_escaped(
    session: Session,
    source: Asset,
    account: Account,
    *,
    amount_minor: int | None,
    currency: str | None,
    actor: Principal,
) -> Asset:
    """Dissipation: the value that left an asset is a new asset where it went, to be traced."""
    now = datetime.now(UTC)
    found = Asset(
        type=str(AssetType.BANK_BALANCE),
        description=f"Value escaped from asset {source.id} to {account.key}",
        jurisdiction=account.iban[:2] if account.iban else source.jurisdiction,
        status=str(LegalStatus.IDENTIFIED),
        account_id=account.id,
        value_minor=amount_minor,
        currency=currency,
        valued_on=now.date() if amount_minor is not None else None,
        valuation_method="amount dissipated" if amount_minor is not None else None,
    )
    return _add_derived(
        session, source, found, now=now, actor=actor, source="dissipation from asset"
    )


def _add_derived(
    session: Session, origin: Asset, derived: Asset, *, now: datetime, actor: Principal, source: str
) -> Asset:
    """`derived`, an asset that came out of `origin` (its sale's price, value that escaped it),
    stored in origin's case with its first valuation (`source`, then origin's id)."""
    derived.case_id, derived.created_by, derived.created_at = origin.case_id, actor.id, now
    AssetRepository(session).add(derived)
    _record_valuation(session, derived, actor=actor, source=f"{source} {origin.id}")
    return derived


def page_assets(
    session: Session,
    case_id: int,
    *,
    actor: Principal,
    limit: int,
    cursor: str | None,
    status: LegalStatus | None,
    compartments: Compartments,
) -> tuple[list[Asset], str | None]:
    """A page of a case's assets, their owners named as the caller may see them."""
    case_service.get_case(session, case_id, actor=actor)
    assets, next_cursor = AssetRepository(session).page(
        case_id, limit=limit, after=ASSETS.decode(cursor), status=str(status) if status else None
    )
    return name_owners(session, assets, compartments), next_cursor


def assets_on_account(
    session: Session, account_id: int, *, statuses: Collection[str]
) -> list[Asset]:
    return AssetRepository(session).on_account(account_id, statuses=statuses)


def lapsed_assets(session: Session, now: datetime, *, statuses: Collection[str]) -> list[Asset]:
    return AssetRepository(session).lapsed(now, statuses=statuses)


def expiring_assets(
    session: Session, window: DueWindow, *, statuses: Collection[str]
) -> tuple[list[Asset], str | None]:
    """Assets held in `statuses` whose measure lapses within the window, by (expiry, id)."""
    return AssetRepository(session).expiring(window, statuses=statuses)


def holdings_in_cases(session: Session, case_ids: list[int] | None) -> list[tuple[int, str, int]]:
    """Who owns, and which accounts hold, the assets of the given cases (None: of every case)."""
    return AssetRepository(session).holdings(case_ids)


def assets_of_case(session: Session, case_id: int) -> list[Asset]:
    """Every asset of a case in the order registered (the caller has checked it may see it)."""
    return AssetRepository(session).of_case(case_id)
