"""The case overview, read from the services of each domain: a caller sees in it exactly what
it may see of the case elsewhere (a case it is not on does not exist, nor do linked cases or
convergence hits it is not on)."""

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from app.account import service as account_service
from app.asset import service as asset_service
from app.asset.machine import RESTRAINED, LegalStatus
from app.asset.models import Asset
from app.case import service as case_service
from app.compartments import EVERY, Compartments
from app.convergence import service as convergence
from app.deadline import service as deadline_service
from app.measure import service as measure_service
from app.money import from_minor
from app.pagination import DuePage
from app.party import service as party_service
from app.principal import Principal
from app.trace import service as trace_service

TRACES = 50


def totals(amounts: list[tuple[str, int]]) -> list[dict[str, str]]:
    """Sums of minor units per currency, as exact decimal strings, by currency."""
    sums: dict[str, int] = defaultdict(int)
    for currency, minor in amounts:
        sums[currency] += minor
    return [{"currency": c, "amount": from_minor(sums[c], c)} for c in sorted(sums)]


def _held_minor(asset: Asset) -> int | None:
    if asset.status not in RESTRAINED or asset.currency is None:
        return None
    # No amount on the measure: it holds the whole asset.
    return asset.restrained_minor if asset.restrained_minor is not None else asset.value_minor


def _brief(session: Session, asset: Asset) -> dict[str, Any]:
    held = _held_minor(asset)
    account_key = None
    if asset.account_id is not None:
        account_key = account_service.resolve_account(session, str(asset.account_id)).key
    valued = asset.value_minor is not None and asset.currency is not None
    return {
        "id": asset.id,
        "type": asset.type,
        "description": asset.description,
        "account_key": account_key,
        "value": from_minor(asset.value_minor, asset.currency) if valued else None,  # type: ignore[arg-type]
        "currency": asset.currency,
        "held": from_minor(held, asset.currency) if held is not None else None,  # type: ignore[arg-type]
        "expires_at": asset.expires_at,
        "replaces_asset_id": asset.replaces_asset_id,
    }


def asset_groups(session: Session, assets: list[Asset]) -> list[dict[str, Any]]:
    by_status: dict[str, list[Asset]] = defaultdict(list)
    for asset in assets:
        by_status[asset.status].append(asset)
    groups = []
    for status in LegalStatus:
        members = by_status.get(str(status), [])
        if not members:
            continue
        valued = [
            (a.currency, a.value_minor)
            for a in members
            if a.value_minor is not None and a.currency is not None
        ]
        held = [(a.currency, h) for a in members if (h := _held_minor(a)) is not None]
        groups.append(
            {
                "status": status,
                "count": len(members),
                "unvalued": len(members) - len(valued),
                "value_totals": totals(valued),
                "held_totals": totals(held),  # type: ignore[arg-type]
                "assets": [_brief(session, a) for a in members],
            }
        )
    return groups


def _subjects(session: Session, case_id: int, seen: Compartments) -> list[dict[str, Any]]:
    out = []
    for subject in case_service.subjects_of(session, [case_id]):
        described = case_service.describe_subject(session, subject, seen)
        same_as: list[str] = []
        if subject.party_id is not None:
            # Only the holder links the caller's compartments hold (issue 19).
            accounts = account_service.accounts_of_party(session, subject.party_id, seen)
            party_key = str(described["party_key"])
            same_as = sorted(party_service.linked_parties(session, party_key) - {party_key})
        else:
            key = described["account_key"]
            accounts = [{"account_id": subject.account_id, "key": key, "role": "subject"}]
        out.append({**described, "accounts": accounts, "same_as": same_as})
    return out


def _distinct_parties(session: Session, subjects: list[dict[str, Any]]) -> int:
    """Parties among the subjects, each group of parties linked as one counted once."""
    one = party_service.link_groups(session)
    return len({one.get(s["party_id"], s["party_id"]) for s in subjects if s["party_id"]})


def _trace_brief(run: Any) -> dict[str, Any]:
    summary = trace_service.summary_of(run) or {}
    params = run.params or {}
    return {
        "id": run.id,
        "status": run.status,
        "rule": params.get("rule"),
        "direction": params.get("direction"),
        "created_by": run.created_by,
        "created_at": run.created_at,
        "finished_at": run.finished_at,
        "result_sha256": run.result_sha256,
        **{k: summary.get(k) for k in ("currency", "taint_in", "held", "exited")},
        "accounts_reached": summary.get("accounts_reached"),
    }


def _happenings(
    session: Session, case_id: int, assets: list[Asset], traces: list[Any], limit: int
) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = [
        {
            "at": e.at,
            "kind": "case_status",
            "summary": f"case {e.from_status or '(new)'} → {e.to_status}"
            + (f": {e.reason}" if e.reason else ""),
            "actor_id": e.actor_id,
        }
        for e in case_service.recent_events(session, case_id, limit=limit)
    ]
    for m in measure_service.recent_moves(session, [a.id for a in assets], limit=limit):
        order = ", ".join(x for x in (m.order_reference, m.issuing_authority) if x)
        events.append(
            {
                "at": m.recorded_at,
                "kind": "asset_move",
                "summary": f"asset {m.asset_id} {m.from_status or '(new)'} → {m.to_status}"
                + (f" ({order})" if order else ""),
                "actor_id": m.actor_id,
                "asset_id": m.asset_id,
            }
        )
    for run in traces[:limit]:
        rule = (run.params or {}).get("rule", "")
        events.append(
            {
                "at": run.created_at,
                "kind": "trace",
                "summary": f"trace {run.id[:8]} ({rule}) {run.status}",
                "actor_id": run.created_by,
                "trace_id": run.id,
            }
        )
    events.sort(key=lambda e: e["at"], reverse=True)
    return events[:limit]


def case_overview(
    session: Session,
    case_id: int,
    *,
    actor: Principal,
    within_days: int,
    events: int,
    now: datetime | None = None,
    compartments: Compartments = EVERY,
) -> dict[str, Any]:
    case = case_service.get_case(session, case_id, actor=actor)
    assets = asset_service.assets_of_case(session, case.id)
    traces = trace_service.traces_of_case(session, case.id, limit=TRACES, actor=actor)
    deadlines, _ = deadline_service.page_deadlines(
        session,
        actor=actor,
        due=DuePage(limit=100, cursor=None, within_days=within_days),
        now=now or datetime.now(UTC),
        case_id=case.id,
    )
    valued = [
        (a.currency, a.value_minor)
        for a in assets
        if a.value_minor is not None and a.currency is not None
    ]
    subjects = _subjects(session, case.id, compartments)
    return {
        "case": case,
        "linked_cases": [
            {
                "relation": relation,
                "case_id": c.id,
                "reference": c.reference,
                "kind": c.kind,
                "title": c.title,
                "status": c.status,
            }
            for relation, c in case_service.linked_cases(session, case, actor=actor)
        ],
        "subjects": subjects,
        "distinct_parties": _distinct_parties(session, subjects),
        "asset_totals": totals(valued),
        "assets": asset_groups(session, assets),
        "traces": [_trace_brief(r) for r in traces],
        "deadlines": deadlines,
        "convergence": convergence.hits_of_case(
            session, case.id, actor=actor, compartments=compartments
        ),
        "recent_events": _happenings(session, case.id, assets, traces, events),
    }
