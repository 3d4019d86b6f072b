"""From holdings to freezing proposals: each account where a trace's taint is held becomes an
asset of a case in state TRACED, valued at the taint held, linked to the trace and to the
transactions that carried the taint there. A freeze stays a legal act of its own (a transition
of the asset), never a side effect of a trace."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import polars as pl
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.account import service as account_service
from app.account.keys import AccountKind
from app.account.models import Account
from app.asset import service as asset_service
from app.asset.machine import RESTRAINED
from app.asset.schemas import AssetCreate, AssetType, LinkIn, OwnerIn, Valuation
from app.case import service as case_service
from app.compartments import Compartments
from app.errors import Conflict, InvalidInput
from app.measure import service as measure_service
from app.money import decimal_text, decimals_of, to_minor
from app.principal import Principal
from app.proposal.models import FreezingProposal
from app.proposal.repository import ProposalRepository
from app.proposal.schemas import ProposalCreate, SkipReason
from app.source import service as source_service
from app.trace import service as trace_service
from app.trace.runtime import TraceRuntime
from app.transaction import service as transaction_service
from app.transaction.service import LedgerRead
from tracing import Frame, TraceResult, frames_of

# What can be frozen at an account, by its kind: a cash-out or an unknown counterparty holds
# nothing a court could restrain.
ASSET_TYPES = {
    AccountKind.BANK: AssetType.BANK_BALANCE,
    AccountKind.CARD: AssetType.BANK_BALANCE,
    AccountKind.E_MONEY: AssetType.BANK_BALANCE,
    AccountKind.CRYPTO_WALLET: AssetType.CRYPTO_HOLDINGS,
}
# Figures of these rules are no value that could be restrained.
NO_VALUE = {"reach": "a reach trace measures no value", "poison": "poison measures exposure"}


class TraceMeasuresNoValue(InvalidInput):
    code, title = "trace_measures_no_value", "Trace measures no value"

    def __init__(self, rule: str) -> None:
        super().__init__(
            f"{NO_VALUE[rule]}, not value held: propose from a trace under haircut, fifo, lifo "
            "or libr",
            rule=rule,
        )


class ProposalsRaced(Conflict):
    code, title = "proposals_raced", "Proposals made at the same time"

    def __init__(self, trace_id: str, case_id: int) -> None:
        super().__init__(
            f"trace {trace_id} was being proposed to case {case_id} by another request at the "
            "same time; nothing of this one was stored: call again to see what was created",
            trace_id=trace_id,
            case_id=case_id,
        )


def claimant_shares(
    result: TraceResult, account: str, currency: str | None = None
) -> list[dict[str, str | None]] | None:
    """Each claimant's share of the taint held at ``account``: ``[{"claimant", "amount"}]``
    summing exactly to the holding (claimant None: unattributed taint), or None when the
    trace's seeds name no claimant."""
    if Frame.CLAIMANTS not in frames_of(result.provenance.params):
        return None
    held = result.claimants.filter((pl.col("account") == account) & (pl.col("held") > 0))
    if currency is not None:
        held = held.filter(pl.col("currency") == currency)
    return [
        {"claimant": claimant, "amount": decimal_text(amount, cur)}
        for claimant, cur, amount in held.select("claimant", "currency", "held").iter_rows()
    ]


def _holdings(result: TraceResult) -> list[dict[str, Any]]:
    frame = result.accounts.filter(pl.col("held") > 0).sort(
        "held", "account", descending=[True, False]
    )
    return frame.select("account", "currency", "held").to_dicts()


def _carriers(result: TraceResult) -> dict[tuple[str, str], list[str]]:
    """External ids of the tainted deposits of each account, in time order."""
    flows = result.flows.filter(pl.col("traced") > 0).sort("value_time", "sequence", "external_id")
    out: dict[tuple[str, str], list[str]] = {}
    for to, currency, tx in flows.select("to_account", "currency", "external_id").iter_rows():
        out.setdefault((to, currency), []).append(tx)
    return out


def _skip(
    row: dict[str, Any], reason: SkipReason, detail: str, asset_id: int | None = None
) -> dict[str, Any]:
    return {
        "account": row["account"],
        "currency": row["currency"],
        "held": decimal_text(row["held"], row["currency"]),
        "reason": reason,
        "detail": detail,
        "asset_id": asset_id,
    }


def _restrained(session: Session, account: Account, case_id: int) -> Any:
    held = asset_service.assets_on_account(
        session, account.id, statuses=[str(s) for s in RESTRAINED]
    )
    return next((a for a in held if a.case_id == case_id), None)


def _asset_data(
    account: Account,
    kind: AssetType,
    held: Decimal,
    currency: str,
    run_id: str,
    rule: str,
    links: list[LinkIn],
    owners: list[str],
) -> AssetCreate:
    amount = decimal_text(held, currency)
    common: dict[str, Any] = {
        "type": kind,
        "description": f"Taint held at {account.key}: {amount} {currency} (trace {run_id}, {rule})",
        "valuation": Valuation(
            amount=held,
            currency=currency,
            valued_on=datetime.now(UTC).date(),
            method=f"taint held, trace {run_id[:8]}",
        ),
        "owners": [OwnerIn(party=key) for key in owners],
        "links": links,
    }
    if kind is AssetType.CRYPTO_HOLDINGS:
        return AssetCreate(
            **common,
            chain=account.chain,
            wallet_address=account.address,
            holding_asset=currency,
            holding_amount=held,
        )
    country = account.iban[:2] if account.iban else None
    return AssetCreate(**common, account=account.key, jurisdiction=country)


def _why_not(
    session: Session,
    row: dict[str, Any],
    account: Account | None,
    *,
    minimum: Decimal | None,
    previous: FreezingProposal | None,
    case_id: int,
) -> dict[str, Any] | None:
    """Why a holding becomes no asset, or None when it does."""
    if minimum is not None and row["held"] < minimum:
        return _skip(
            row,
            SkipReason.BELOW_MIN_AMOUNT,
            f"below the minimum amount {minimum} {row['currency']}",
        )
    if previous is not None:
        return _skip(
            row,
            SkipReason.ALREADY_PROPOSED,
            f"proposed before as asset {previous.asset_id} of the case",
            previous.asset_id,
        )
    if account is None:
        # Stored, yet known only to compartments the case is not in, it is none of the case's:
        # the asset would show its key to every member of the case.
        return _skip(
            row, SkipReason.UNKNOWN_ACCOUNT, "the shared pool and the case know no such account"
        )
    if AccountKind(account.kind) not in ASSET_TYPES:
        return _skip(
            row, SkipReason.NOT_FREEZABLE, f"a {account.kind} account holds nothing to freeze"
        )
    if decimals_of(row["currency"]) is None:
        return _skip(
            row, SkipReason.UNKNOWN_CURRENCY, f"no decimals are known for {row['currency']}"
        )
    if (measure := _restrained(session, account, case_id)) is not None:
        return _skip(
            row,
            SkipReason.ACTIVE_MEASURE,
            f"asset {measure.id} of the case is {measure.status}",
            measure.id,
        )
    return None


def _propose(
    session: Session,
    row: dict[str, Any],
    account: Account,
    *,
    run_id: str,
    case_id: int,
    result: TraceResult,
    carried: list[str],
    tx_ids: dict[str, transaction_service.Named],
    actor: Principal,
    owners: list[str],
    readers: Compartments,
) -> dict[str, Any]:
    key, currency, held = row["account"], row["currency"], row["held"]
    rule = result.provenance.rule
    amount = decimal_text(held, currency)
    links = [LinkIn(trace_id=run_id, note=f"holds {amount} {currency} of taint")]
    links += [
        LinkIn(transaction=str(tx_ids[tx][0]), note="carried taint to the account")
        for tx in carried
        if tx in tx_ids
    ]
    kind = ASSET_TYPES[AccountKind(account.kind)]
    asset = measure_service.register_traced_asset(
        session,
        case_id,
        _asset_data(account, kind, held, currency, run_id, rule, links, owners),
        actor=actor,
        amount_minor=to_minor(held, currency),
        currency=currency,
        note=f"trace {run_id} ({rule}): {amount} {currency} of taint held",
        compartments=readers,
    )
    shares = claimant_shares(result, key, currency)
    ProposalRepository(session).add(
        FreezingProposal(
            trace_id=run_id,
            case_id=case_id,
            account_key=key,
            currency=currency,
            asset_id=asset.id,
            held_minor=to_minor(held, currency),
            claimant_shares=shares,
            created_by=actor.id,
            created_at=datetime.now(UTC),
        )
    )
    return {
        "account": key,
        "currency": currency,
        "held": amount,
        "asset_id": asset.id,
        "asset_type": str(kind),
        "status": asset.status,
        "transactions": carried,
        "claimant_shares": shares,
    }


def propose_freezing(
    session: Session,
    trace_id: str,
    data: ProposalCreate,
    *,
    actor: Principal,
    runtime: TraceRuntime,
) -> dict[str, Any]:
    """Create the assets of a trace's holdings in a case, once: a second call creates nothing.
    Stored whole or not at all."""
    run = trace_service.visible_trace(session, trace_id, actor=actor)
    result = trace_service.finished_result(session, run, runtime)
    if result.provenance.rule in NO_VALUE:
        raise TraceMeasuresNoValue(result.provenance.rule)
    case = case_service.get_writable_case(session, data.case_id, actor=actor)
    # Its assets show every member of the case figures worked out from what the trace read.
    trace_service.check_reads_within(session, run, case.id)
    try:
        created, skipped = _proposals(
            session,
            run.id,
            case.id,
            result,
            data,
            actor,
            read=LedgerRead(run.created_at, run.refilings),
        )
        session.commit()
    except IntegrityError:
        # The unique (trace, case, account, currency): a concurrent call stored the same holding.
        session.rollback()
        raise ProposalsRaced(run.id, case.id) from None
    return {"trace_id": run.id, "case_id": case.id, "created": created, "skipped": skipped}


def _proposals(
    session: Session,
    run_id: str,
    case_id: int,
    result: TraceResult,
    data: ProposalCreate,
    actor: Principal,
    *,
    read: LedgerRead,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    holdings = _holdings(result)
    # What the asset may show: what documents of the shared pool or of the case itself state
    # (an asset of the case is read by all its members, whatever the trace read).
    readers = Compartments(every=False, cases=frozenset({case_id}))
    accounts = account_service.accounts_by_keys(session, [h["account"] for h in holdings], readers)
    held_by, _ = account_service.holders_as_seen(session, sorted(accounts), readers)
    done = {
        (p.account_key, p.currency): p
        for p in ProposalRepository(session).of_trace_in_case(run_id, case_id)
    }
    carriers = _carriers(result)
    # by the names the trace ran with, whatever a refiling renamed since; an asset links only
    # the transactions its readers may see
    named = transaction_service.transactions_named_at(
        session, sorted({tx for txs in carriers.values() for tx in txs}), read
    )
    readable = source_service.visible_documents(
        session, {n.document_id for n in named.values()}, readers
    )
    tx_ids = {tx: n for tx, n in named.items() if n.document_id in readable}
    created: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for row in holdings:
        account = accounts.get(row["account"])
        previous = done.get((row["account"], row["currency"]))
        minimum = data.minimum(row["currency"])
        skip = _why_not(session, row, account, minimum=minimum, previous=previous, case_id=case_id)
        if skip is not None:
            skipped.append(skip)
            continue
        assert account is not None
        created.append(
            _propose(
                session,
                row,
                account,
                run_id=run_id,
                case_id=case_id,
                result=result,
                carried=carriers.get((row["account"], row["currency"]), []),
                tx_ids=tx_ids,
                actor=actor,
                owners=sorted(
                    {h.party.key for h in held_by.get(account.key, []) if h.role == "holder"}
                ),
                readers=readers,
            )
        )
    return created, skipped


def claimant_shares_of_asset(session: Session, asset_id: int) -> list[dict[str, str | None]] | None:
    """The claimants' shares stored with the proposal that made the asset (or the nearest asset
    it replaces, as sale proceeds replace what was sold); None when no proposal with claimants
    made it."""
    proposal = ProposalRepository(session).of_asset_or_replaced(asset_id)
    return None if proposal is None else proposal.claimant_shares
