"""Exports of traces and ledger neighbourhoods, and FtM streams into the ledger."""

import importlib.util
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import networkx as nx
import polars as pl
from sqlalchemy.orm import Session

from app import limits
from app.account import service as account_service
from app.account.schemas import AccountBatch
from app.case import service as case_service
from app.compartments import Compartments
from app.errors import AppError, BatchRejected, InvalidInput
from app.interop import graph
from app.matching import service as matching_service
from app.party import service as party_service
from app.party.models import Party
from app.principal import Principal
from app.settings import Settings
from app.source import service as source_service
from app.source.schemas import SourceIn
from app.trace import service as trace_service
from app.trace.roles import names_by_account
from app.trace.runtime import TraceRuntime
from app.transaction import service as transaction_service
from app.transaction.ingest import COLUMNS
from app.transaction.schemas import IngestResult
from app.uploads import Upload
from tracing import TraceResult

FTM_KIND = "ftm_entities"
NEIGHBOURHOOD_PAGE = 1000


class FtmUnavailable(AppError):
    status, code, title = 501, "ftm_unavailable", "FollowTheMoney support is not installed"

    def __init__(self) -> None:
        super().__init__(
            "this server was installed without the `ftm` extra (followthemoney needs PyICU, "
            "which builds from source); install moneytrail[ftm] to import and export FtM"
        )


# followthemoney is an optional extra: the FtM modules are imported where they are used, after
# this check, so that everything else runs without it.
FTM_INSTALLED = importlib.util.find_spec("followthemoney") is not None


def _require_ftm() -> None:
    if not FTM_INSTALLED:
        raise FtmUnavailable


class FtmRejected(InvalidInput):
    code, title = "ftm_rejected", "FtM stream rejected"

    def __init__(self, errors: list[dict[str, object]]) -> None:
        super().__init__(
            f"{len(errors)} problem(s) in the FtM stream; nothing of it was stored",
            errors=errors,
            error_count=len(errors),
        )


# The trace exports by format: each renders a finished trace, its accounts' display names and
# the roles they play in the network.
TraceExport = Callable[[TraceResult, dict[str, str], dict[str, list[str]]], bytes | str]
TRACE_EXPORTS: dict[str, TraceExport] = {
    "graphml": lambda result, names, roles: graph.graphml(graph.as_networkx(result, names, roles)),
    "gexf": lambda result, names, roles: graph.gexf(graph.as_networkx(result, names, roles)),
    "i2-entities": graph.i2_entities,
    "i2-links": lambda result, _names, _roles: graph.i2_links(result),
}


def export_trace(
    session: Session, trace_id: str, fmt: str, *, actor: Principal, runtime: TraceRuntime
) -> bytes | str:
    """A finished trace the caller may see, in one of `TRACE_EXPORTS`, each account named by
    its holder as the trace's ledger knew it and marked with its roles in the network."""
    run = trace_service.visible_trace(session, trace_id, actor=actor)
    result = trace_service.finished_result(session, run, runtime)
    compartments = trace_service.caller_compartments(session, actor)
    # names only from documents the caller may see
    names = account_service.holder_names(
        session, graph.trail_keys(result), compartments, at=run.created_at
    )
    roles = names_by_account(trace_service.trace_roles(runtime, run, result))
    return TRACE_EXPORTS[fmt](result, names, roles)


def trace_ftm(
    session: Session, trace_id: str, *, actor: Principal, runtime: TraceRuntime
) -> Iterator[str]:
    """The trace's payments with the amounts it traced (the full amount beside), and the
    accounts' holders as its ledger knew them when it ran, not as they are known today."""
    _require_ftm()
    from app.interop.ftm import TracedPayment, export_trace_lines

    run = trace_service.visible_trace(session, trace_id, actor=actor)
    result = trace_service.finished_result(session, run, runtime)
    # accounts' details and holders only as stated by documents the caller may see
    compartments = trace_service.caller_compartments(session, actor)
    accounts = account_service.accounts_as_seen(session, graph.trail_keys(result), compartments)
    holders, _ = account_service.holders_as_seen(
        session, list(accounts), compartments, at=run.created_at
    )
    payments = [
        TracedPayment(
            payment=graph.Payment(
                external_id=r["external_id"],
                from_account=r["from_account"],
                to_account=r["to_account"],
                amount=graph.money(r["amount"], r["currency"])[0],
                currency=r["currency"],
                value_time=r["value_time"],
                sequence=r["sequence"],
            ),
            trace_id=run.id,
            rule=result.provenance.rule,
            traced_amount=(
                None if r["traced"] is None else graph.money(r["traced"], r["currency"])[0]
            ),
        )
        for r in result.flows.sort("value_time", "external_id").iter_rows(named=True)
    ]
    roles = names_by_account(trace_service.trace_roles(runtime, run, result))
    return export_trace_lines(accounts.values(), payments, holders=holders, roles=roles)


def _account_payments(
    session: Session, account_id: int, compartments: Compartments
) -> list[graph.Payment]:
    payments, cursor = [], None
    while True:
        items, cursor = transaction_service.page_account_transactions(
            session,
            account_id,
            start=None,
            end=None,
            limit=NEIGHBOURHOOD_PAGE,
            cursor=cursor,
            compartments=compartments,
        )
        payments += [_payment(i) for i in items]
        if cursor is None:
            return payments


def _payment(item: dict[str, Any]) -> graph.Payment:
    value_time = item["value_time"]
    assert isinstance(value_time, datetime)
    return graph.Payment(
        external_id=str(item["external_id"]),
        engine_id=str(item["engine_id"]),
        from_account=str(item["from_account"]),
        to_account=str(item["to_account"]),
        amount=str(item["amount"]),
        currency=str(item["currency"]),
        value_time=value_time,
        sequence=item["sequence"],
        narrative=item["narrative"],
    )


def case_ftm(
    session: Session, case_id: int, *, actor: Principal, compartments: Compartments
) -> Iterator[str]:
    """A case's subjects: its parties, and its accounts with their neighbourhood, as far as the
    caller's compartments hold them."""
    subjects = case_service.list_subjects(session, case_id, actor=actor)
    accounts = [str(s["account_id"]) for s in subjects if s["account_id"] is not None]
    parties = [
        party_service.get_party(session, int(str(s["party_id"])))
        for s in subjects
        if s["party_id"] is not None
    ]
    visible = party_service.visible_party_ids(session, (p.id for p in parties), compartments)
    parties = [
        party_service.party_as_seen(session, p, compartments) for p in parties if p.id in visible
    ]
    return neighbourhood_ftm(session, accounts, compartments, parties=parties)


def neighbourhood(
    session: Session, refs: list[str], compartments: Compartments
) -> tuple[list[str], list[graph.Payment]]:
    """The keys of accounts and their counterparts, and the transactions between them that the
    caller's compartments hold."""
    payments: dict[str, graph.Payment] = {}
    keys: set[str] = set()
    for ref in refs:
        account = account_service.resolve_account(session, ref, compartments)
        keys.add(account.key)
        for p in _account_payments(session, account.id, compartments):
            payments[p.name] = p
            keys.update((p.from_account, p.to_account))
    ordered = sorted(payments.values(), key=lambda p: (p.value_time, p.name))
    return sorted(keys), ordered


def neighbourhood_ftm(
    session: Session, refs: list[str], compartments: Compartments, *, parties: Sequence[Party] = ()
) -> Iterator[str]:
    """Accounts, their holders, their transactions in and out and the accounts at the far end:
    details and holders only from documents the caller's compartments hold."""
    _require_ftm()
    keys, payments = neighbourhood(session, refs, compartments)
    accounts = account_service.accounts_as_seen(session, keys, compartments)
    holders, _ = account_service.holders_as_seen(session, keys, compartments)
    from app.interop.ftm import export_lines

    return export_lines(accounts.values(), payments, parties=parties, holders=holders)


def neighbourhood_graph(
    session: Session, refs: list[str], compartments: Compartments
) -> nx.MultiDiGraph:
    keys, payments = neighbourhood(session, refs, compartments)
    return graph.ledger_networkx(
        payments, account_service.holder_names(session, keys, compartments)
    )


# The neighbourhood exports by format, each over the neighbourhood's graph.
NEIGHBOURHOOD_EXPORTS: dict[str, Callable[[nx.MultiDiGraph], bytes | str]] = {
    "graphml": graph.graphml,
    "gexf": graph.gexf,
    "i2-entities": lambda ledger: graph.i2_of_ledger(ledger)[0],
    "i2-links": lambda ledger: graph.i2_of_ledger(ledger)[1],
}


def export_neighbourhood(
    session: Session, refs: list[str], fmt: str, compartments: Compartments
) -> bytes | str:
    """Accounts' neighbourhood (transactions in and out, counterparts) in one of
    `NEIGHBOURHOOD_EXPORTS`, as far as the caller's compartments hold it."""
    return NEIGHBOURHOOD_EXPORTS[fmt](neighbourhood_graph(session, refs, compartments))


def import_ftm(
    session: Session,
    path: Path,
    upload: Upload,
    *,
    reference: str,
    actor: Principal,
    settings: Settings,
    case_id: int | None = None,
) -> tuple[IngestResult, bool]:
    """An FtM stream into the ledger, whole or not at all; a re-sent stream stores nothing."""
    _require_ftm()
    from app.interop.ftm import read_lines
    from app.interop.ftm_in import to_ledger

    with path.open("rb") as stream:
        entities, errors = read_lines(
            limits.bounded_lines(stream, max_line_bytes=settings.line_max_bytes)
        )
    ledger = to_ledger(entities)
    if errors := errors + ledger.errors:
        raise FtmRejected(errors)
    source = SourceIn(kind=FTM_KIND, reference=reference, case_id=case_id)
    try:
        batch = AccountBatch.model_validate(
            {
                "source": source,
                "parties": list(ledger.parties.values()),
                "accounts": list(ledger.accounts.values()),
            }
        )
    except ValueError as exc:
        raise FtmRejected([{"loc": ["stream"], "msg": str(exc)[:1000], "type": "ftm"}]) from exc
    document = source_service.record_source(
        session, source, upload, rows=len(ledger.rows), actor=actor
    )
    try:
        stored = account_service.load_accounts(session, batch, document_id=document.id)
        counts = None
        if ledger.rows:
            frame = pl.DataFrame(
                {c: [r[c] for r in ledger.rows] for c in COLUMNS},
                schema=dict.fromkeys(COLUMNS, pl.String),
            )
            counts = transaction_service.load_rows(
                session,
                frame,
                document_id=document.id,
                timezone="UTC",
                settings=settings,
                rows_label="payment",
                first_row=0,
            )
    except BatchRejected as exc:
        session.rollback()
        raise FtmRejected(_on_lines(exc, ledger.lines)) from exc
    inserted = counts.inserted if counts else 0
    present = counts.already_present if counts else 0
    new_records = stored.parties_inserted + stored.accounts_inserted + stored.holders_added
    if inserted == 0 and new_records == 0 and stored.parties_updated + stored.accounts_updated == 0:
        session.rollback()  # a replay: nothing of this upload is kept
        first = ledger.rows[0]["external_id"] if ledger.rows else None
        known = transaction_service.transaction_ids_in(session, [first], case_id) if first else {}
        return IngestResult(
            source_document_id=known[first][1] if first in known else "",
            rows=len(ledger.rows),
            inserted=0,
            already_present=present,
            accounts_created=0,
        ), False
    document.inserted, document.already_present = inserted, present
    matching_service.index_document(session, document.id)
    session.commit()
    return IngestResult(
        source_document_id=document.id,
        rows=len(ledger.rows),
        inserted=inserted,
        already_present=present,
        accounts_created=stored.accounts_inserted + (counts.accounts_created if counts else 0),
    ), True


def _on_lines(exc: BatchRejected, lines: list[int]) -> list[dict[str, object]]:
    """The ledger's refusal, told by the stream's line numbers."""
    out = []
    for error in exc.extensions.get("errors", []):  # type: ignore[attr-defined]
        section, row = [*error["loc"], None, None][:2]
        line = lines[row] if section == "payment" and isinstance(row, int) else None
        out.append({**error, "line": line} if line is not None else dict(error))
    return out
