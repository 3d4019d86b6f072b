"""The compiled replay: every event of the traced universe, in replay order, under one rule.

Per-account state (balance, taint, lots) is indexed by the account's position among the
trace's reached nodes, so a local trace touches arrays the size of what it reached.

Per-transaction state (``route``, ``carried`` and the piece ranges) is indexed by *slot*:
the transaction's position when the universe covers much of the ledger (dense arrays, no
lookups), or its index among the touched transactions when it is small (so a local trace
never touches pages of ledger-sized arrays).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, NamedTuple

import numba as nb
import numpy as np

from tracing import kernel_cache
from tracing.graph import INF, Filters
from tracing.index import I64, LedgerColumns
from tracing.order import OrderColumns
from tracing.params import Rule
from tracing.rules import haircut, libr, lots, poison
from tracing.rules.lots import Lots

# Routes of a transaction touched by the replay (also the exit reasons).
DELIVER, HOP_LIMIT, BELOW_MIN, STOPPED, HIGH_DEGREE, OUTSIDE_WINDOW, INTO_SEED, OVERDRAFT = range(8)
CLEAN = 8  # the paying account is outside the universe: a clean deposit
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
# A replay's counters, one record the kernels update in place: the lot store's next unused row,
# free-list head and live lots (tracing.rules.lots), the pieces in use, exits written,
# placements done and the taint seeded so far.
COUNTERS = np.dtype(
    [
        ("next_row", np.int64),
        ("free", np.int64),
        ("live", np.int64),
        ("pieces", np.int64),
        ("exits", np.int64),
        ("placed", np.int64),
        ("seeded", np.int64),
    ]
)


def new_counters() -> np.ndarray:
    """One zeroed :data:`COUNTERS` record (in an array: the kernels write through it)."""
    counters = np.zeros(1, COUNTERS)
    counters[0]["free"] = -1
    return counters


class EventColumns(NamedTuple):
    """The replayed events in replay order, and per transaction slot its route."""

    key: I64  # 2 * rank, + 1 for a deposit
    tx: I64
    slot: I64
    who: I64  # the account moved, by index among the reached nodes
    amount: I64
    route: np.ndarray  # per slot: DELIVER ... CLEAN (int8)


class EventBuffers(NamedTuple):
    """Where :func:`collect` writes events: key, account moved, transaction, amount."""

    keys: I64
    who: I64
    txs: I64
    amounts: I64


class Placements(NamedTuple):
    """Seed amounts placed on accounts (by index among the reached nodes), sorted by key."""

    key: I64
    node: I64
    amount: I64


class AccountState(NamedTuple):
    """A replay's state: per reached account, and per transaction slot."""

    balance: I64
    taint: I64
    received: I64
    passed: I64
    overdrawn: np.ndarray
    carried: I64  # per slot: taint its withdrawal carried
    pc_lo: I64  # per slot, lot rules only: the delivered pieces ``pieces[pc_lo:pc_hi]``
    pc_hi: I64


@nb.njit(cache=True, nogil=True)
def collect(  # pragma: no cover - compiled
    order: OrderColumns,
    cols: LedgerColumns,
    slot_of: I64,
    expanded: np.ndarray,
    end: int,
    nodes: I64,
    node_slots: I64,
    scan: bool,  # noqa: FBT001 - compiled kernels take positional arguments
    in_order: bool,  # noqa: FBT001 - ranks are positions (ledger order)
    visible: np.ndarray,
    out: EventBuffers,
) -> int:
    """Write the events of ``nodes`` into the four arrays given; return how many there are.

    An event is its key, the account it moves, its transaction and that transaction's
    amount. The arrays must hold ``2 * len(ev_tx)`` events with ``scan``, else the total
    length of the nodes' CSR segments. The caller allocates them: NumPy asks the kernel for
    huge pages where a compiled ``np.empty`` does not, and first touching 4 KiB pages cost
    more than the scan itself at 10M transactions.

    Keys are ``2 * rank`` (withdrawal) / ``2 * rank + 1`` (deposit); an account is named by
    its position among the reached nodes: ``slot_of`` maps a ledger node to it (-1: not
    reached), ``node_slots`` gives it for ``nodes``, and ``expanded`` says per position
    whether the account is replayed. With ``scan`` the ranks are walked in order (no sort;
    best when the universe is a large part of the ledger); otherwise the universe's CSR
    segments are gathered and sorted. ``in_order``: rank, transaction and both its events
    coincide (three lookups a rank fewer). With ``scan`` the events come out in order;
    otherwise the caller sorts them by key. ``visible`` is the trace's mask (empty: none): a
    transaction it hides has no events.
    """
    masked = visible.shape[0] > 0
    ev_tx, wd_rank, dep_rank = order.ev_tx, order.wd_rank, order.dep_rank
    src, dst, amount, time = cols.src, cols.dst, cols.amount, cols.time
    keys, who, txs, amounts = out
    bounded = end < INF  # else no lookup of each transaction's time
    m = 0
    if scan:
        for r in range(ev_tx.shape[0]):
            t = r if in_order else ev_tx[r]
            if bounded and time[t] > end:
                continue
            if masked and not visible[t]:
                continue
            if in_order or wd_rank[t] == r:
                c = slot_of[src[t]]
                if c >= 0 and expanded[c]:
                    keys[m], who[m], txs[m], amounts[m] = 2 * r, c, t, amount[t]
                    m += 1
            if in_order or dep_rank[t] == r:
                c = slot_of[dst[t]]
                if c >= 0 and expanded[c]:
                    keys[m], who[m], txs[m], amounts[m] = 2 * r + 1, c, t, amount[t]
                    m += 1
        return m
    for i in range(nodes.shape[0]):
        v, c = nodes[i], node_slots[i]
        for k in range(cols.out_ptr[v], cols.out_ptr[v + 1]):
            t = order.out_idx[k]
            if masked and not visible[t]:
                continue
            if not bounded or time[t] <= end:
                keys[m], who[m], txs[m], amounts[m] = 2 * order.out_rank[k], c, t, amount[t]
                m += 1
        for k in range(cols.in_ptr[v], cols.in_ptr[v + 1]):
            t = order.in_idx[k]
            if masked and not visible[t]:
                continue
            if not bounded or time[t] <= end:
                keys[m], who[m], txs[m], amounts[m] = 2 * order.in_rank[k] + 1, c, t, amount[t]
                m += 1
    return m


@nb.njit(cache=True, nogil=True)
def slots_in_order(event_tx: I64) -> tuple[I64, I64]:  # pragma: no cover - compiled
    """Distinct transactions of ascending ``event_tx`` and each event's index among them."""
    slot = np.empty(event_tx.shape[0], np.int64)
    slot_tx = np.empty(event_tx.shape[0], np.int64)
    n = -1
    for e in range(event_tx.shape[0]):
        if n < 0 or event_tx[e] != slot_tx[n]:
            n += 1
            slot_tx[n] = event_tx[e]
        slot[e] = n
    return slot_tx[: n + 1].copy(), slot


@nb.njit(cache=True, nogil=True)
def routes(  # pragma: no cover - compiled
    keys: I64,
    ev_t: I64,
    slot: I64,
    cols: LedgerColumns,
    slot_of: I64,
    expanded: np.ndarray,
    sink_reason: I64,
    on_trail: np.ndarray,
    filters: Filters,
    route: np.ndarray,
) -> None:
    """Where the taint of each touched transaction goes (written into ``route`` by slot).

    ``sink_reason`` is per reached node (by slot): why the search did not leave it, or -1.
    """
    src, dst, amount, time, currency = cols.src, cols.dst, cols.amount, cols.time, cols.currency
    filtering, t_lo, t_hi, min_amount, _ = filters  # masked transactions have no events
    for e in range(keys.shape[0]):
        t = ev_t[e]
        s = slot[e]
        payer = slot_of[src[t]]
        if payer < 0 or not expanded[payer]:
            route[s] = CLEAN
        elif keys[e] & 1:
            continue  # its withdrawal, replayed before it, has routed the transaction
        elif on_trail[s]:
            payee = slot_of[dst[t]]  # a trail transaction's payee is reached
            route[s] = DELIVER if expanded[payee] else sink_reason[payee]
        elif filtering and amount[t] < min_amount[currency[t]]:
            route[s] = BELOW_MIN
        elif filtering and (time[t] < t_lo or time[t] > t_hi):
            route[s] = OUTSIDE_WINDOW
        else:
            route[s] = HOP_LIMIT


@nb.njit(cache=True, nogil=True)
def lowest_balance(  # pragma: no cover - compiled
    ev: EventColumns, placed: Placements, n_nodes: int
) -> I64:
    """Lowest running balance of each node (slot) from zero over its replayed events."""
    keys, who, ev_amount = ev.key, ev.who, ev.amount
    pl_key, pl_node, pl_amount = placed
    run = np.zeros((n_nodes, 2), np.int64)  # balance and lowest side by side: one cache line
    p = 0
    for e in range(keys.shape[0]):
        while p < pl_key.shape[0] and pl_key[p] < keys[e]:
            run[pl_node[p], 0] += pl_amount[p]
            p += 1
        v = who[e]
        if keys[e] & 1:
            run[v, 0] += ev_amount[e]
        else:
            run[v, 0] -= ev_amount[e]
            run[v, 1] = min(run[v, 1], run[v, 0])
    return run[:, 1].copy()


@nb.njit(cache=True, nogil=True)
def open_lots(  # pragma: no cover - compiled
    store: np.ndarray, lots_of: Lots, nodes: I64, opening: I64
) -> None:
    """Each account's opening balance is its oldest lot, and clean."""
    for v in nodes:
        lots.put(store, lots_of, v, opening[v], 0, False)


@nb.njit(cache=True, nogil=True)
def _exit(
    exits: np.ndarray, c: Any, slot: int, node: int, reason: int, amount: int
) -> np.ndarray:  # pragma: no cover
    if c.exits >= exits.shape[0]:
        bigger = np.full((2 * exits.shape[0] + 16, 4), -1, np.int64)
        bigger[: exits.shape[0]] = exits
        exits = bigger
    row = c.exits
    exits[row, 0], exits[row, 1], exits[row, 2], exits[row, 3] = slot, node, reason, amount
    c.exits += 1
    return exits


@nb.njit(cache=True, nogil=True)
def _grow_pieces(pieces: np.ndarray, need: int) -> np.ndarray:  # pragma: no cover - compiled
    if need <= pieces.shape[0]:
        return pieces
    bigger = np.empty((2 * need, 2), np.int64)
    bigger[: pieces.shape[0]] = pieces
    return bigger


def _make_replay(rule: ModuleType, with_lots: bool, newest_first: bool) -> Any:  # noqa: FBT001
    """Make the replay kernel of one rule, ``rule``'s withdraw and deposit compiled in.

    ``with_lots``: withdrawals take from the lots of :mod:`tracing.rules.lots` (``fifo``,
    ``lifo``; ``newest_first`` for ``lifo``) and a delivered withdrawal's pieces are kept for
    its deposit; otherwise the rule's own ``withdraw`` decides. The closure holds only the
    module and two flags, which pickle alike in every process, so Numba's cache keeps one
    compiled kernel per rule, in files named after it (:func:`tracing.kernel_cache.variant`).
    """

    @nb.njit(cache=True, nogil=True)
    @kernel_cache.variant(rule, with_lots, newest_first)
    def replay(  # pragma: no cover - compiled
        lo: int,
        hi: int,
        ev: EventColumns,
        placed: Placements,
        acct: AccountState,
        lots_of: Lots,
        store: np.ndarray,
        pieces: np.ndarray,
        exits: np.ndarray,
        counters: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Replay events ``lo..hi`` and the placements before them; state persists in arrays.

        Returns the lot store, the pieces and the exits, any of which may have been grown.
        """
        c = counters[0]
        balance, taint, received = acct.balance, acct.taint, acct.received
        tmp = np.zeros((2, 2), np.int64)
        n_placements = placed.key.shape[0]
        p = c.placed
        e = lo
        while True:
            # a credit: ``v`` gets the pieces ``src[plo:phi]`` by transaction ``t`` (-1: a seed)
            if p < n_placements and (e == ev.key.shape[0] or placed.key[p] < ev.key[e]):
                v, t = placed.node[p], -1
                tmp[0, 0], tmp[0, 1], tmp[1, 0], tmp[1, 1] = placed.amount[p], 1, 0, 0
                src, plo, phi, extra = tmp, 0, 1, 2
                c.seeded += placed.amount[p]
                p += 1
                c.placed = p
            else:
                if e == hi:
                    break
                t, s, r = ev.tx[e], ev.slot[e], ev.route[ev.slot[e]]
                w = ev.amount[e]
                e += 1
                if ev.key[e - 1] & 1 == 0:
                    u = ev.who[e - 1]
                    at = c.pieces
                    if with_lots:
                        pieces = _grow_pieces(pieces, at + c.live + 4)
                        carried, end = lots.take(store, lots_of, u, w, pieces, at)
                        balance[u] -= w
                        taint[u] -= carried
                    else:
                        carried, end = rule.withdraw(balance, taint, u, w), at
                    acct.passed[u] += carried
                    if balance[u] < 0:
                        acct.overdrawn[u] = True
                    acct.carried[s] = carried
                    if r == DELIVER:
                        if with_lots:
                            acct.pc_lo[s], acct.pc_hi[s] = at, end
                            c.pieces = end
                    elif carried > 0:
                        exits = _exit(exits, c, t, u, r, carried)
                    continue
                v = ev.who[e - 1]
                hot = 0
                if r == INTO_SEED:
                    hot = w
                    c.seeded += w
                elif r == DELIVER:
                    hot = acct.carried[s]
                if not with_lots and balance[v] >= 0:
                    # the common case, without lots or overdraft: the rule's deposit
                    rule.deposit(balance, taint, v, w, hot)
                    received[v] += hot
                    continue
                if r == DELIVER and with_lots:
                    src, plo, phi = pieces, acct.pc_lo[s], acct.pc_hi[s]
                else:
                    tmp[0, 0], tmp[0, 1], tmp[1, 0], tmp[1, 1] = hot, 1, w - hot, 0
                    src, plo, phi = tmp, 0, 2
                extra = phi - plo + 2
            if with_lots:
                store = lots.ensure(store, lots_of, extra)
                pieces = _grow_pieces(pieces, c.pieces + c.live + 4)
            # Into an overdrawn account the deposit's first part repays the bank (an exit).
            debt = -balance[v] if balance[v] < 0 else 0
            balance[v] += debt
            tainted, amount = 0, 0
            for k in range(plo, phi):
                amount += src[k, 0]
                tainted += src[k, 0] * src[k, 1]
                if with_lots:
                    lots.put(store, lots_of, v, src[k, 0], src[k, 1], newest_first)
            rule.deposit(balance, taint, v, amount, tainted)
            if debt > 0:
                repay = min(debt, amount)
                if with_lots:
                    scratch = pieces[c.pieces :]
                    repaid, _ = lots.take(store, lots_of, v, repay, scratch, 0)
                    balance[v] -= repay
                    taint[v] -= repaid
                else:
                    repaid = rule.withdraw(balance, taint, v, repay)
                balance[v] -= debt - repay
                if repaid > 0:
                    exits = _exit(exits, c, t, v, OVERDRAFT, repaid)
            received[v] += tainted
        return store, pieces, exits

    return replay


_KERNELS = {
    Rule.POISON: (poison, False, False),
    Rule.HAIRCUT: (haircut, False, False),
    Rule.LIBR: (libr, False, False),
    Rule.FIFO: (lots, True, False),
    Rule.LIFO: (lots, True, True),
}
REPLAYS = {rule: _make_replay(*how) for rule, how in _KERNELS.items()}


def replay_kernel(rule: Rule) -> Any:
    """Return the compiled replay of ``rule`` (any rule but reach)."""
    return REPLAYS[rule]
