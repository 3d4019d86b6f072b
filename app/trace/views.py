"""Reading a finished trace: accounts, flows, holdings, exits, paths, CSV."""

from collections import Counter
from decimal import Decimal
from typing import Any

import polars as pl

from app.errors import InvalidInput
from app.money import currency_decimals
from app.pagination import CursorCodec, Position, page_slice
from app.trace import results
from app.trace.roles import names_by_key as role_names
from tracing import TraceResult, explain, text_columns

ACCOUNT_SORTS = {
    "received": [pl.col("received").fill_null(Decimal(0)), True],
    "held": [pl.col("held").fill_null(Decimal(0)), True],
    "hop": [pl.col("hops"), False],
}
_ACCOUNT_AMOUNTS = ("received", "passed_on", "exited", "held", "opening_balance")


# A trace's lists are computed whole from its stored result: their cursors are positions.
TRACE_ACCOUNTS = CursorCodec("trace_accounts", Position)
TRACE_HOLDINGS = CursorCodec("trace_holdings", Position)
TRACE_FLOWS = CursorCodec("trace_flows", Position)
TRACE_EXITS = CursorCodec("trace_exits", Position)
TRACE_FLAGS = CursorCodec("trace_flags", Position)
TRACE_ROLES = CursorCodec("trace_roles", Position)


def page_of(
    frame: pl.DataFrame, codec: CursorCodec[Position], limit: int, cursor: str | None
) -> tuple[pl.DataFrame, str | None]:
    rows, next_cursor = page_slice(frame.height, codec, limit=limit, cursor=cursor)
    return frame[rows], next_cursor


def accounts_frame(result: TraceResult, *, sort: str, holdings_only: bool = False) -> pl.DataFrame:
    if sort not in ACCOUNT_SORTS:
        raise InvalidInput(f"sort must be one of {', '.join(ACCOUNT_SORTS)}", field="sort")
    frame = result.accounts
    if holdings_only:
        frame = frame.filter(pl.col("held").fill_null(Decimal(0)) > 0)
    key, descending = ACCOUNT_SORTS[sort]
    # Ties break on the account key, so pages are stable and reproducible.
    return frame.sort([key, "account", "currency"], descending=[bool(descending), False, False])


def account_rows(
    result: TraceResult,
    *,
    sort: str,
    limit: int,
    cursor: str | None,
    holders: dict[str, str],
    roles: list[dict[str, Any]],
    holdings_only: bool = False,
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the reached accounts; `roles` are the trace's (`service.trace_roles`)."""
    page, next_cursor = page_of(
        accounts_frame(result, sort=sort, holdings_only=holdings_only),
        TRACE_HOLDINGS if holdings_only else TRACE_ACCOUNTS,
        limit,
        cursor,
    )
    rows = results.rows(page, _ACCOUNT_AMOUNTS)
    names = role_names(roles)
    return [
        {
            **r,
            "hop": r["hops"],
            "first_reached": r["reached_at"],
            "holder": holders.get(r["account"]),
            "roles": names.get((r["account"], r["currency"]), []),
        }
        for r in rows
    ], next_cursor


def role_rows(
    roles: list[dict[str, Any]],
    *,
    role: str | None,
    account: str | None,
    limit: int,
    cursor: str | None,
    holders: dict[str, str],
) -> tuple[list[dict[str, Any]], str | None]:
    """Each reached (account, currency) with the roles it plays and their figures, of the
    trace's `roles` (`service.trace_roles`)."""
    items = [
        r
        for r in roles
        if (account is None or r["account"] == account)
        and (role is None or any(e["role"] == role for e in r["roles"]))
    ]
    span, next_cursor = page_slice(len(items), TRACE_ROLES, limit=limit, cursor=cursor)
    page = items[span]
    return [{**i, "holder": holders.get(i["account"])} for i in page], next_cursor


def _flow(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "transaction": row["external_id"], "traced_amount": row["traced"]}


def flow_rows(
    result: TraceResult, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    frame = result.flows.sort("hop", "value_time", "sequence", "external_id")
    page, next_cursor = page_of(frame, TRACE_FLOWS, limit, cursor)
    return [_flow(r) for r in results.rows(page, ("amount", "traced"))], next_cursor


def exit_rows(
    result: TraceResult, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    frame = result.exits.sort("value_time", "external_id")
    page, next_cursor = page_of(frame, TRACE_EXITS, limit, cursor)
    return [_flow(r) for r in results.rows(page, ("traced",))], next_cursor


def flag_rows(
    result: TraceResult,
    *,
    kind: str | None,
    account: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    frame = result.flags
    if kind is not None:
        frame = frame.filter(pl.col("flag") == kind)
    if account is not None:
        frame = frame.filter(pl.col("account") == account)
    page, next_cursor = page_of(
        frame.sort("account", "currency", "flag"), TRACE_FLAGS, limit, cursor
    )
    return [{**r, "kind": r["flag"]} for r in page.to_dicts()], next_cursor


def flag_counts(flags: pl.DataFrame) -> dict[str, int]:
    return {str(kind): n for kind, n in _counts(flags["flag"]).items()}


def hop_counts(accounts: pl.DataFrame) -> dict[str, int]:
    """How many accounts each hop reached, by hop, as the summary's `accounts_per_hop`."""
    return {str(hop): n for hop, n in _counts(accounts["hops"]).items()}


# Up to this many values a Counter beats a Polars query, which waits for the thread pool.
_COUNT_IN_PYTHON = 5_000


def _counts(values: pl.Series) -> dict[Any, int]:
    """Each value's count, in ascending order of value (as value_counts().sort())."""
    if values.len() <= _COUNT_IN_PYTHON and not values.null_count():
        return dict(sorted(Counter(values.to_list()).items()))
    counts = values.value_counts().sort(values.name)
    return {value: int(n) for value, n in counts.iter_rows()}


def explained_paths(
    result: TraceResult, *, to: str, currency: str | None, k: int
) -> list[dict[str, Any]]:
    frame = explain(result, to=to, currency=currency, k=k)
    paths: list[dict[str, Any]] = []
    for (path,), steps in frame.sort("path", "step").group_by(["path"], maintain_order=True):
        rows = [_flow(r) for r in results.rows(steps, ("amount", "traced"))]
        strength = results.money(steps["strength"][0], rows[0]["currency"])
        paths.append({"path": path, "strength": strength, "hops": len(rows), "steps": rows})
    return paths


def csv_of(frame: pl.DataFrame) -> str:
    # Amounts and times as result.json and the JSON API write them.
    return text_columns(frame, currency_decimals()).write_csv()


def chart_title(run: Any) -> str:
    summary = run.summary or {}
    params = run.params or {}
    figures = ""
    if summary.get("taint_in") is not None:
        figures = (
            f" · traced {summary['taint_in']} {summary['currency']} · held "
            f"{summary['held']} · exited {summary['exited']}"
        )
    return (
        f"Trace {run.id[:8]} · {params.get('rule', '').upper()} · "
        f"{params.get('direction', '')} · {summary.get('accounts_reached', 0)} accounts"
        f"{figures}"
    )
