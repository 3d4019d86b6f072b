"""Reading a finished trace's claimants' shares and sources of funds."""

from decimal import Decimal
from typing import Any

import polars as pl

from app.errors import Conflict
from app.pagination import CursorCodec, Position
from app.trace import results
from app.trace.views import page_of
from tracing import Frame, TraceResult, frames_of

TRACE_CLAIMANTS = CursorCodec("trace_claimants", Position)
TRACE_SOURCES = CursorCodec("trace_sources", Position)


class TraceWithoutClaimants(Conflict):
    code, title = "trace_has_no_claimants", "Trace has no claimants"

    def __init__(self) -> None:
        super().__init__(
            "this trace's seeds name no claimant: run one with `claimant` on its seeds"
        )


class TraceWithoutSources(Conflict):
    code, title = "trace_has_no_sources", "Trace has no sources of funds"

    def __init__(self) -> None:
        super().__init__(
            "sources of funds come from a value rule (fifo, lifo, haircut) traced backward"
        )


def _frame(result: TraceResult, name: Frame) -> pl.DataFrame:
    if name not in frames_of(result.provenance.params):
        raise TraceWithoutClaimants() if name is Frame.CLAIMANTS else TraceWithoutSources()
    return result.frame(name)


def claimant_rows(
    result: TraceResult,
    *,
    account: str | None,
    claimant: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Per account and claimant: received and held, by account then claimant."""
    frame = _frame(result, Frame.CLAIMANTS)
    if account is not None:
        frame = frame.filter(pl.col("account") == account)
    if claimant is not None:
        frame = frame.filter(pl.col("claimant") == claimant)
    page, next_cursor = page_of(frame, TRACE_CLAIMANTS, limit, cursor)
    return results.rows(page, ("received", "held")), next_cursor


def source_rows(
    result: TraceResult, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Per seed and origin: the amount, largest first."""
    page, next_cursor = page_of(_frame(result, Frame.SOURCES), TRACE_SOURCES, limit, cursor)
    return results.rows(page, ("amount",)), next_cursor


def claimant_holdings(result: TraceResult) -> dict[str, list[tuple[str | None, Decimal]]]:
    """What each account holds per claimant: ``{account: [(claimant, held)]}``.

    For proposals to read: every account holding taint, each claimant's share of it (claimant
    None: unattributed taint), in the account's currency; the shares sum exactly to the
    account's held taint. Empty when the trace's seeds name no claimant. An account key held
    in several currencies lists the shares of each.
    """
    if Frame.CLAIMANTS not in frames_of(result.provenance.params):
        return {}
    frame = result.claimants.filter(pl.col("held") > 0)
    out: dict[str, list[tuple[str | None, Decimal]]] = {}
    for account, claimant, held in frame.select("account", "claimant", "held").iter_rows():
        out.setdefault(account, []).append((claimant, held))
    return out
