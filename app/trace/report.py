"""The expert report of a finished trace: what was asked, by which rule and what that rule means
in law, on what evidence, what was found, and what the other rules would have found.

The figures are the stored run's own; only the rules side by side are computed anew, on the
ledger as it is now (the report says whether that is the ledger the run used).
"""

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from app.account import service as account_service
from app.apikey import service as apikey_service
from app.case import service as case_service
from app.compartments import EVERY, Compartments
from app.db import reading
from app.errors import NotFound
from app.principal import Principal
from app.source import service as source_service
from app.trace import results, views
from app.trace import service as trace_service
from app.trace.chart import account_details
from app.trace.models import TraceRun
from app.trace.runtime import Held, TraceRuntime
from app.transaction import service as transaction_service
from app.transaction.service import LedgerRead
from tracing import (
    AccountSeed,
    Ledger,
    Mask,
    Rule,
    TraceParams,
    TraceResult,
    TracingError,
    trace,
)

HOLDINGS = 25
MAIN_HOLDINGS = 3
PATHS = 3
COMPARED_RULES = ("fifo", "lifo", "libr", "haircut")

RULE_IN_LAW = {
    "fifo": "First in, first out: the rule in Clayton's Case (Devaynes v Noble, 1816). Each "
    "withdrawal from a mixed account is taken from the oldest deposits still there, so whether "
    "a payment carried proceeds depends on the order of the deposits. Courts apply it between "
    "innocent contributors to a running account, and decline it where it is arbitrary or unjust "
    "(Barlow Clowes International v Vaughan, 1992).",
    "lifo": "Last in, first out: each withdrawal is taken from the newest deposits first. It is "
    "not a rule of law in its own right; it shows the result most favourable where the proceeds "
    "arrived last, as a bound beside the other rules.",
    "libr": "Lowest intermediate balance (Re Hallett's Estate, 1880; Roscoe v Winder, 1915): "
    "against a wrongdoer, the account holder is taken to spend their own money first, so the "
    "proceeds stay in the account up to its lowest balance since they arrived. Later clean "
    "deposits do not restore what was spent; a balance at or below zero ends the claim there.",
    "haircut": "The rolling charge, or pro rata (Barlow Clowes International v Vaughan, 1992): "
    "each withdrawal carries proceeds in the proportion they form of the balance at that moment. "
    "Courts prefer it among several innocent claimants whose money was mixed, where the order "
    "of deposits should not decide who recovers.",
    "poison": "Poison (total taint): every withdrawal of an account that received proceeds is "
    "treated as tainted. It measures exposure, not value: its figures may exceed the proceeds, "
    "and they cannot found a claim for an amount.",
    "reach": "Reachability: which accounts the money could have reached, in time order and "
    "within the hop limit. It attributes no amount.",
}
SAME_DAY_POLICY = {
    "ledger": "Transactions of one day are taken in the order of the bank statement.",
    "worst_case": "On each day, an account's withdrawals are taken before its deposits: the "
    "reading least favourable to finding the proceeds still held.",
    "best_case": "On each day, an account's deposits are taken before its withdrawals: the "
    "reading most favourable to finding the proceeds still held.",
}


@dataclass
class Report:
    """Everything a report shows, as plain values ready for the HTML and PDF renderers."""

    title: dict[str, Any]
    question: list[tuple[str, str]]
    rule: dict[str, str]
    evidence: list[tuple[str, str]]
    documents: list[dict[str, Any]]
    summary: list[dict[str, Any]]
    counts: list[tuple[str, str]]
    holdings: list[dict[str, Any]]
    paths: list[dict[str, Any]]
    comparison: dict[str, Any]
    chart_title: str


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, list | tuple | frozenset | set):
        return ", ".join(sorted(map(str, value))) or "—"
    return str(value)


def _window(params: dict[str, Any]) -> str:
    start, end = params.get("window_start"), params.get("window_end")
    if start is None and end is None:
        return "the whole ledger"
    return f"{start or 'the first record'} to {end or 'the last record'}"


def _question(run: TraceRun) -> list[tuple[str, str]]:
    params = run.params or {}
    seeds = [
        f"{s['account']} {s.get('amount') or ''} {s['currency']} {s.get('at') or ''}".strip()
        for s in params.get("seeds", [])
    ]
    seeds += [f"transaction {t}" for t in params.get("seed_transactions", [])]
    return [
        ("Seeds", "; ".join(seeds) or "—"),
        ("Direction", _text(params.get("direction"))),
        ("Window", _window(params)),
        ("Most hops", _text(params.get("max_hops"))),
        ("Smallest amount followed", _text(params.get("min_amount"))),
        ("Stopped at", _text(params.get("stop_at"))),
        ("Most counterparties expanded", _text(params.get("max_counterparties"))),
        ("Held measured at", _text(params.get("as_of"))),
    ]


def _documents(session: Session, run: TraceRun, result: TraceResult) -> list[dict[str, Any]]:
    """The source documents that supplied the transactions followed, with how many each did
    (found by the names the trace ran with, whatever a refiling renamed since)."""
    external = sorted(set(result.flows["external_id"].to_list()))
    found = transaction_service.transactions_named_at(
        session, external, LedgerRead(run.created_at, run.refilings)
    )
    per_document: dict[str, int] = {}
    for _, document_id, _ in found.values():
        per_document[document_id] = per_document.get(document_id, 0) + 1
    return [
        {
            "id": d.id,
            "kind": d.kind,
            "reference": d.reference,
            "filename": d.filename,
            "sha256": d.sha256,
            "received_at": d.received_at,
            "transactions": per_document[d.id],
        }
        for d in source_service.documents_by_ids(session, per_document)
    ]


def _who(session: Session, key_id: str) -> str:
    try:
        return f"{apikey_service.get_key(session, key_id).name} (key {key_id})"
    except NotFound:
        return f"key {key_id}"


def _summary(run: TraceRun) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    summary = run.summary or {}
    currencies = [
        {"currency": c, **{k: f.get(k) for k in ("seeded", "held", "exited")}}
        for c, f in sorted((summary.get("currencies") or {}).items())
    ]
    counts = [
        ("Accounts reached", _text(summary.get("accounts_reached"))),
        ("Transactions followed", _text(summary.get("transactions_followed"))),
        ("Exits from the traced universe", _text(summary.get("exits"))),
        ("Accounts flagged for review", _text(summary.get("flags"))),
        ("Conserved to the smallest unit", _text(summary.get("conserved"))),
    ]
    return currencies, counts


def _holdings(
    session: Session, result: TraceResult, compartments: Compartments
) -> list[dict[str, Any]]:
    frame = views.accounts_frame(result, sort="held", holdings_only=True).head(HOLDINGS)
    keys = frame["account"].to_list()
    # names and banks only from documents the reader may see
    holders = account_service.holder_names(session, keys, compartments)
    institutions = account_details(session, keys, compartments)
    out = []
    for row in frame.iter_rows(named=True):
        out.append(
            {
                "account": row["account"],
                "holder": holders.get(row["account"]),
                "institution": institutions.get(row["account"]),
                "currency": row["currency"],
                "held": results.money(row["held"], row["currency"]),
            }
        )
    return out


def _paths(result: TraceResult, holdings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for holding in holdings[:MAIN_HOLDINGS]:
        paths = views.explained_paths(
            result, to=holding["account"], currency=holding["currency"], k=PATHS
        )
        for path in paths:
            # Date, transaction, from, to, amount, traced: the columns of the paths tables.
            path["rows"] = [
                [
                    step["value_time"].date().isoformat(),
                    step["transaction"],
                    step["from_account"],
                    step["to_account"],
                    step["amount"],
                    step["traced_amount"],
                ]
                for step in path["steps"]
            ]
        out.append({**holding, "paths": paths})
    return out


def params_of(run: TraceRun, rule: str) -> TraceParams:
    """The run's parameters with another attribution rule."""
    p = dict(run.params or {})

    def when(name: str) -> datetime | None:
        return datetime.fromisoformat(p[name]) if p.get(name) else None

    seeds = tuple(
        AccountSeed(
            account=s["account"],
            currency=s["currency"],
            amount=Decimal(s["amount"]) if s.get("amount") is not None else None,
            at=datetime.fromisoformat(s["at"]) if s.get("at") else None,
        )
        for s in p.get("seeds", [])
    )
    base = TraceParams(
        seeds=seeds,
        seed_transactions=tuple(p.get("seed_transactions", [])),
        direction=p.get("direction", "forward"),
        rule=Rule(rule),
        same_day_policy=p.get("same_day_policy", "ledger"),
        max_hops=p.get("max_hops", 6),
        window_start=when("window_start"),
        window_end=when("window_end"),
        min_amount=Decimal(p["min_amount"]) if p.get("min_amount") is not None else None,
        stop_at=frozenset(p.get("stop_at", [])),
        max_counterparties=p.get("max_counterparties"),
        as_of=when("as_of"),
    )
    return replace(base, max_accounts=p.get("max_accounts"), max_events=p.get("max_events"))


def _held_by_account(result: TraceResult) -> Held:
    frame = result.accounts.select("account", "currency", "held")
    return {(a, c): h for a, c, h in frame.iter_rows()}


def _held_under(
    run: TraceRun, ledger: Ledger, rule: str, runtime: TraceRuntime | None, mask: Mask | None
) -> Held:
    """What `rule` holds at each account, traced anew over what the reader may see (once per
    trace, ledger, mask and rule)."""

    def compute() -> Held:
        return _held_by_account(trace(ledger, params_of(run, rule), mask=mask))

    if runtime is None:
        return compute()
    return runtime.held_by_rule(run.id, ledger, rule, compute, mask=mask)


def compare_rules(
    run: TraceRun,
    result: TraceResult,
    holdings: list[dict[str, Any]],
    ledger: Ledger | None,
    runtime: TraceRuntime | None = None,
    mask: Mask | None = None,
) -> dict[str, Any]:
    """What each rule holds at the main holdings, over the transactions the reader may see
    (`mask`); the court chooses, the report shows."""
    if ledger is None:
        return {"rows": [], "note": "The rules were not compared: no in-memory ledger here."}
    params = run.params or {}
    if params.get("direction") != "forward":
        return {"rows": [], "note": "The rules attribute value forward only."}
    held: dict[str, Held] = {}
    for rule in COMPARED_RULES:
        same_view = (mask.digest if mask else None) == trace_service.mask_digest(run)
        if (
            rule == params.get("rule")
            and ledger.fingerprint == run.ledger_fingerprint
            and same_view
        ):
            held[rule] = _held_by_account(result)
            continue
        try:
            held[rule] = _held_under(run, ledger, rule, runtime, mask)
        except TracingError as exc:
            return {"rows": [], "note": f"The rules were not compared: {exc}"}
    same = ledger.fingerprint == run.ledger_fingerprint
    note = (
        "Computed on the ledger the trace ran on (same fingerprint)."
        if same
        else f"Computed on today's ledger {ledger.fingerprint}, not the one the trace ran on: "
        "records were added since."
    )
    rows = [
        {
            "account": h["account"],
            "holder": h["holder"],
            "currency": h["currency"],
            "held": {
                rule: results.money(held[rule].get((h["account"], h["currency"])), h["currency"])
                or results.money(Decimal(0), h["currency"])
                for rule in COMPARED_RULES
            },
        }
        for h in holdings[: MAIN_HOLDINGS + 2]
    ]
    return {"rows": rows, "note": note, "rules": list(COMPARED_RULES)}


def build_report(
    session: Session,
    run: TraceRun,
    result: TraceResult,
    *,
    ledger: Ledger | None,
    now: datetime,
    runtime: TraceRuntime | None = None,
    compartments: Compartments = EVERY,
    mask: Mask | None = None,
) -> Report:
    """The report of a run, as a reader of `compartments` may see it (`mask`: what they may
    trace over, for the comparison of rules)."""
    params = run.params or {}
    case = None
    if run.case_id is not None:
        case = case_service.cases_by_ids(session, [run.case_id]).get(run.case_id)
    rule = str(params.get("rule", ""))
    policy = str(params.get("same_day_policy", "ledger"))
    holdings = _holdings(session, result, compartments)
    currencies, counts = _summary(run)
    return Report(
        title={
            "case_reference": case.reference if case else None,
            "case_title": case.title if case else None,
            "trace_id": run.id,
            "generated_at": _text(now),
        },
        question=_question(run),
        rule={
            "rule": rule,
            "law": RULE_IN_LAW.get(rule, ""),
            "same_day_policy": policy,
            "same_day": SAME_DAY_POLICY.get(policy, ""),
        },
        evidence=[
            ("Ledger fingerprint", _text(run.ledger_fingerprint)),
            ("Ledger transactions", _text(run.ledger_transactions)),
            ("Engine version", _text(run.engine_version)),
            ("Run by", _who(session, run.created_by)),
            ("Started", _text(run.created_at)),
            ("Finished", _text(run.finished_at)),
            ("Result SHA-256", _text(run.result_sha256)),
        ],
        documents=_documents(session, run, result),
        summary=currencies,
        counts=counts,
        holdings=holdings,
        paths=_paths(result, holdings),
        comparison=compare_rules(run, result, holdings, ledger, runtime, mask),
        chart_title=views.chart_title(run),
    )


def report_of_trace(
    session: Session,
    trace_id: str,
    *,
    actor: Principal,
    runtime: TraceRuntime,
    now: datetime | None = None,
) -> tuple[Report, TraceRun, TraceResult]:
    """The report of a trace the caller may see, with its run and result (for the chart). On
    Spark the in-memory ledger is not the one traced: the rules are not compared."""
    run = trace_service.visible_trace(session, trace_id, actor=actor)
    result = trace_service.finished_result(session, run, runtime)
    ledger, mask = None, None
    compartments = trace_service.caller_compartments(session, actor)
    if runtime.settings.trace_engine != "spark":
        with reading(session):
            ledger, filed = runtime.filed_ledger(session)
        mask = runtime.mask_for(ledger, filed, compartments)
    report = build_report(
        session,
        run,
        result,
        ledger=ledger,
        now=now or datetime.now(UTC),
        runtime=runtime,
        compartments=compartments,
        mask=mask,
    )
    return report, run, result
