"""Replay of every event of the traced accounts in global order, applying one rule.

The universe is the set of forward-reached accounts that are expanded (seeds included).
Every event of those accounts is replayed up to the replay end, trail or not, because the
balance ``B`` depends on all of them. A tainted withdrawal follows the trail to the next
account, or leaves the traced universe as an *exit* with a reason. Conservation
(seeded = held + exited) is checked to the unit on every run, for every rule but poison.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np

from tracing.errors import ConservationError, TraceCancelled, TraceTooLarge
from tracing.graph import CancelCheck, Progress, ProgressCallback
from tracing.index import I64
from tracing.params import Rule
from tracing.rules import CODES, haircut, libr, lots, poison

DELIVER, HOP_LIMIT, BELOW_MIN, STOPPED, HIGH_DEGREE, OUTSIDE_WINDOW, INTO_SEED, OVERDRAFT = range(8)
EXIT_REASONS = (
    "delivered",
    "hop_limit",
    "below_min_amount",
    "stopped_account",
    "high_degree_account",
    "outside_window",
    "seed_transaction",
    "overdraft_repaid",
)
_POISON, _HAIRCUT, _FIFO, _LIFO, _LIBR = (
    CODES[r] for r in (Rule.POISON, Rule.HAIRCUT, Rule.FIFO, Rule.LIFO, Rule.LIBR)
)
# meta slots of the replay kernel (lots.py uses 0..2)
_PIECES, _EXITS, _PLACED, _SEEDED = 3, 4, 5, 6
CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Events:
    """The universe's events: sorted keys ``2*rank (+1 for a deposit)`` and their slots."""

    key: I64
    slot: I64
    tx: I64  # per slot
    route: I64  # per slot
    seed: I64  # per slot: 1 for a seed transaction


@dataclass(frozen=True, slots=True)
class Placements:
    """Seed amounts placed on accounts, sorted by key."""

    key: I64
    node: I64
    amount: I64


@dataclass(frozen=True, slots=True)
class Attribution:
    """Per node and per slot results of a replay."""

    received: I64
    passed: I64
    held: I64
    balance: I64
    opening: I64
    inferred: np.ndarray
    overdrawn: np.ndarray
    carried: I64  # per slot
    exits: np.ndarray  # rows: slot, node, reason, amount
    seeded: int
    events: int


@nb.njit(cache=True)
def gather_segments(ptr: I64, idx: I64, nodes: I64) -> I64:  # pragma: no cover - compiled
    """Concatenate the CSR segments of ``nodes``."""
    total = 0
    for v in nodes:
        total += ptr[v + 1] - ptr[v]
    out = np.empty(total, np.int64)
    k = 0
    for v in nodes:
        for j in range(ptr[v], ptr[v + 1]):
            out[k] = idx[j]
            k += 1
    return out


@nb.njit(cache=True)
def lowest_balance(  # pragma: no cover - compiled
    key: I64,
    slot: I64,
    tx: I64,
    src: I64,
    dst: I64,
    amount: I64,
    pl_key: I64,
    pl_node: I64,
    pl_amount: I64,
    n_nodes: int,
) -> I64:
    """Lowest running balance of each node from zero over its replayed events."""
    bal = np.zeros(n_nodes, np.int64)
    low = np.zeros(n_nodes, np.int64)
    p = 0
    for e in range(key.shape[0]):
        while p < pl_key.shape[0] and pl_key[p] < key[e]:
            bal[pl_node[p]] += pl_amount[p]
            p += 1
        t = tx[slot[e]]
        if key[e] & 1:
            bal[dst[t]] += amount[t]
        else:
            v = src[t]
            bal[v] -= amount[t]
            low[v] = min(low[v], bal[v])
    return low


@nb.njit(cache=True)
def _withdraw(  # pragma: no cover - compiled
    rule: int,
    balance: I64,
    taint: I64,
    store: np.ndarray,
    meta: I64,
    head: I64,
    tail: I64,
    node: int,
    amount: int,
    pieces: np.ndarray,
    at: int,
) -> tuple[int, int]:
    if rule == _POISON:
        return poison.withdraw(balance, taint, node, amount), at
    if rule == _HAIRCUT:
        return haircut.withdraw(balance, taint, node, amount), at
    if rule == _LIBR:
        return libr.withdraw(balance, taint, node, amount), at
    carried, end = lots.take(store, meta, head, tail, node, amount, pieces, at)
    balance[node] -= amount
    taint[node] -= carried
    return carried, end


@nb.njit(cache=True)
def _deposit(  # pragma: no cover - compiled
    rule: int,
    balance: I64,
    taint: I64,
    store: np.ndarray,
    meta: I64,
    head: I64,
    tail: I64,
    node: int,
    pieces: np.ndarray,
    lo: int,
    hi: int,
) -> int:
    """Credit the pieces ``pieces[lo:hi]``; returns the taint credited."""
    tainted = 0
    amount = 0
    for k in range(lo, hi):
        amount += pieces[k, 0]
        tainted += pieces[k, 0] * pieces[k, 1]
        if rule == _FIFO or rule == _LIFO:
            lots.put(store, meta, head, tail, node, pieces[k, 0], pieces[k, 1], rule == _LIFO)
    if rule == _POISON:
        poison.deposit(balance, taint, node, amount, tainted)
    elif rule == _HAIRCUT:
        haircut.deposit(balance, taint, node, amount, tainted)
    elif rule == _LIBR:
        libr.deposit(balance, taint, node, amount, tainted)
    else:
        balance[node] += amount
        taint[node] += tainted
    return tainted


@nb.njit(cache=True)
def _exit(
    exits: np.ndarray, meta: I64, slot: int, node: int, reason: int, amount: int
) -> np.ndarray:  # pragma: no cover
    if meta[_EXITS] >= exits.shape[0]:
        bigger = np.full((2 * exits.shape[0] + 16, 4), -1, np.int64)
        bigger[: exits.shape[0]] = exits
        exits = bigger
    row = meta[_EXITS]
    exits[row, 0], exits[row, 1], exits[row, 2], exits[row, 3] = slot, node, reason, amount
    meta[_EXITS] += 1
    return exits


@nb.njit(cache=True)
def _credit(  # pragma: no cover - compiled
    rule: int,
    balance: I64,
    taint: I64,
    store: np.ndarray,
    meta: I64,
    head: I64,
    tail: I64,
    node: int,
    pieces: np.ndarray,
    lo: int,
    hi: int,
    scratch: np.ndarray,
    exits: np.ndarray,
    slot: int,
) -> tuple[int, np.ndarray]:
    """A deposit; into an overdrawn account its first part repays the bank (an exit)."""
    debt = -balance[node] if balance[node] < 0 else 0
    balance[node] += debt
    tainted = _deposit(rule, balance, taint, store, meta, head, tail, node, pieces, lo, hi)
    if debt > 0:
        amount = 0
        for k in range(lo, hi):
            amount += pieces[k, 0]
        repay = min(debt, amount)
        carried, _ = _withdraw(
            rule, balance, taint, store, meta, head, tail, node, repay, scratch, 0
        )
        balance[node] -= debt - repay
        if carried > 0:
            exits = _exit(exits, meta, slot, node, OVERDRAFT, carried)
    return tainted, exits


@nb.njit(cache=True)
def _grow_pieces(pieces: np.ndarray, need: int) -> np.ndarray:  # pragma: no cover - compiled
    if need <= pieces.shape[0]:
        return pieces
    bigger = np.empty((2 * need, 2), np.int64)
    bigger[: pieces.shape[0]] = pieces
    return bigger


@nb.njit(cache=True)
def replay(  # pragma: no cover - compiled
    rule: int,
    lo: int,
    hi: int,
    key: I64,
    slot: I64,
    tx: I64,
    route: I64,
    seed: I64,
    src: I64,
    dst: I64,
    amount: I64,
    pl_key: I64,
    pl_node: I64,
    pl_amount: I64,
    balance: I64,
    taint: I64,
    received: I64,
    passed: I64,
    overdrawn: np.ndarray,
    carried: I64,
    pc_lo: I64,
    pc_hi: I64,
    store: np.ndarray,
    meta: I64,
    head: I64,
    tail: I64,
    pieces: np.ndarray,
    exits: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Replay events ``lo..hi`` and the placements before them; state persists in arrays."""
    tmp = np.zeros((2, 2), np.int64)
    with_lots = rule == _FIFO or rule == _LIFO
    for e in range(lo, hi + 1):
        last = e == key.shape[0]
        while meta[_PLACED] < pl_key.shape[0] and (last or pl_key[meta[_PLACED]] < key[e]):
            p = meta[_PLACED]
            pieces = _grow_pieces(pieces, meta[_PIECES] + meta[lots.LIVE] + 4)
            store = lots.ensure(store, meta, 2)
            tmp[0, 0], tmp[0, 1], tmp[1, 0], tmp[1, 1] = pl_amount[p], 1, 0, 0
            got, exits = _credit(
                rule,
                balance,
                taint,
                store,
                meta,
                head,
                tail,
                pl_node[p],
                tmp,
                0,
                1,
                pieces[meta[_PIECES] :],
                exits,
                -1,
            )
            received[pl_node[p]] += got
            meta[_SEEDED] += pl_amount[p]
            meta[_PLACED] += 1
        if e == hi:
            break
        s = slot[e]
        t = tx[s]
        pieces = _grow_pieces(pieces, meta[_PIECES] + meta[lots.LIVE] + 4)
        if key[e] & 1 == 0:
            u = src[t]
            at = meta[_PIECES]
            c, end = _withdraw(
                rule, balance, taint, store, meta, head, tail, u, amount[t], pieces, at
            )
            passed[u] += c
            if balance[u] < 0:
                overdrawn[u] = True
            if route[s] == DELIVER:
                carried[s] = c
                pc_lo[s], pc_hi[s] = at, end
                meta[_PIECES] = end
            elif c > 0:
                exits = _exit(exits, meta, s, u, route[s], c)
            continue
        v = dst[t]
        delivered = route[s] == DELIVER and seed[s] == 0
        if delivered and with_lots:
            src_pieces, plo, phi = pieces, pc_lo[s], pc_hi[s]
        else:
            hot = amount[t] if seed[s] else (carried[s] if delivered else 0)
            tmp[0, 0], tmp[0, 1], tmp[1, 0], tmp[1, 1] = hot, 1, amount[t] - hot, 0
            src_pieces, plo, phi = tmp, 0, 2
        store = lots.ensure(store, meta, phi - plo + 2)
        got, exits = _credit(
            rule,
            balance,
            taint,
            store,
            meta,
            head,
            tail,
            v,
            src_pieces,
            plo,
            phi,
            pieces[meta[_PIECES] :],
            exits,
            s,
        )
        received[v] += got
        if seed[s]:
            meta[_SEEDED] += amount[t]
    return store, pieces, exits


@nb.njit(cache=True)
def _open_lots(  # pragma: no cover - compiled
    store: np.ndarray, meta: I64, head: I64, tail: I64, nodes: I64, opening: I64
) -> None:
    for v in nodes:
        lots.put(store, meta, head, tail, v, opening[v], 0, False)


@dataclass(frozen=True, slots=True)
class Universe:
    """What the replay needs to know about the reach result and the parameters."""

    inside: np.ndarray  # per node: replayed
    sink_reason: I64  # per node: STOPPED / HIGH_DEGREE for reached, unexpanded nodes
    trail: I64  # followed transactions
    seed_tx: I64
    replay_end: int
    window: tuple[int, int]
    min_amount: I64  # per currency


def collect_events(ledger_cols: tuple[I64, ...], order: object, universe: Universe) -> Events:
    """The universe's events up to the replay end, in replay order, with their routes."""
    src, dst, amount, time, currency, out_ptr, in_ptr = ledger_cols
    nodes = np.flatnonzero(universe.inside)
    out_tx = gather_segments(out_ptr, order.out_idx, nodes)  # type: ignore[attr-defined]
    in_tx = gather_segments(in_ptr, order.in_idx, nodes)  # type: ignore[attr-defined]
    txs = np.union1d(out_tx, in_tx)
    txs = txs[time[txs] <= universe.replay_end]
    w_mask, d_mask = universe.inside[src[txs]], universe.inside[dst[txs]]
    keys = np.concatenate(
        [
            2 * order.wd_rank[txs[w_mask]],  # type: ignore[attr-defined]
            2 * order.dep_rank[txs[d_mask]] + 1,
        ]
    )  # type: ignore[attr-defined]
    slots = np.concatenate([np.flatnonzero(w_mask), np.flatnonzero(d_mask)])
    by_key = np.argsort(keys, kind="stable")
    on_trail = np.isin(txs, universe.trail)
    seed = np.isin(txs, universe.seed_tx).astype(np.int64)
    lo, hi = universe.window
    t = time[txs]
    sink = universe.sink_reason[dst[txs]]
    route = np.select(
        [
            seed == 1,
            on_trail & universe.inside[dst[txs]],
            on_trail,
            amount[txs] < universe.min_amount[currency[txs]],
            (t < lo) | (t > hi),
        ],
        [INTO_SEED, DELIVER, sink, BELOW_MIN, OUTSIDE_WINDOW],
        HOP_LIMIT,
    ).astype(np.int64)
    return Events(keys[by_key], slots[by_key], txs, route, seed)


def attribute(
    rule: Rule,
    ledger_cols: tuple[I64, ...],
    events: Events,
    placements: Placements,
    opening_given: tuple[np.ndarray, I64],
    *,
    max_events: int | None,
    progress: ProgressCallback | None,
    cancelled: CancelCheck | None,
    hops_done: int,
    reached: int,
) -> Attribution:
    """Replay ``events`` under ``rule``; check conservation unless the rule is poison."""
    src, dst, amount = ledger_cols[:3]
    n_nodes = len(opening_given[0])
    n_events = len(events.key)
    if max_events is not None and n_events > max_events:
        raise TraceTooLarge(f"{n_events} events to replay, limit {max_events}")
    low = lowest_balance(
        events.key,
        events.slot,
        events.tx,
        src,
        dst,
        amount,
        placements.key,
        placements.node,
        placements.amount,
        n_nodes,
    )
    given, given_amount = opening_given
    opening = np.where(given, given_amount, -low)
    inferred = ~given & (low < 0)
    code = CODES[rule]
    balance, taint = opening.copy(), np.zeros(n_nodes, np.int64)
    received, passed = np.zeros(n_nodes, np.int64), np.zeros(n_nodes, np.int64)
    overdrawn = np.zeros(n_nodes, np.bool_)
    n_slots = len(events.tx)
    carried = np.zeros(n_slots, np.int64)
    pc_lo, pc_hi = np.zeros(n_slots, np.int64), np.zeros(n_slots, np.int64)
    head, tail = np.full(n_nodes, -1, np.int64), np.full(n_nodes, -1, np.int64)
    meta = np.array([0, -1, 0, 0, 0, 0, 0], np.int64)
    with_lots = rule in (Rule.FIFO, Rule.LIFO)
    touched = np.unique(np.concatenate([src[events.tx], dst[events.tx], placements.node]))
    opened = touched[opening[touched] > 0] if with_lots else touched[:0]
    store = np.empty((len(opened) + 2 * n_events + 16 if with_lots else 1, 3), np.int64)
    _open_lots(store, meta, head, tail, opened, opening)
    pieces = np.empty((1024, 2), np.int64)
    exits = np.full((64, 4), -1, np.int64)
    for lo in range(0, n_events + 1, CHUNK):
        if cancelled is not None and cancelled():
            raise TraceCancelled(f"cancelled after replaying {lo} events")
        hi = min(lo + CHUNK, n_events)
        store, pieces, exits = replay(
            code,
            lo,
            hi,
            events.key,
            events.slot,
            events.tx,
            events.route,
            events.seed,
            src,
            dst,
            amount,
            placements.key,
            placements.node,
            placements.amount,
            balance,
            taint,
            received,
            passed,
            overdrawn,
            carried,
            pc_lo,
            pc_hi,
            store,
            meta,
            head,
            tail,
            pieces,
            exits,
        )
        if progress is not None:
            progress(Progress(hops_done=hops_done, accounts_reached=reached, events_replayed=hi))
    exits = exits[: meta[_EXITS]]
    held = np.where(taint > 0, np.maximum(balance, 0), 0) if rule is Rule.POISON else taint
    seeded = int(meta[_SEEDED])
    if rule is not Rule.POISON:
        out = int(held.sum()) + int(exits[:, 3].sum())
        if out != seeded:
            raise ConservationError(f"seeded {seeded} minor units but held+exited is {out}")
    return Attribution(
        received,
        passed,
        held,
        balance,
        opening,
        inferred,
        overdrawn,
        carried,
        exits,
        seeded,
        n_events,
    )
