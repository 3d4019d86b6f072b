"""Assemble a :class:`~tracing.result.TraceResult` from the search and replay arrays."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import polars as pl

from tracing.attribution import Attribution, Events
from tracing.errors import ConservationError
from tracing.graph import Reach
from tracing.index import I64, contains
from tracing.ledger import Ledger
from tracing.order import Order
from tracing.params import Direction, Rule, TraceParams
from tracing.replay import EXIT_REASONS, HIGH_DEGREE, OVERDRAFT, STOPPED
from tracing.result import Provenance, TraceResult
from tracing.schema import (
    ACCOUNT,
    CURRENCY,
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

    def columns(self, minor: dict[str, I64], currency: I64) -> list[pl.Series]:
        """:meth:`series` for several amount columns sharing ``currency``, in one select.

        Every Series operation is a query of its own (about 0.1 ms even for ten rows): the five
        amount columns of an accounts frame took 20 of them; one select costs about as much as
        two, so it pays from three columns on.
        """
        factor = np.array([10**p for p in self.places], np.int64)[currency]
        frame = pl.DataFrame(
            {"_factor": factor, **minor}, schema=dict.fromkeys(["_factor", *minor], pl.Int64)
        )
        divisor = pl.col("_factor").cast(pl.Decimal(38, 0))
        return frame.select(
            (pl.col(name).cast(self.dtype) / divisor).cast(self.dtype) for name in minor
        ).get_columns()

    def texts(self, minor: I64, currency: I64) -> list[str]:
        """:meth:`text` of each amount (``currency`` as indices), by integer arithmetic.

        Plain Python on ints: a Decimal per row cost 8 ms for 7,000 flags, and Polars string
        expressions cost a millisecond of fixed work even for the ten rows of a small result.
        """
        out = []
        for value, c in zip(minor.tolist(), currency.tolist(), strict=True):
            places = self.places[c]
            whole, fraction = divmod(abs(value), 10**places)
            sign = "-" if value < 0 else ""
            out.append(f"{sign}{whole}.{fraction:0{places}d}" if places else f"{sign}{whole}")
        return out

    def text(self, minor: int, code: str) -> str:
        """Exact decimal string of ``minor`` units of ``code``."""
        places = self.places[self.codes.index(code)]
        # format "f": str() writes exponents for small values ("5E-8" for five satoshi).
        return format(Decimal(minor).scaleb(-places).quantize(Decimal(1).scaleb(-places)), "f")


def _times(us: I64) -> pl.Series:
    return pl.Series(us, dtype=pl.Int64).cast(TIME_DTYPE)


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

    def frame(self, name: str) -> pl.DataFrame:
        """Build the frame ``name``."""
        money = Money(self.ledger)
        nodes = self.reach.nodes
        if name in ("flows", "ranks"):
            trail = _trail(self.ledger, self.reach, self.events, self.att)
            if name == "flows":
                return _flows(self.ledger, trail, money)
            return _ranks(self.ledger, self.order, trail)
        if name == "accounts":
            return _accounts(
                self.ledger,
                self.params,
                self.seeds,
                self.reach,
                self.sink_reason,
                self.events,
                self.att,
                nodes,
                money,
            )
        if name == "exits":
            return _exits(self.ledger, self.events, self.att, money)
        if name == "flags":
            return _flags(self.ledger, self.sink_reason, self.att, nodes, money)
        return pl.DataFrame(
            {"node": self.seeds.nodes, "arrival": self.seeds.arrival, "tx": self.seeds.tx},
            schema=dict.fromkeys(("node", "arrival", "tx"), pl.Int64),
        )


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
    """Build the result: summary now (it checks conservation per currency), frames later.

    ``sink_reason`` is aligned with ``reach.nodes``.
    """
    summary = _summary(ledger, params, reach, att, events, seeds)
    parts = _Parts(ledger, order, params, seeds, reach, sink_reason, events, att)
    return TraceResult(summary, provenance, parts, decimals=ledger.decimals)


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
    return pl.DataFrame(
        [
            ledger.external_ids.gather(txs),
            ledger.account_keys.gather(ledger.node_account[src]).rename(FROM_ACCOUNT),
            ledger.account_keys.gather(ledger.node_account[dst]).rename(TO_ACCOUNT),
            pl.Series(CURRENCY, money.codes, pl.String).gather(cur),
            money.series("amount", ledger.amount[txs], cur),
            _times(ledger.time[txs]).rename("value_time"),
            pl.Series(SEQUENCE, ledger.seq[txs], pl.Int64),
            pl.Series("hop", trail.hops, pl.Int64),
            money.series("traced", traced, cur)
            if traced is not None
            else pl.repeat(None, len(txs), dtype=money.dtype, eager=True).alias("traced"),
        ]
    )


def _ranks(ledger: Ledger, order: Order, trail: _Trail) -> pl.DataFrame:
    # What explain() needs, as plain integers: the service stores it beside every result, so
    # it is built without the flows frame's string gathers and decimal conversions.
    txs = trail.txs
    return pl.DataFrame(
        {
            "tx": txs,
            "src": ledger.src[txs],
            "dst": ledger.dst[txs],
            "hop": trail.hops,
            "strength": trail.traced if trail.traced is not None else ledger.amount[txs],
            "wd_rank": order.wd_rank[txs],
            "dep_rank": order.dep_rank[txs],
        },
        schema=dict.fromkeys(
            ("tx", "src", "dst", "hop", "strength", "wd_rank", "dep_rank"), pl.Int64
        ),
    )


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
    # nodes is reach.nodes: the per-node arrays of reach and sink_reason are aligned with it
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
    role = pl.Series("role", reason).replace_strict({-2: "seed", **ROLES}, return_dtype=pl.String)
    columns = [
        ledger.account_keys.gather(ledger.node_account[nodes]).rename(ACCOUNT),
        pl.Series(CURRENCY, money.codes, pl.String).gather(cur),
        pl.Series("hops", reach.hops, pl.Int64),
        _times(when).rename("reached_at").set(pl.Series(when < 0), None)
        if len(nodes)
        else _times(when).rename("reached_at"),
        role,
    ]
    names = ("received", "passed_on", "exited", "held", "opening_balance")
    if att is None or events is None:
        columns += [
            pl.repeat(None, len(nodes), dtype=money.dtype, eager=True).alias(n) for n in names
        ]
        columns.append(
            pl.repeat(None, len(nodes), dtype=pl.Boolean, eager=True).alias("opening_inferred")
        )
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
        columns += money.columns(dict(zip(names, amounts, strict=True)), cur)
        columns.append(pl.Series("opening_inferred", att.inferred, pl.Boolean))
    return pl.DataFrame(columns).sort(ACCOUNT, CURRENCY)


def _nullable(series: pl.Series, missing: np.ndarray) -> pl.Series:
    return series.scatter(np.flatnonzero(missing), None) if missing.any() else series


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
    return pl.DataFrame(
        [
            _nullable(ledger.external_ids.gather(known), txs < 0),
            ledger.account_keys.gather(ledger.node_account[node]).rename(FROM_ACCOUNT),
            _nullable(
                ledger.account_keys.gather(ledger.node_account[np.maximum(to, 0)]), to < 0
            ).rename(TO_ACCOUNT),
            pl.Series(CURRENCY, money.codes, pl.String).gather(cur),
            _nullable(_times(ledger.time[known]), txs < 0).rename("value_time"),
            money.series("traced", ex[:, 3], cur),
            pl.Series("reason", [EXIT_REASONS[r] for r in ex[:, 2]], pl.String),
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
    return pl.DataFrame(
        [
            ledger.account_keys.gather(ledger.node_account[node]).rename(ACCOUNT),
            pl.Series(CURRENCY, money.codes, pl.String).gather(ledger.node_currency[node]),
            pl.Series("flag", flag, pl.String),
            pl.Series("detail", detail, pl.String),
        ]
    ).sort(ACCOUNT, CURRENCY, "flag")


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
