"""Roles in the network, read off a finished trace (DESIGN §3b): who passed the taint on (a
money mule), who gathered or scattered it, who brokered most of it, where it settled, where it
left. Each role comes with the figures that earned it; the thresholds are trace parameters.

Value roles (pass_through, broker, sink) need an attribution rule: a `reach` trace measures no
value, so it gets only the structural roles (collector, distributor, hub, exit).

The median dwell time of the taint at an account is derived from the transaction times on the
trail, since the result keeps no per-unit times: the taint that arrived (tainted deposits in
time order, a seed's amount at the seed time) is matched first-in first-out with the taint that
left (tainted withdrawals and exits in time order), and the median is taken over the units of
taint that left, each unit dwelling from its deposit to its withdrawal. It is the same for
every rule and reads the result only.
"""

from decimal import Decimal
from typing import Any

import polars as pl

from app.trace.schemas import RoleThresholds
from tracing import TraceResult

GROUP = ["account", "currency"]
# Exits that are a cut-off of the trace at this account (the far end is not reached).
CUT_OFF = ("hop_limit", "below_min_amount", "outside_window")
NOT_SENT = "overdraft_repaid"  # absorbed by the bank, never paid on
ROLE_NAMES = ("pass_through", "collector", "distributor", "hub", "broker", "sink", "exit")
_HOUR_US = 3_600_000_000
_RATIO = Decimal("0.0001")


def _minor(column: str, scale: int) -> pl.Expr:
    # Exact: the decimal times 10^scale is a whole number of the column's smallest unit.
    factor = int(10**scale)
    return (pl.col(column) * factor).cast(pl.Int64)


def _scale(frame: pl.DataFrame, column: str) -> int:
    dtype = frame.schema[column]
    return dtype.scale or 0 if isinstance(dtype, pl.Decimal) else 0


def _inflows(result: TraceResult, scale: int) -> pl.DataFrame:
    """Taint arriving per account: tainted deposits, and a seed's amount at the seed time."""
    flows = result.flows.filter(pl.col("traced") > 0).select(
        pl.col("to_account").alias("account"),
        "currency",
        pl.col("value_time").alias("at"),
        _minor("traced", scale).alias("units"),
    )
    arrived = flows.group_by(GROUP).agg(pl.col("units").sum().alias("_in"))
    first = result.flows.select(
        pl.col("from_account").alias("account"), "currency", pl.col("value_time")
    ).vstack(result.flows.select(pl.col("to_account").alias("account"), "currency", "value_time"))
    first = first.group_by(GROUP).agg(pl.col("value_time").min().alias("_first"))
    seeded = (
        result.accounts.filter(pl.col("received") > 0)
        .select(*GROUP, "reached_at", _minor("received", scale).alias("_received"))
        .join(arrived, on=GROUP, how="left")
        .join(first, on=GROUP, how="left")
        .select(
            *GROUP,
            # A seed without a time arrived at the window start: before the account's first
            # movement on the trail.
            pl.coalesce("reached_at", "_first").alias("at"),
            (pl.col("_received") - pl.col("_in").fill_null(0)).alias("units"),
        )
        .filter((pl.col("units") > 0) & pl.col("at").is_not_null())
    )
    return pl.concat([flows, seeded.cast(flows.schema)])


def _outflows(result: TraceResult, scale: int) -> pl.DataFrame:
    """Taint leaving per account: tainted withdrawals on the trail and exits beyond it."""

    def paid(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.select(
            pl.col("from_account").alias("account"),
            "currency",
            "external_id",
            pl.col("value_time").alias("at"),
            _minor("traced", scale).alias("units"),
            pl.col("to_account").alias("to"),
        )

    flows = paid(result.flows.filter(pl.col("traced") > 0))
    exits = paid(
        result.exits.filter(
            (pl.col("traced") > 0)
            & (pl.col("reason") != NOT_SENT)
            & pl.col("external_id").is_not_null()
        )
    )
    beyond = exits.join(flows.select(*GROUP, "external_id"), on=[*GROUP, "external_id"], how="anti")
    return pl.concat([flows, beyond.cast(flows.schema)])


def _dwell(inflows: pl.DataFrame, outflows: pl.DataFrame) -> pl.DataFrame:
    """Median dwell (µs) per account of the taint that left it, FIFO-matched (module doc)."""
    order = [*GROUP, "at"]
    ins = inflows.sort(order).with_columns(pl.col("units").cum_sum().over(GROUP).alias("cum"))
    outs = outflows.sort(order).with_columns(pl.col("units").cum_sum().over(GROUP).alias("cum"))
    limit = (
        ins.group_by(GROUP)
        .agg(pl.col("cum").max().alias("_in"))
        .join(outs.group_by(GROUP).agg(pl.col("cum").max().alias("_out")), on=GROUP)
        .select(*GROUP, pl.min_horizontal("_in", "_out").alias("limit"))
    )
    points = pl.concat(
        [
            ins.select(
                *GROUP,
                "cum",
                pl.col("at").alias("t_in"),
                pl.lit(None, ins["at"].dtype).alias("t_out"),
            ),
            outs.select(
                *GROUP,
                "cum",
                pl.lit(None, outs["at"].dtype).alias("t_in"),
                pl.col("at").alias("t_out"),
            ),
        ]
    ).join(limit, on=GROUP)
    # Each breakpoint of either cumulative sum ends a segment of taint that one deposit brought
    # and one withdrawal took: the next deposit and withdrawal at or after it on the axis.
    segments = (
        points.sort([*GROUP, "cum"])
        .with_columns(
            pl.col("t_in").backward_fill().over(GROUP),
            pl.col("t_out").backward_fill().over(GROUP),
            (pl.col("cum") - pl.col("cum").shift(1).over(GROUP).fill_null(0)).alias("weight"),
        )
        .filter(
            (pl.col("cum") <= pl.col("limit"))
            & (pl.col("weight") > 0)
            & pl.col("t_in").is_not_null()
            & pl.col("t_out").is_not_null()
        )
        .with_columns(
            (pl.col("t_out") - pl.col("t_in")).dt.total_microseconds().clip(0).alias("dwell")
        )
    )
    return (
        segments.sort([*GROUP, "dwell"])
        .with_columns(
            pl.col("weight").cum_sum().over(GROUP).alias("_cw"),
            pl.col("weight").sum().over(GROUP).alias("_tw"),
        )
        .filter(pl.col("_cw") * 2 >= pl.col("_tw"))
        .group_by(GROUP)
        .agg(pl.col("dwell").first().alias("dwell_us"))
    )


def _counterparties(result: TraceResult, outflows: pl.DataFrame | None) -> pl.DataFrame:
    """Distinct accounts each account got taint from and paid it to."""
    carried = result.flows
    if outflows is not None:  # value rules: only transactions that carried taint count
        carried = carried.filter(pl.col("traced") > 0)
        paid = outflows.select(*GROUP, "to")
    else:
        paid = carried.select(
            pl.col("from_account").alias("account"), "currency", pl.col("to_account").alias("to")
        )
    senders = (
        carried.filter(pl.col("from_account") != pl.col("to_account"))
        .group_by(pl.col("to_account").alias("account"), "currency")
        .agg(pl.col("from_account").n_unique().alias("senders"))
    )
    receivers = (
        paid.filter(pl.col("to").is_not_null() & (pl.col("to") != pl.col("account")))
        .group_by(GROUP)
        .agg(pl.col("to").n_unique().alias("receivers"))
    )
    return senders.join(receivers, on=GROUP, how="full", coalesce=True)


def metrics(result: TraceResult) -> pl.DataFrame:
    """Per reached (account, currency): what the roles are decided on."""
    accounts = result.accounts
    valued = accounts["received"].null_count() < accounts.height
    frame = accounts.select(*GROUP, "role", "received", "passed_on", "exited", "held")
    if valued:
        scale = _scale(accounts, "received")
        inflows, outflows = _inflows(result, scale), _outflows(result, scale)
        frame = frame.join(_dwell(inflows, outflows), on=GROUP, how="left")
        absorbed = (
            result.exits.filter(pl.col("reason") == NOT_SENT)
            .group_by(pl.col("from_account").alias("account"), "currency")
            .agg(pl.col("traced").sum().alias("_absorbed"))
        )
        frame = frame.join(absorbed, on=GROUP, how="left")
        counterparties = _counterparties(result, outflows)
    else:
        frame = frame.with_columns(
            pl.lit(None, pl.Int64).alias("dwell_us"), pl.lit(None).alias("_absorbed")
        )
        counterparties = _counterparties(result, None)
    cut = (
        result.exits.filter(pl.col("reason").is_in(CUT_OFF))
        .group_by(pl.col("from_account").alias("account"), "currency")
        .agg(
            pl.col("traced").sum().alias("cut_off"),
            pl.col("reason").unique().sort().alias("cut_reasons"),
        )
    )
    return (
        frame.join(counterparties, on=GROUP, how="left")
        .join(cut, on=GROUP, how="left")
        .with_columns(pl.col("senders", "receivers").fill_null(0))
        .sort(GROUP)
    )


def _zero(value: Decimal | None) -> Decimal:
    return Decimal(0) if value is None else value


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def _ratio(part: Decimal, whole: Decimal) -> Decimal:
    return (part / whole).quantize(_RATIO) if whole else Decimal(0)


def _hours(us: int) -> Decimal:
    return (Decimal(us) / _HOUR_US).quantize(Decimal("0.01"))


def _value_roles(
    row: dict[str, Any], total: Decimal | None, t: RoleThresholds, amount: Any
) -> list[dict[str, Any]]:
    received: Decimal | None = row["received"]
    if received is None or received <= 0:
        return []
    held = _zero(row["held"])
    sent = _zero(row["passed_on"]) + _zero(row["exited"]) - _zero(row["_absorbed"])
    passed, kept = sent / received, held / received
    out = []
    dwell = row["dwell_us"]
    if (
        passed >= t.pass_through_min_passed
        and kept <= t.pass_through_max_held
        and dwell is not None
        and _hours(dwell) <= t.pass_through_max_dwell_hours
    ):
        out.append(
            {
                "role": "pass_through",
                "figures": {
                    "received": amount(received),
                    "passed_on": amount(sent),
                    "passed_on_share": _text(_ratio(sent, received)),
                    "held": amount(held),
                    "held_share": _text(_ratio(held, received)),
                    "median_dwell_hours": _text(_hours(dwell)),
                },
            }
        )
    if total and row["role"] != "seed" and sent / total >= t.broker_min_share:
        figures = {"passed_on": amount(sent), **_of_traced(sent, total, amount)}
        out.append({"role": "broker", "figures": figures})
    if total and kept >= t.sink_min_held and held / total >= t.sink_min_share:
        figures = {
            "received": amount(received),
            "held": amount(held),
            "held_share": _text(_ratio(held, received)),
            **_of_traced(held, total, amount),
        }
        out.append({"role": "sink", "figures": figures})
    return out


def _of_traced(part: Decimal, total: Decimal, amount: Any) -> dict[str, Any]:
    """The figures of a role that holds or passes on a share of all that was traced."""
    return {"traced_total": amount(total), "share_of_traced": _text(_ratio(part, total))}


def _structure_roles(row: dict[str, Any], t: RoleThresholds, amount: Any) -> list[dict[str, Any]]:
    out = []
    collector = row["senders"] >= t.collector_min_senders
    distributor = row["receivers"] >= t.distributor_min_receivers
    if collector:
        out.append({"role": "collector", "figures": {"senders": row["senders"]}})
    if distributor:
        out.append({"role": "distributor", "figures": {"receivers": row["receivers"]}})
    if collector and distributor:
        out.append(
            {"role": "hub", "figures": {"senders": row["senders"], "receivers": row["receivers"]}}
        )
    # A stopped account that no taint reached (under libr, say) is no exit of it.
    unreached = row["received"] is not None and row["received"] <= 0
    if row["role"] in ("stopped", "high_degree") and not unreached:
        figures: dict[str, Any] = {"reason": f"{row['role']}_account"}
        if row["received"] is not None:
            figures["received"] = amount(row["received"])
        out.append({"role": "exit", "figures": figures})
    elif row["cut_off"] is not None and row["cut_off"] > 0:
        out.append(
            {
                "role": "exit",
                "figures": {"exited": amount(row["cut_off"]), "reasons": row["cut_reasons"]},
            }
        )
    return out


def _totals(result: TraceResult) -> dict[str, Decimal]:
    currencies = result.summary.get("currencies") or {}
    return {c: Decimal(f["seeded"]) for c, f in currencies.items() if f.get("seeded")}


def roles_of_rows(
    rows: list[dict[str, Any]], result: TraceResult, thresholds: RoleThresholds, amount: Any
) -> list[list[dict[str, Any]]]:
    """The roles (in :data:`ROLE_NAMES` order) of each row of :func:`metrics`.

    ``amount(value, currency)`` writes an amount (the service's decimal text).
    """
    totals = _totals(result)
    order = {name: i for i, name in enumerate(ROLE_NAMES)}
    out = []
    for row in rows:
        currency = row["currency"]

        def money(value: Decimal, currency: str = currency) -> Any:
            return amount(value, currency)

        found = _value_roles(row, totals.get(currency), thresholds, money)
        found += _structure_roles(row, thresholds, money)
        out.append(sorted(found, key=lambda r: order[r["role"]]))
    return out


def account_roles(
    result: TraceResult, thresholds: RoleThresholds, amount: Any
) -> list[dict[str, Any]]:
    """Each reached (account, currency) of :func:`metrics` with the roles it plays (maybe
    none) and their figures: what the trace runtime caches per (trace, thresholds)."""
    rows = metrics(result).to_dicts()
    found = roles_of_rows(rows, result, thresholds, amount)
    return [
        {"account": r["account"], "currency": r["currency"], "roles": earned}
        for r, earned in zip(rows, found, strict=True)
    ]


def names_by_key(found: list[dict[str, Any]]) -> dict[tuple[str, str], list[str]]:
    """The role names of each (account, currency) of :func:`account_roles` that plays one."""
    return {
        (r["account"], r["currency"]): [e["role"] for e in r["roles"]] for r in found if r["roles"]
    }


def names_by_account(found: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Each account of :func:`account_roles` that plays a role, with its role names (all its
    currencies together). Accounts with no role are left out."""
    merged: dict[str, set[str]] = {}
    for (account, _), names in names_by_key(found).items():
        merged.setdefault(account, set()).update(names)
    order = {name: i for i, name in enumerate(ROLE_NAMES)}
    return {a: sorted(names, key=order.__getitem__) for a, names in sorted(merged.items())}


def roles_by_account(
    result: TraceResult, params: RoleThresholds | None = None
) -> dict[str, list[str]]:
    """:func:`names_by_account` of a result, computed afresh (a service reads the runtime's
    cache instead, ``app.trace.service.trace_roles``). ``params`` are the trace's thresholds,
    the defaults when None."""
    found = account_roles(result, params or RoleThresholds(), lambda value, _: value)
    return names_by_account(found)
