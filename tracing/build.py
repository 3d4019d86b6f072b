"""Assemble a :class:`~tracing.result.TraceResult` from the search and replay arrays."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from tracing.attribution import Attribution, Events
from tracing.claimants import Shares, claimants_frame, claimants_summary
from tracing.columns import bools, cast, frame, ints, nullable, nulls, take, texts
from tracing.errors import ConservationError
from tracing.graph import Reach
from tracing.index import I64, contains
from tracing.ledger import Ledger
from tracing.order import Order
from tracing.params import Direction, Rule, TraceParams
from tracing.replay import EXIT_REASONS, HIGH_DEGREE, OVERDRAFT, STOPPED
from tracing.result import Frame, Provenance, TraceResult
from tracing.schema import (
    ACCOUNT,
    CURRENCY,
    FROM_ACCOUNT,
    SEQUENCE,
    TIME_DTYPE,
    TO_ACCOUNT,
    format_minor,
)
from tracing.searched import Searched
from tracing.sources import Sources, sources_frame

ROLES = {-1: "reached", STOPPED: "stopped", HIGH_DEGREE: "high_degree"}
_ROLE_LABELS = pl.Series("role", ["seed", "reached", "stopped", "high_degree"], pl.String)
_ROLE_AT = np.zeros(max(STOPPED, HIGH_DEGREE) + 3, np.int64)  # reason + 2 -> label (-2: seed)
_ROLE_AT[[0, 1, STOPPED + 2, HIGH_DEGREE + 2]] = range(4)
# Frames up to this many rows are sorted in Python, not by a Polars query.
SMALL_ROWS = 4096


def _order(by: list[pl.Series]) -> I64:
    """Return the row order that sorts a small frame by ``by`` (unique together), in Python."""
    # Python compares str by code point, which is UTF-8 byte order: Polars' order of strings.
    if len(by) == 1:
        keys: list[Any] = by[0].to_list()
    else:
        keys = list(zip(*(c.to_list() for c in by), strict=True))
    return np.array(sorted(range(len(keys)), key=keys.__getitem__), np.int64)


def _sorted(table: pl.DataFrame, by: tuple[str, ...]) -> pl.DataFrame:
    """``table.sort(*by)`` for frames whose keys are unique; small ones without a query."""
    if table.height > SMALL_ROWS:
        return table.sort(*by)
    order = _order([table.get_column(name) for name in by])
    # column by column: the frame's own gather runs on the thread pool
    return frame([take(column, order) for column in table.get_columns()])


class Money:
    """Converts integer minor units of the ledger's currencies to one Decimal dtype."""

    def __init__(self, ledger: Ledger) -> None:
        self.codes = list(ledger.currencies)
        self.places = [ledger.decimals[c] for c in self.codes]
        self.scale = max(self.places, default=2)
        self.dtype = pl.Decimal(38, self.scale)
        self.code_column = texts(CURRENCY, self.codes)

    def columns(self, minor: dict[str, I64], currency: I64) -> list[pl.Series]:
        """Decimal amount columns from minor units sharing ``currency`` (indices).

        Series arithmetic runs directly where a select, like most Series methods, runs a query
        on Polars' thread pool: a fixed cost that made up most of a small result's frames.
        """
        factor = np.array([10**p for p in self.places], np.int64)[currency]
        divisor = cast(ints("", factor), pl.Decimal(38, 0))
        return [
            cast(cast(ints(name, values), self.dtype) / divisor, self.dtype)
            for name, values in minor.items()
        ]

    def texts(self, minor: I64, currency: I64) -> list[str]:
        """:func:`~tracing.schema.format_minor` of each amount (``currency`` as indices)."""
        places = self.places
        return [
            format_minor(value, places[c])
            for value, c in zip(minor.tolist(), currency.tolist(), strict=True)
        ]

    def text(self, minor: int, code: str) -> str:
        """Exact decimal string of ``minor`` units of ``code``."""
        return format_minor(minor, self.places[self.codes.index(code)])


def _times(us: I64) -> pl.Series:
    return cast(ints("", us), TIME_DTYPE)


def _traced(events: Events | None, att: Attribution | None, ledger: Ledger, txs: I64) -> I64 | None:
    """Taint carried by each trail transaction; a seed transaction carries its whole amount."""
    if events is None or att is None:
        return None
    slots = events.slots_of(txs)
    # carried[] holds every replayed withdrawal; a trail transaction up to the replay end is
    # one (its payer is expanded, hence replayed)
    touched = (slots >= 0) & (ledger.time[txs] <= events.end)
    if len(att.carried) == 0:
        touched = np.zeros(len(txs), np.bool_)
    value = np.where(touched, att.carried[np.maximum(slots, 0)], 0) if touched.any() else 0 * txs
    return np.where(contains(events.seed_tx, txs), ledger.amount[txs], value)


@dataclass(frozen=True, slots=True)
class Extra:
    """What only some traces have: claimants' shares, a backward value trace's sources."""

    shares: Shares | None = None
    sources: Sources | None = None


@dataclass(frozen=True, slots=True)
class _Parts:
    """Everything the frames are built from; frames are built only when asked for."""

    ledger: Ledger
    order: Order
    params: TraceParams
    seeds: Any
    reach: Reach
    sink_reason: I64  # aligned with reach.nodes
    events: Events | None
    att: Attribution | None
    extra: Extra

    def frame(self, name: Frame) -> pl.DataFrame:
        """Build the frame ``name``."""
        money = Money(self.ledger)
        nodes = self.reach.nodes
        if name is Frame.CLAIMANTS and self.extra.shares is not None:
            accounts = take(self.ledger.account_keys, self.ledger.node_account[nodes])
            currencies = take(money.code_column, self.ledger.node_currency[nodes])
            return claimants_frame(self.extra.shares, accounts.rename(ACCOUNT), currencies, money)
        if name is Frame.SOURCES and self.extra.sources is not None:
            return sources_frame(self.ledger, self.seeds, self.extra.sources, money)
        if name in (Frame.FLOWS, Frame.RANKS):
            trail = _trail(self.ledger, self.reach, self.events, self.att)
            if name is Frame.FLOWS:
                return _flows(self.ledger, trail, money)
            return _ranks(self.ledger, self.order, trail)
        if name is Frame.ACCOUNTS:
            return _accounts(self, money)
        if name is Frame.EXITS:
            return _exits(self.ledger, self.events, self.att, money)
        if name is Frame.FLAGS:
            return _flags(self.ledger, self.sink_reason, self.att, nodes, money)
        if name is Frame.SEEDS:
            seeds = self.seeds
            names = ("node", "arrival", "tx")
            return frame(
                [
                    ints(n, v)
                    for n, v in zip(names, (seeds.nodes, seeds.arrival, seeds.tx), strict=True)
                ]
            )
        raise KeyError(f"no frame {name!r}")


def build_result(
    searched: Searched,
    events: Events | None,
    att: Attribution | None,
    provenance: Provenance,
    extra: Extra | None = None,
) -> TraceResult:
    """Build the result: summary now (it checks conservation per currency), frames later."""
    ledger, seeds = searched.ledger, searched.seeds
    extra = extra or Extra()
    summary = _summary(ledger, searched.params, searched.reach, att, events, seeds)
    money = Money(ledger)
    if extra.shares is not None:
        summary["claimants"] = claimants_summary(extra.shares, money)
    if extra.sources is not None:
        summary.update(_sources_summary(ledger, seeds, extra.sources, money))
    parts = _Parts(*searched, events, att, extra)
    return TraceResult(summary, provenance, parts, decimals=ledger.decimals)


def _sources_summary(ledger: Ledger, seeds: Any, sources: Sources, money: Money) -> dict[str, Any]:
    """Per currency the seeds' amount and what their sources sum to (the same, checked)."""
    totals = np.zeros((2, len(money.codes)), np.int64)
    np.add.at(totals[0], ledger.node_currency[seeds.nodes], sources.seeded)
    np.add.at(totals[1], ledger.node_currency[sources.node], sources.amount)
    used = sorted(np.flatnonzero(totals.any(axis=0)), key=lambda c: money.codes[c])
    return {
        "measure": "sources",
        "conserved": True,
        "events_replayed": sources.events,
        "currencies": {
            money.codes[c]: {
                "seeded": money.text(int(totals[0, c]), money.codes[c]),
                "sourced": money.text(int(totals[1, c]), money.codes[c]),
            }
            for c in used
        },
    }


@dataclass(frozen=True, slots=True)
class _Trail:
    """The trail in ledger order: transactions, their hop and traced taint (None for reach)."""

    txs: I64
    hops: I64
    traced: I64 | None


def _trail(ledger: Ledger, reach: Reach, events: Events | None, att: Attribution | None) -> _Trail:
    by_pos = np.argsort(reach.trail_tx, kind="stable")
    txs = reach.trail_tx[by_pos].astype(np.int64)  # the search keeps them narrow
    hops = reach.trail_hop[by_pos].astype(np.int64)
    return _Trail(txs, hops, _traced(events, att, ledger, txs))


def _flows(ledger: Ledger, trail: _Trail, money: Money) -> pl.DataFrame:
    txs, traced = trail.txs, trail.traced
    src, dst = ledger.src[txs], ledger.dst[txs]
    cur = ledger.node_currency[src]
    minor = {"amount": ledger.amount[txs]} | ({} if traced is None else {"traced": traced})
    amount, *traced_column = money.columns(minor, cur)
    return frame(
        [
            take(ledger.external_ids, txs),
            take(ledger.account_keys, ledger.node_account[src]).rename(FROM_ACCOUNT),
            take(ledger.account_keys, ledger.node_account[dst]).rename(TO_ACCOUNT),
            take(money.code_column, cur),
            amount,
            _times(ledger.time[txs]).rename("value_time"),
            ints(SEQUENCE, ledger.seq[txs]),
            ints("hop", trail.hops),
            *(traced_column or [nulls("traced", len(txs), money.dtype)]),
        ]
    )


def _ranks(ledger: Ledger, order: Order, trail: _Trail) -> pl.DataFrame:
    # What explain() needs, as plain integers: the service stores it beside every result, so
    # it is built without the flows frame's string gathers and decimal conversions.
    txs = trail.txs
    strength = trail.traced if trail.traced is not None else ledger.amount[txs]
    return frame(
        [
            ints("tx", txs),
            ints("src", ledger.src[txs]),
            ints("dst", ledger.dst[txs]),
            ints("hop", trail.hops),
            ints("strength", strength),
            ints("wd_rank", order.wd_rank[txs]),
            ints("dep_rank", order.dep_rank[txs]),
        ]
    )


def _accounts(parts: _Parts, money: Money) -> pl.DataFrame:
    ledger, params, seeds, reach = parts.ledger, parts.params, parts.seeds, parts.reach
    sink_reason, events, att = parts.sink_reason, parts.events, parts.att
    # nodes is reach.nodes: the per-node arrays of reach and sink_reason are aligned with it
    nodes = reach.nodes
    cur = ledger.node_currency[nodes]
    arrival_tx = reach.arrival_tx
    seed_time: dict[int, int] = {}
    forward = params.direction is Direction.FORWARD
    for node, t, tx in zip(
        seeds.nodes.tolist(), seeds.times.tolist(), seeds.tx.tolist(), strict=True
    ):
        if tx < 0 and t >= 0:
            old = seed_time.get(node, -1)
            seed_time[node] = t if old < 0 else (min(old, t) if forward else max(old, t))
    at_seed = np.array([seed_time.get(n, -1) for n in nodes.tolist()], np.int64)
    when = np.where(arrival_tx >= 0, ledger.time[np.maximum(arrival_tx, 0)], at_seed)
    reason = np.where(contains(np.sort(seeds.nodes), nodes), -2, sink_reason)
    key = take(ledger.account_keys, ledger.node_account[nodes]).rename(ACCOUNT)
    code = take(money.code_column, cur)
    # A small frame is sorted as the arrays, before the columns are built: one gather of the
    # keys, not of each column. With one currency, the accounts alone order the rows.
    small = len(nodes) <= SMALL_ROWS
    order = np.arange(len(nodes))
    if small:
        order = _order([key] if len(cur) == 0 or (cur == cur[0]).all() else [key, code])
    # Nulls put in before the gather: the gather writes the validity bitmap's padding bits as
    # zeros, which the IPC bytes of stored results carry.
    reached = nullable(_times(when), when < 0).rename("reached_at")
    columns = [
        take(key, order),
        take(code, order),
        ints("hops", reach.hops[order]),
        take(reached, order) if small else reached,
        take(_ROLE_LABELS, _ROLE_AT[reason[order] + 2]),
    ]
    names = ("received", "passed_on", "exited", "held", "opening_balance")
    if att is None or events is None:
        columns += [nulls(n, len(nodes), money.dtype) for n in names]
        columns.append(nulls("opening_inferred", len(nodes), pl.Boolean()))
    else:
        # att's per-node arrays are aligned with nodes too; its exits name ledger nodes
        exited = np.zeros(len(nodes), np.int64)
        received = att.received.copy()
        ex = att.exits
        np.add.at(exited, np.searchsorted(nodes, ex[:, 1]), ex[:, 3])
        # passed_on is what went on to accounts inside the traced universe: the taint of every
        # withdrawal less the part that left it (an overdraft's repayment was never withdrawn).
        passed_on = att.passed.copy()
        spent = ex[ex[:, 2] != OVERDRAFT]
        np.subtract.at(passed_on, np.searchsorted(nodes, spent[:, 1]), spent[:, 3])
        into_sink = ex[(ex[:, 2] == STOPPED) | (ex[:, 2] == HIGH_DEGREE)]
        if len(into_sink):
            # A stopped or high-degree account (reached) is where that taint was last seen.
            sinks = np.searchsorted(nodes, ledger.dst[into_sink[:, 0]])
            np.add.at(received, sinks, into_sink[:, 3])
        amounts = (received, passed_on, exited, att.held, att.opening)
        columns += money.columns(
            {n: a[order] for n, a in zip(names, amounts, strict=True)}, cur[order]
        )
        columns.append(bools("opening_inferred", att.inferred[order]))
    # a large one by a query, which also marks the account column sorted (as stored results are)
    return frame(columns) if small else frame(columns).sort(ACCOUNT, CURRENCY)


def _exits(
    ledger: Ledger, events: Events | None, att: Attribution | None, money: Money
) -> pl.DataFrame:
    ex = att.exits if att is not None else np.empty((0, 4), np.int64)
    # Transaction -1: a seed placed on an overdrawn account repaid the bank.
    txs = ex[:, 0]
    order = np.lexsort((ex[:, 3], ex[:, 2], ex[:, 1], txs))
    ex, txs = ex[order], txs[order]
    node, cur, known = ex[:, 1], ledger.node_currency[ex[:, 1]], np.maximum(txs, 0)
    to = np.where((ex[:, 2] == OVERDRAFT) | (txs < 0), -1, ledger.dst[known])
    return frame(
        [
            nullable(take(ledger.external_ids, known), txs < 0),
            take(ledger.account_keys, ledger.node_account[node]).rename(FROM_ACCOUNT),
            nullable(
                take(ledger.account_keys, ledger.node_account[np.maximum(to, 0)]), to < 0
            ).rename(TO_ACCOUNT),
            take(money.code_column, cur),
            nullable(_times(ledger.time[known]), txs < 0).rename("value_time"),
            *money.columns({"traced": ex[:, 3]}, cur),
            texts("reason", [EXIT_REASONS[r] for r in ex[:, 2].tolist()]),
        ]
    )


def _flags(
    ledger: Ledger,
    sink_reason: I64,
    att: Attribution | None,
    nodes: I64,
    money: Money,
) -> pl.DataFrame:
    sinks = sink_reason >= 0  # aligned with nodes
    ids = [nodes[sinks]]
    flag = [ROLES[why] + "_account" for why in sink_reason[sinks].tolist()]
    detail = ["reported, not expanded"] * len(flag)
    if att is not None:
        inferred, overdrawn = nodes[att.inferred], nodes[att.overdrawn]
        amounts = money.texts(att.opening[att.inferred], ledger.node_currency[inferred])
        ids += [inferred, overdrawn]
        flag += ["opening_balance_inferred"] * len(inferred) + ["overdrawn"] * len(overdrawn)
        detail += [f"missing statements or unexplained funds: {a} assumed clean" for a in amounts]
        detail += ["balance went below zero despite the given opening balance"] * len(overdrawn)
    node = np.concatenate(ids).astype(np.int64)
    table = frame(
        [
            take(ledger.account_keys, ledger.node_account[node]).rename(ACCOUNT),
            take(money.code_column, ledger.node_currency[node]),
            texts("flag", flag),
            texts("detail", detail),
        ]
    )
    return _sorted(table, (ACCOUNT, CURRENCY, "flag"))


def _summary(
    ledger: Ledger,
    params: TraceParams,
    reach: Reach,
    att: Attribution | None,
    events: Events | None,
    seeds: Any,
) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "rule": str(params.rule),
        "direction": str(params.direction),
        "same_day_policy": str(params.same_day_policy),
        "accounts_reached": len(reach.nodes),
        "transactions_followed": len(reach.trail_tx),
        "max_hop": int(reach.trail_hop.max(initial=0)),
        "measure": None if att is None else ("exposure" if params.rule is Rule.POISON else "value"),
        "conserved": None,
        "events_replayed": 0 if att is None else att.events,
        "currencies": {},
    }
    if att is None or events is None:
        return summary
    money = Money(ledger)
    n_cur = len(money.codes)
    cur = ledger.node_currency
    seed_tx = events.seed_tx
    totals = np.zeros((3, n_cur), np.int64)  # integer sums: exact to the unit
    np.add.at(totals[0], cur[seeds.placements.node], seeds.placements.amount)
    np.add.at(totals[0], ledger.tx_currency[seed_tx], ledger.amount[seed_tx])
    np.add.at(totals[1], cur[reach.nodes], att.held)
    np.add.at(totals[2], cur[att.exits[:, 1]], att.exits[:, 3])
    used = np.flatnonzero(totals.any(axis=0))
    if params.rule is not Rule.POISON:
        if (totals[0] != totals[1] + totals[2]).any():
            raise ConservationError(f"per-currency totals do not balance: {totals.tolist()}")
        summary["conserved"] = True
    summary["currencies"] = {
        money.codes[c]: {
            key: money.text(int(totals[i, c]), money.codes[c])
            for i, key in enumerate(("seeded", "held", "exited"))
        }
        for c in sorted(used, key=lambda c: money.codes[c])
    }
    return summary
