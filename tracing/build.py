"""Assemble a :class:`~tracing.result.TraceResult` from the search and replay arrays."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import polars as pl

from tracing.attribution import (
    DELIVER,
    EXIT_REASONS,
    HIGH_DEGREE,
    OVERDRAFT,
    STOPPED,
    Attribution,
    Events,
)
from tracing.errors import ConservationError
from tracing.graph import Reach
from tracing.index import I64
from tracing.ledger import Ledger
from tracing.order import Order
from tracing.params import Direction, Rule, TraceParams
from tracing.result import Provenance, TraceResult
from tracing.schema import (
    ACCOUNT,
    CURRENCY,
    EXTERNAL_ID,
    FROM_ACCOUNT,
    SEQUENCE,
    TIME_DTYPE,
    TO_ACCOUNT,
)

ROLES = {-1: "reached", STOPPED: "stopped", HIGH_DEGREE: "high_degree"}


class Money:
    """Converts integer minor units of the ledger's currencies to one Decimal dtype."""

    def __init__(self, ledger: Ledger) -> None:
        self.codes = list(ledger.currencies)
        self.places = [ledger.decimals[c] for c in self.codes]
        self.scale = max(self.places, default=2)
        self.dtype = pl.Decimal(38, self.scale)

    def series(self, name: str, minor: I64, currency: I64) -> pl.Series:
        """Decimal amounts from minor units and currency indices."""
        factor = pl.Series([10**p for p in self.places], dtype=pl.Int64).gather(currency)
        value = pl.Series(name, minor, pl.Int64).cast(self.dtype) / factor.cast(pl.Decimal(38, 0))
        return value.cast(self.dtype).rename(name)

    def text(self, minor: int, code: str) -> str:
        """Exact decimal string of ``minor`` units of ``code``."""
        places = self.places[self.codes.index(code)]
        return str(Decimal(minor).scaleb(-places).quantize(Decimal(1).scaleb(-places)))


def _times(us: I64) -> pl.Series:
    return pl.Series(us, dtype=pl.Int64).cast(TIME_DTYPE)


def _slot_of(events: Events | None, txs: I64) -> I64:
    if events is None or len(events.tx) == 0:
        return np.full(len(txs), -1, np.int64)
    at = np.minimum(np.searchsorted(events.tx, txs), len(events.tx) - 1)
    return np.where(events.tx[at] == txs, at, -1)


def _traced(events: Events | None, att: Attribution | None, txs: I64) -> I64 | None:
    """Taint carried by each transaction: delivered, exited, or (seed) its whole amount."""
    if events is None or att is None:
        return None
    per_slot = np.where(events.route == DELIVER, att.carried, 0)
    rows = att.exits[att.exits[:, 2] != OVERDRAFT]
    np.add.at(per_slot, rows[:, 0], rows[:, 3])
    slots = _slot_of(events, txs)
    if len(per_slot) == 0:
        return np.zeros(len(txs), np.int64)
    return np.where(slots >= 0, per_slot[np.maximum(slots, 0)], 0)


def build_result(
    ledger: Ledger,
    order: Order,
    params: TraceParams,
    seeds: Any,
    reach: Reach,
    sink_reason: I64,
    events: Events | None,
    att: Attribution | None,
    provenance: Provenance,
) -> TraceResult:
    """Frames, summary and private explain data of one trace."""
    money = Money(ledger)
    nodes = np.flatnonzero(reach.hops >= 0)
    flows, ranks = _flows(ledger, order, reach, events, att, money)
    accounts = _accounts(ledger, params, seeds, reach, sink_reason, events, att, nodes, money)
    exits = _exits(ledger, events, att, money)
    flags = _flags(ledger, reach, sink_reason, att, nodes, money)
    summary = _summary(ledger, params, reach, att, events, seeds, money, nodes)
    seeds_frame = pl.DataFrame(
        {"node": seeds.nodes, "arrival": seeds.arrival, "tx": seeds.tx},
        schema={"node": pl.Int64, "arrival": pl.Int64, "tx": pl.Int64},
    )
    return TraceResult(accounts, flows, exits, flags, summary, provenance, ranks, seeds_frame)


def _flows(
    ledger: Ledger,
    order: Order,
    reach: Reach,
    events: Events | None,
    att: Attribution | None,
    money: Money,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    by_pos = np.argsort(reach.trail_tx, kind="stable")
    txs, hops = reach.trail_tx[by_pos], reach.trail_hop[by_pos]
    src, dst = ledger.src[txs], ledger.dst[txs]
    cur = ledger.node_currency[src]
    traced = _traced(events, att, txs)
    if traced is not None and events is not None:
        seeded = np.isin(txs, events.tx[events.seed == 1])
        traced = np.where(seeded, ledger.amount[txs], traced)
    frame = pl.DataFrame(
        [
            ledger.external_ids.gather(txs),
            ledger.account_keys.gather(ledger.node_account[src]).rename(FROM_ACCOUNT),
            ledger.account_keys.gather(ledger.node_account[dst]).rename(TO_ACCOUNT),
            pl.Series(CURRENCY, money.codes, pl.String).gather(cur),
            money.series("amount", ledger.amount[txs], cur),
            _times(ledger.time[txs]).rename("value_time"),
            pl.Series(SEQUENCE, ledger.seq[txs], pl.Int64),
            pl.Series("hop", hops, pl.Int64),
            money.series("traced", traced, cur)
            if traced is not None
            else pl.Series("traced", [None] * len(txs), money.dtype),
        ]
    )
    ranks = pl.DataFrame(
        {
            "tx": txs,
            "src": src,
            "dst": dst,
            "hop": hops,
            "strength": traced if traced is not None else ledger.amount[txs],
            "wd_rank": order.wd_rank[txs],
            "dep_rank": order.dep_rank[txs],
        },
        schema={
            k: pl.Int64 for k in ("tx", "src", "dst", "hop", "strength", "wd_rank", "dep_rank")
        },
    )
    return frame, ranks


def _accounts(
    ledger: Ledger,
    params: TraceParams,
    seeds: Any,
    reach: Reach,
    sink_reason: I64,
    events: Events | None,
    att: Attribution | None,
    nodes: I64,
    money: Money,
) -> pl.DataFrame:
    cur = ledger.node_currency[nodes]
    arrival_tx = reach.arrival_tx[nodes]
    seed_time = np.full(ledger.n_nodes, -1, np.int64)
    forward = params.direction is Direction.FORWARD
    for node, t, tx in zip(seeds.nodes, seeds.times, seeds.tx, strict=True):
        if tx < 0 and t >= 0:
            old = seed_time[node]
            seed_time[node] = t if old < 0 else (min(old, t) if forward else max(old, t))
    when = np.where(arrival_tx >= 0, ledger.time[np.maximum(arrival_tx, 0)], seed_time[nodes])
    is_seed = np.isin(nodes, seeds.nodes)
    role = np.where(is_seed, "seed", np.vectorize(ROLES.get, otypes=[object])(sink_reason[nodes]))
    columns = [
        ledger.account_keys.gather(ledger.node_account[nodes]).rename(ACCOUNT),
        pl.Series(CURRENCY, money.codes, pl.String).gather(cur),
        pl.Series("hops", reach.hops[nodes], pl.Int64),
        _times(when).rename("reached_at").set(pl.Series(when < 0), None)
        if len(nodes)
        else _times(when).rename("reached_at"),
        pl.Series("role", role.astype(str) if len(nodes) else [], pl.String),
    ]
    names = ("received", "passed_on", "exited", "held", "opening_balance")
    if att is None or events is None:
        columns += [pl.Series(n, [None] * len(nodes), money.dtype) for n in names]
        columns.append(pl.Series("opening_inferred", [None] * len(nodes), pl.Boolean))
    else:
        exited = np.zeros(ledger.n_nodes, np.int64)
        received = att.received.copy()
        ex = att.exits
        np.add.at(exited, ex[:, 1], ex[:, 3])
        into_sink = ex[(ex[:, 2] == STOPPED) | (ex[:, 2] == HIGH_DEGREE)]
        if len(into_sink):
            # A stopped or high-degree account is where that taint was last seen.
            np.add.at(received, ledger.dst[events.tx[into_sink[:, 0]]], into_sink[:, 3])
        for name, values in zip(
            names, (received, att.passed, exited, att.held, att.opening), strict=True
        ):
            columns.append(money.series(name, values[nodes], cur))
        columns.append(pl.Series("opening_inferred", att.inferred[nodes], pl.Boolean))
    return pl.DataFrame(columns).sort(ACCOUNT, CURRENCY)


def _nullable(series: pl.Series, missing: np.ndarray) -> pl.Series:
    return series.scatter(np.flatnonzero(missing), None) if missing.any() else series


def _exits(
    ledger: Ledger, events: Events | None, att: Attribution | None, money: Money
) -> pl.DataFrame:
    ex = att.exits if att is not None else np.empty((0, 4), np.int64)
    if events is not None and len(ex):
        # Slot -1: a seed placed on an overdrawn account repaid the bank; no transaction.
        txs = np.where(ex[:, 0] >= 0, events.tx[np.maximum(ex[:, 0], 0)], -1)
    else:
        txs = np.empty(0, np.int64)
    order = np.lexsort((ex[:, 3], ex[:, 2], ex[:, 1], txs))
    ex, txs = ex[order], txs[order]
    node, cur, known = ex[:, 1], ledger.node_currency[ex[:, 1]], np.maximum(txs, 0)
    to = np.where((ex[:, 2] == OVERDRAFT) | (txs < 0), -1, ledger.dst[known])
    return pl.DataFrame(
        [
            _nullable(ledger.external_ids.gather(known), txs < 0),
            ledger.account_keys.gather(ledger.node_account[node]).rename(FROM_ACCOUNT),
            _nullable(ledger.account_keys.gather(ledger.node_account[np.maximum(to, 0)]),
                      to < 0).rename(TO_ACCOUNT),
            pl.Series(CURRENCY, money.codes, pl.String).gather(cur),
            _nullable(_times(ledger.time[known]), txs < 0).rename("value_time"),
            money.series("traced", ex[:, 3], cur),
            pl.Series("reason", [EXIT_REASONS[r] for r in ex[:, 2]], pl.String),
        ]
    )


def _flags(
    ledger: Ledger,
    reach: Reach,
    sink_reason: I64,
    att: Attribution | None,
    nodes: I64,
    money: Money,
) -> pl.DataFrame:
    rows: list[tuple[int, str, str]] = []
    for node in nodes[sink_reason[nodes] >= 0]:
        rows.append(
            (int(node), ROLES[int(sink_reason[node])] + "_account", "reported, not expanded")
        )
    if att is not None:
        code = money.codes
        for node in nodes[att.inferred[nodes]]:
            amount = money.text(int(att.opening[node]), code[ledger.node_currency[node]])
            rows.append(
                (
                    int(node),
                    "opening_balance_inferred",
                    f"missing statements or unexplained funds: {amount} assumed clean",
                )
            )
        for node in nodes[att.overdrawn[nodes]]:
            rows.append(
                (
                    int(node),
                    "overdrawn",
                    "balance went below zero despite the given opening balance",
                )
            )
    ids = np.array([r[0] for r in rows], np.int64)
    return pl.DataFrame(
        [
            ledger.account_keys.gather(ledger.node_account[ids]).rename(ACCOUNT),
            pl.Series(CURRENCY, money.codes, pl.String).gather(ledger.node_currency[ids]),
            pl.Series("flag", [r[1] for r in rows], pl.String),
            pl.Series("detail", [r[2] for r in rows], pl.String),
        ]
    ).sort(ACCOUNT, CURRENCY, "flag")


def _summary(
    ledger: Ledger,
    params: TraceParams,
    reach: Reach,
    att: Attribution | None,
    events: Events | None,
    seeds: Any,
    money: Money,
    nodes: I64,
) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "rule": str(params.rule),
        "direction": str(params.direction),
        "same_day_policy": str(params.same_day_policy),
        "accounts_reached": len(nodes),
        "transactions_followed": len(reach.trail_tx),
        "max_hop": int(reach.trail_hop.max(initial=0)),
        "measure": None if att is None else ("exposure" if params.rule is Rule.POISON else "value"),
        "conserved": None,
        "events_replayed": 0 if att is None else att.events,
        "currencies": {},
    }
    if att is None or events is None:
        return summary
    cur = ledger.node_currency
    totals: dict[str, list[int]] = {}
    seeded_tx = events.tx[events.seed == 1]
    for node, amount in zip(seeds.placements.node, seeds.placements.amount, strict=True):
        totals.setdefault(money.codes[cur[node]], [0, 0, 0])[0] += int(amount)
    for tx in seeded_tx:
        totals.setdefault(money.codes[cur[ledger.dst[tx]]], [0, 0, 0])[0] += int(ledger.amount[tx])
    for node in nodes:
        if att.held[node]:
            totals.setdefault(money.codes[cur[node]], [0, 0, 0])[1] += int(att.held[node])
    for node, amount in zip(att.exits[:, 1], att.exits[:, 3], strict=True):
        totals.setdefault(money.codes[cur[node]], [0, 0, 0])[2] += int(amount)
    conserved = all(s == h + e for s, h, e in totals.values())
    if params.rule is not Rule.POISON:
        if not conserved:
            raise ConservationError(f"per-currency totals do not balance: {totals}")
        summary["conserved"] = True
    summary["currencies"] = {
        code: {
            "seeded": money.text(s, code),
            "held": money.text(h, code),
            "exited": money.text(e, code),
        }
        for code, (s, h, e) in sorted(totals.items())
    }
    return summary
