"""A stored trace's chart: the plan of what to show, the names and banks of what is shown, the
caption that says which case, when and on which ledger."""

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.orm import Session

from app.account import service as account_service
from app.case import service as case_service
from app.compartments import Compartments
from app.trace import service as trace_service
from app.trace import views
from app.trace.chart_plan import PER_COLUMN, plan_chart
from app.trace.models import TraceRun
from app.trace.render import Caption, draw
from tracing import TraceResult


def account_details(
    session: Session, keys: list[str], compartments: Compartments
) -> dict[str, str]:
    """The line under a holder's name: the account's institution (else BIC, else chain), if
    the document that stated it is one `compartments` may see."""
    out = {}
    accounts = account_service.accounts_by_keys(session, keys)
    visible = trace_service.visible_documents(
        session, (a.source_document_id for a in accounts.values()), compartments
    )
    for key, account in accounts.items():
        if account.source_document_id not in visible:
            continue
        if detail := account.institution or account.bic or account.chain:
            out[key] = detail
    return out


def case_reference(session: Session, run: TraceRun) -> str | None:
    if run.case_id is None:
        return None
    case = case_service.cases_by_ids(session, [run.case_id]).get(run.case_id)
    return case.reference if case is not None else None


def chart_of_trace(
    session: Session,
    run: TraceRun,
    result: TraceResult,
    *,
    fmt: str,
    now: datetime,
    per_column: int = PER_COLUMN,
    empty_edges: bool = False,
    roles: Mapping[str, list[str]],
    compartments: Compartments,
) -> bytes:
    """The chart as SVG or PNG; only the accounts drawn are looked up. Accounts are marked with
    the roles they play in the network (`roles`: `app.trace.roles.names_by_account`)."""
    plan = plan_chart(result, per_column=per_column, empty_edges=empty_edges)
    keys = plan.accounts
    caption = Caption(
        case_reference=case_reference(session, run),
        generated_at=now,
        ledger_fingerprint=run.ledger_fingerprint or result.provenance.ledger_fingerprint,
    )
    return draw(
        plan,
        holders=account_service.holder_names(session, keys, compartments),
        details=account_details(session, keys, compartments),
        title=views.chart_title(run),
        caption=caption,
        fmt=fmt,
        roles=roles,
    )
