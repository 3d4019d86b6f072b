"""Sources of funds: whose money a payment (or an account's balance) was, traced backward.

The backward search finds the sub-ledger that could have funded the seeds. Its accounts that
the search expanded (below the hop limit, not stopped, not high degree) are replayed forward
up to the seeds' time under the trace's rule, with *every* unit labelled by where it entered
the sub-ledger (DESIGN §3b):

* ``opening_balance`` - an expanded account's opening balance (given or inferred: the money
  of an account with no earlier inflow in the window);
* ``hop_limit``, ``stopped_account``, ``high_degree_account`` - an account the search reached
  but did not expand paid in;
* ``unfollowed`` - an account the search did not reach paid in (the transfer was below the
  minimum amount, outside the window, or after the money it could have funded left);
* ``overdraft`` - the part of a payment its account's balance did not cover (bank credit).

The composition of a seed transaction is that of its withdrawal; of a seed account, what it
holds at the seeds' time. Either sums exactly to the seed's amount.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import polars as pl

from tracing.attribution import Universe, collect_events
from tracing.errors import ConservationError
from tracing.graph import INF, CancelCheck, Filters, Reach
from tracing.index import I64
from tracing.labelled import Labelled, Labels, replay_labelled
from tracing.ledger import Ledger
from tracing.params import Rule, TraceParams
from tracing.replay import (
    CLEAN,
    HIGH_DEGREE,
    HOP_LIMIT,
    INTO_SEED,
    STOPPED,
    EventColumns,
    Placements,
    lowest_balance,
)
from tracing.searched import Searched
from tracing.sources_fifo import fifo_sources

OPENING, UNFOLLOWED, NOT_COVERED = 16, 17, 18
REASONS = {
    OPENING: "opening_balance",
    HOP_LIMIT: "hop_limit",
    STOPPED: "stopped_account",
    HIGH_DEGREE: "high_degree_account",
    UNFOLLOWED: "unfollowed",
    NOT_COVERED: "overdraft",
}
_WIDTH = 32  # an origin's key: ledger node * _WIDTH + reason


@dataclass(frozen=True, slots=True)
class Sources:
    """Per seed (index in the resolved seeds) and origin: ledger node, reason, hop, amount."""

    seed: I64
    node: I64
    reason: I64
    hop: I64
    amount: I64
    seeded: I64  # per resolved seed: its amount
    events: int


def _replay_end(ledger: Ledger, params: TraceParams, seeds: Any, filters: Filters) -> int:
    times = seeds.times[seeds.times >= 0]
    if len(times):
        return int(times.max())
    as_of = INF if params.as_of is None else int(params.as_of.timestamp() * 1_000_000)
    return min(as_of, filters.t_hi)


def trace_sources(
    searched: Searched,
    filters: Filters,
    *,
    cancelled: CancelCheck | None,
) -> Sources:
    """Replay the backward-reached sub-ledger with origins as labels; compose each seed."""
    ledger, order, params, seeds, reach, sink_reason = searched
    nodes = reach.nodes
    hop_limited = (reach.hops >= params.max_hops) & (sink_reason < 0)
    replay_sink = np.where(hop_limited, HOP_LIMIT, sink_reason)
    universe = Universe(
        nodes,
        replay_sink,
        reach.trail_tx,
        np.empty(0, np.int64),
        _replay_end(ledger, params, seeds, filters),
        filters,
        backward=True,
    )
    with ledger.workspaces.acquire(ledger.n_nodes, ledger.n_transactions) as ws:
        events = collect_events(ledger.columns, order, universe, ws)
        ev = EventColumns(
            events.key, events.tx, events.slot, events.who, events.amount, events.route
        )
        no = np.empty(0, np.int64)
        given, given_amount = ledger.opening_of(nodes)
        needed = -lowest_balance(ev, Placements(no, no, no), len(nodes))
        opening = np.where(given, given_amount, needed)
        expanded = replay_sink < 0
        openers = np.flatnonzero(expanded & (opening > 0))
        # a given opening below what the account paid out: some payment was the bank's credit
        shorts = np.flatnonzero(expanded & given & (given_amount < needed))
        placed = Placements(np.full(len(openers), -1, np.int64), openers, opening[openers])
        origins = _origins(
            ledger,
            events,
            nodes,
            replay_sink,
            (openers, shorts),
            seeds,
            by_name=params.rule is not Rule.FIFO,
        )
        keys, labels = origins.keys, origins.labels
        if params.rule is Rule.FIFO:
            out = _fifo(ev, placed, labels, events, seeds, nodes, len(keys), cancelled)
        else:
            out = replay_labelled(
                params.rule,
                params.shares_by,
                ev,
                placed,
                labels,
                np.zeros(len(nodes), np.int64),
                len(keys),
                keep_received=False,  # up to one label per origin: only what is held is needed
                cancelled=cancelled,
            )
        n_events = len(events.key)
    return _compose(ledger, seeds, reach, keys, out, n_events)


class _Origins(NamedTuple):
    keys: I64  # in label order: label i + 1 is keys[i]
    labels: Labels


def _origins(
    ledger: Ledger,
    events: Any,
    nodes: I64,
    replay_sink: I64,
    accounts: tuple[I64, I64],
    seeds: Any,
    *,
    by_name: bool,
) -> _Origins:
    """Label the origins: inflows' payers, openings, and the bank's credit to short accounts.

    ``accounts`` are the openers and the accounts that went short. The labels also name, per
    slot, the seed whose composition its withdrawal is (or -1). ``by_name``: labels in the
    order of the origins' account keys (ties in a pro-rata split go to the lower label, and
    node numbers depend on how the ledger was built, keys do not); else in the keys' order.
    """
    openers, shorts = accounts
    route = events.route
    route[route == CLEAN] = INTO_SEED  # every unit entering the sub-ledger is labelled
    n_slots = len(route)
    into = np.flatnonzero(route == INTO_SEED)
    txs = into if events.slot_tx is None else events.slot_tx[into]
    payer = ledger.src[txs]
    # an origin's reason depends on the paying account alone: label the payers, not the slots
    seen = np.zeros(ledger.n_nodes, np.bool_)
    seen[payer] = True
    payers = np.flatnonzero(seen)
    at = np.minimum(np.searchsorted(nodes, payers), len(nodes) - 1)
    reason = np.where(nodes[at] == payers, replay_sink[at], UNFOLLOWED)
    payer_keys = payers * _WIDTH + reason
    opener_keys = nodes[openers] * _WIDTH + OPENING
    short_keys = nodes[shorts] * _WIDTH + NOT_COVERED
    keys = np.sort(np.concatenate([payer_keys, opener_keys, short_keys]))  # np.unique: slower
    keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])] if len(keys) else keys
    order = np.arange(len(keys))
    if by_name:
        # Polars orders strings by their UTF-8 bytes: the order of their code points (Python's)
        order = (
            pl.DataFrame(
                {
                    "name": ledger.account_keys.gather(
                        pl.Series(ledger.node_account[keys // _WIDTH])
                    ),
                    "code": ledger.node_currency[keys // _WIDTH],
                    "reason": keys % _WIDTH,
                }
            )
            .with_row_index()
            .sort("name", "code", "reason")
            .get_column("index")
            .to_numpy()
            .astype(np.int64)
        )
    label_of_key = np.empty(len(keys), np.int64)  # per key (in sorted order) its label
    label_of_key[order] = np.arange(1, len(keys) + 1)
    label_of_payer = np.zeros(ledger.n_nodes, np.int64)
    label_of_payer[payers] = label_of_key[np.searchsorted(keys, payer_keys)]
    inflow = np.zeros(n_slots, np.int64)
    inflow[into] = label_of_payer[payer]
    capture = np.full(n_slots, -1, np.int64)
    seed_slots = events.slots_of(seeds.tx)
    hit = (seeds.tx >= 0) & (seed_slots >= 0)
    capture[seed_slots[hit]] = np.flatnonzero(hit)
    short = np.zeros(len(nodes), np.int64)
    short[shorts] = label_of_key[np.searchsorted(keys, short_keys)]
    placed = label_of_key[np.searchsorted(keys, opener_keys)]
    return _Origins(keys[order], Labels(placed, inflow, capture, short))


def _fifo(
    ev: EventColumns,
    placed: Placements,
    labels: Labels,
    events: Any,
    seeds: Any,
    nodes: I64,
    n_labels: int,
    cancelled: CancelCheck | None,
) -> Labelled:
    """Compose the seeds from queue intervals (tracing.sources_fifo), fifo's lots unreplayed.

    The result has the labelled replay's shape, with every seed's units in ``captured``.
    """
    seed_slots = np.where(seeds.tx >= 0, events.slots_of(seeds.tx), -1)
    at = np.minimum(np.searchsorted(nodes, seeds.nodes), len(nodes) - 1)
    seed_accounts = np.where((seeds.tx < 0) & (nodes[at] == seeds.nodes), at, -1)
    found = fifo_sources(
        ev, placed, labels, len(nodes), n_labels, seed_slots, seed_accounts, cancelled=cancelled
    )
    none = np.empty(0, np.int64)
    return Labelled(
        (none, none, none), (none, none, none), none, found.captured, found.balance, none
    )


def _compose(
    ledger: Ledger, seeds: Any, reach: Reach, keys: I64, out: Labelled, n_events: int
) -> Sources:
    nodes = reach.nodes
    seed, label, amount = (out.captured[:, i] for i in range(3))
    seeded = np.where(seeds.tx >= 0, ledger.amount[np.maximum(seeds.tx, 0)], 0)
    h_node, h_label, h_amount = out.held
    assert out.balance is not None  # replayed: no taint carried was given
    for i in np.flatnonzero(seeds.tx < 0):  # a seed account: its whole balance then
        v = np.searchsorted(nodes, seeds.nodes[i])
        mine = h_node == v
        seed = np.concatenate([seed, np.full(int(mine.sum()), i, np.int64)])
        label = np.concatenate([label, h_label[mine]])
        amount = np.concatenate([amount, h_amount[mine]])
        seeded[i] = max(int(out.balance[v]), 0)
    # label 0 is the part a payment's balance did not cover: the payer's bank credit
    payer = seeds.nodes[seed]
    full_keys = np.concatenate([[0], keys])
    origin_key = np.where(label > 0, full_keys[label], payer * _WIDTH + NOT_COVERED)
    grouped, at = np.unique(seed * (1 << 40) + origin_key, return_inverse=True)
    total = np.zeros(len(grouped), np.int64)
    np.add.at(total, at, amount)
    keep = total > 0
    grouped, total = grouped[keep], total[keep]
    seed_of, key = grouped >> 40, grouped & ((1 << 40) - 1)
    check = np.zeros(len(seeded), np.int64)
    np.add.at(check, seed_of, total)
    if (check != seeded).any():
        raise ConservationError("the sources of a seed do not sum to its amount")
    origin, reason = key // _WIDTH, key % _WIDTH
    at = np.minimum(np.searchsorted(nodes, origin), len(nodes) - 1)
    hop = np.where(nodes[at] == origin, reach.hops[at], -1)
    return Sources(seed_of, origin, reason, hop, total, seeded, n_events)


def sources_frame(ledger: Ledger, seeds: Any, sources: Sources, money: Any) -> pl.DataFrame:
    """One row per seed and origin: ``seed`` (transaction id or account), ``origin``, ..."""
    keys = ledger.account_keys
    seed_names = [
        ledger.external_ids[int(t)] if t >= 0 else keys[int(ledger.node_account[n])]
        for t, n in zip(seeds.tx.tolist(), seeds.nodes.tolist(), strict=True)
    ]
    cur = ledger.node_currency[sources.node]
    frame = pl.DataFrame(
        [
            pl.Series("seed", [seed_names[i] for i in sources.seed.tolist()], pl.String),
            keys.gather(pl.Series(ledger.node_account[sources.node])).rename("origin"),
            pl.Series("currency", [money.codes[c] for c in cur.tolist()], pl.String),
            pl.Series("reason", [REASONS[r] for r in sources.reason.tolist()], pl.String),
            pl.Series("hop", sources.hop, pl.Int64).scatter(np.flatnonzero(sources.hop < 0), None),
            *money.columns({"amount": sources.amount}, cur),
        ]
    )
    return frame.sort("seed", "amount", "origin", "reason", descending=[False, True, False, False])
