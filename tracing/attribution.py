"""Replay of every event of the traced accounts in global order, applying one rule.

The universe is the set of forward-reached accounts that are expanded (seeds included).
Every event of those accounts is replayed up to the replay end, trail or not, because the
balance ``B`` depends on all of them. A tainted withdrawal follows the trail to the next
account, or leaves the traced universe as an *exit* with a reason. Conservation
(seeded = held + exited) is checked to the unit on every run, for every rule but poison.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tracing.errors import ConservationError, TraceCancelled, TraceTooLarge
from tracing.graph import CancelCheck, Filters, Progress, ProgressCallback, Workspace
from tracing.index import I64, LedgerColumns, find_sorted, sorted_unique
from tracing.order import Order
from tracing.params import Rule, SameDayPolicy
from tracing.replay import (
    INTO_SEED,
    AccountState,
    EventBuffers,
    EventColumns,
    Placements,
    collect,
    lowest_balance,
    new_counters,
    open_lots,
    replay_kernel,
    routes,
    slots_in_order,
)
from tracing.rules.lots import Lots

__all__ = ["Attribution", "Events", "Placements", "Universe", "attribute", "collect_events"]

CHUNK = 1 << 20
# Walk all ranks (dense slots) when the universe's events exceed 1/SCAN_FACTOR of the ledger.
SCAN_FACTOR = 8


@dataclass(frozen=True, slots=True)
class Events:
    """The universe's events (sorted keys ``2*rank``, ``+1`` for a deposit) and routes."""

    key: I64
    who: I64  # per event: the account it moves, as its index among the reached nodes
    tx: I64  # per event: its transaction
    amount: I64  # per event: its transaction's amount (read in order, not looked up)
    slot: I64  # per event: its transaction's slot
    slot_tx: I64 | None  # slot -> transaction; None when slots are positions
    route: np.ndarray  # per slot: DELIVER ... CLEAN (int8)
    end: int  # replay end (microseconds)
    seed_tx: I64  # seed transactions replayed

    def slots_of(self, txs: I64) -> I64:
        """Slot of each transaction, -1 where the replay did not touch it."""
        if self.slot_tx is None:
            return txs
        return find_sorted(self.slot_tx, txs)

    def kept(self) -> Events:
        """Return what a result keeps: no per-event arrays, which may be borrowed buffers."""
        no = np.empty(0, np.int64)
        return Events(no, no, no, no, no, self.slot_tx, self.route, self.end, self.seed_tx)


@dataclass(frozen=True, slots=True)
class Attribution:
    """Results of a replay.

    Per reached node (aligned with the reach's sorted ``nodes``), per transaction slot, and
    the exits, whose node column holds ledger nodes.
    """

    received: I64
    passed: I64
    held: I64
    balance: I64
    opening: I64
    inferred: np.ndarray
    overdrawn: np.ndarray
    carried: I64  # per transaction position, valid only where touched
    exits: np.ndarray  # rows: transaction (-1: a placement), node, reason, amount
    seeded: int
    events: int


@dataclass(frozen=True, slots=True)
class Universe:
    """What the replay needs to know about the reach result and the parameters."""

    nodes: I64  # reached nodes, ascending; per-node state is kept by index in this array
    sink_reason: I64  # per reached node: STOPPED / HIGH_DEGREE when not expanded, else -1
    trail: np.ndarray  # followed transactions (int32 where positions fit)
    seed_tx: I64
    replay_end: int
    filters: Filters  # which transactions the search follows (window, minimum)
    # Sources of funds: every transfer into a reached account is delivered there, the trail
    # or not (the replay ends at the seeds, so later ones change nothing that is asked).
    backward: bool = False


def collect_events(cols: LedgerColumns, order: Order, universe: Universe, ws: Workspace) -> Events:
    """Collect the universe's events up to the replay end, in replay order, with routes.

    The workspace lends its ledger-sized ``slot`` scratch array (all -1), which maps the
    reached nodes to their index while this runs and is restored before returning, and the
    buffers the events are written to: the events are valid while the caller holds ``ws``.
    """
    slot_of = ws.slot
    src, time, out_ptr, in_ptr = cols.src, cols.time, cols.out_ptr, cols.in_ptr
    expanded = universe.sink_reason < 0
    node_slots = np.flatnonzero(expanded)
    nodes = universe.nodes[node_slots]
    size = (out_ptr[nodes + 1] - out_ptr[nodes]).sum() + (in_ptr[nodes + 1] - in_ptr[nodes]).sum()
    # Walking every rank is linear in the ledger; gathering and sorting is better when small.
    scan = int(size) * SCAN_FACTOR > len(src)
    slot_of[universe.nodes] = np.arange(len(universe.nodes))
    n_events = 2 * len(order.ev_tx) if scan else int(size)
    keys, who, event_tx, event_amount = ws.event_buffers(n_events)
    try:
        m = collect(
            order.columns,
            cols,
            slot_of,
            expanded,
            universe.replay_end,
            nodes,
            node_slots,
            scan,
            order.policy is SameDayPolicy.LEDGER,
            universe.filters.visible,
            EventBuffers(keys, who, event_tx, event_amount),
        )
        keys, who, event_tx, event_amount = keys[:m], who[:m], event_tx[:m], event_amount[:m]
        if not scan:
            by_key = _order_of(keys)
            keys, who = keys[by_key], who[by_key]
            event_tx, event_amount = event_tx[by_key], event_amount[by_key]
        seeds = universe.seed_tx[time[universe.seed_tx] <= universe.replay_end]
        slot_tx: I64 | None
        if scan:
            slot_tx, slot = None, event_tx
            if universe.backward:
                on_trail = slot_of[cols.dst] >= 0
            else:
                on_trail = np.zeros(len(src), np.bool_)
                on_trail[universe.trail] = True
        else:
            if order.policy is SameDayPolicy.LEDGER:  # ranks are positions: tx ascending
                slot_tx, slot = slots_in_order(event_tx)
            else:
                slot_tx = sorted_unique(event_tx)
                slot = np.searchsorted(slot_tx, event_tx)
            if universe.backward:
                on_trail = slot_of[cols.dst[slot_tx]] >= 0
            else:
                on_trail = np.zeros(len(slot_tx), np.bool_)
                at = find_sorted(slot_tx, universe.trail)  # the trail is the shorter list
                on_trail[at[at >= 0]] = True
        # Route codes fit a byte: at 10M transactions a dense int64 array was 80 MB to stream.
        route = np.empty(len(src) if slot_tx is None else len(slot_tx), np.int8)
        routes(
            keys,
            event_tx,
            slot,
            cols,
            slot_of,
            expanded,
            universe.sink_reason,
            on_trail,
            universe.filters,
            route,
        )
    finally:
        slot_of[universe.nodes] = -1
    events = Events(
        keys,
        who,
        event_tx,
        event_amount,
        slot,
        slot_tx,
        route,
        universe.replay_end,
        seeds,
    )
    seed_slots = events.slots_of(seeds)
    route[seed_slots[seed_slots >= 0]] = INTO_SEED
    return events


def _order_of(keys: I64) -> I64:
    """Permutation sorting ``keys`` (distinct, non-negative).

    Each key is packed with its index into one integer when the product fits: sorting plain
    integers is about three times faster than ``argsort``, and a local trace's replay sorts
    its few thousand events on every call.
    """
    m = len(keys)
    if m == 0 or int(keys.max()) >= (2**62) // m:
        return np.argsort(keys)
    packed = np.sort(keys * m + np.arange(m, dtype=np.int64))
    return packed % m


def attribute(
    rule: Rule,
    events: Events,
    placements: Placements,
    opening_given: tuple[np.ndarray, I64],
    nodes: I64,
    *,
    max_events: int | None,
    progress: ProgressCallback | None,
    cancelled: CancelCheck | None,
    hops_done: int,
    reached: int,
) -> Attribution:
    """Replay ``events`` under ``rule``; check conservation unless the rule is poison.

    Placements and the given openings are per reached node, by index in ``nodes``.
    """
    n_nodes = len(nodes)
    n_events = len(events.key)
    if max_events is not None and n_events > max_events:
        raise TraceTooLarge(f"{n_events} events to replay, limit {max_events}")
    ev = EventColumns(events.key, events.tx, events.slot, events.who, events.amount, events.route)
    low = lowest_balance(ev, placements, n_nodes)
    given, given_amount = opening_given
    opening = np.where(given, given_amount, -low)
    # One row per account: an event reads and writes its account's balance, taint and totals
    # in one cache line, not four (the kernels see strided columns).
    account = np.zeros((n_nodes, 4), np.int64)
    account[:, 0] = opening
    with_lots = rule in (Rule.FIFO, Rule.LIFO)
    n_pieces = len(events.route) if with_lots else 0
    balance, taint, received, passed = account.T
    state = AccountState(
        balance,
        taint,
        received,
        passed,
        overdrawn=np.zeros(n_nodes, np.bool_),
        carried=np.empty(len(events.route), np.int64),
        pc_lo=np.empty(n_pieces, np.int64),
        pc_hi=np.empty(n_pieces, np.int64),
    )
    counters = new_counters()
    lots_of = Lots(np.full(n_nodes, -1, np.int64), np.full(n_nodes, -1, np.int64), counters)
    opened = np.flatnonzero(opening > 0) if with_lots else np.empty(0, np.int64)
    store = np.empty((len(opened) + 2 * n_events + 16 if with_lots else 1, 3), np.int64)
    open_lots(store, lots_of, opened, opening)
    pieces = np.empty((1024, 2), np.int64)
    exits = np.full((64, 4), -1, np.int64)
    kernel = replay_kernel(rule)
    for lo in range(0, n_events + 1, CHUNK):
        if cancelled is not None and cancelled():
            raise TraceCancelled(f"cancelled after replaying {lo} events")
        hi = min(lo + CHUNK, n_events)
        store, pieces, exits = kernel(
            lo, hi, ev, placements, state, lots_of, store, pieces, exits, counters
        )
        if progress is not None:
            progress(Progress(hops_done=hops_done, accounts_reached=reached, events_replayed=hi))
    balance, taint, received, passed = (np.ascontiguousarray(c) for c in account.T)
    exits = exits[: counters[0]["exits"]].copy()
    exits[:, 1] = nodes[exits[:, 1]]
    held = np.where(taint > 0, np.maximum(balance, 0), 0) if rule is Rule.POISON else taint
    seeded = int(counters[0]["seeded"])
    if rule is not Rule.POISON and int(held.sum()) + int(exits[:, 3].sum()) != seeded:
        raise ConservationError(f"seeded {seeded} minor units but held + exited differ")
    return Attribution(
        received,
        passed,
        held,
        balance,
        opening,
        ~given & (low < 0),
        state.overdrawn,
        state.carried,
        exits,
        seeded,
        n_events,
    )
