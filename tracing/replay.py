"""The compiled replay: every event of the traced universe, in replay order, under one rule.

Per-account state (balance, taint, lots) is indexed by the account's position among the
trace's reached nodes, so a local trace touches arrays the size of what it reached.

Per-transaction state (``route``, ``carried`` and the piece ranges) is indexed by *slot*:
the transaction's position when the universe covers much of the ledger (dense arrays, no
lookups), or its index among the touched transactions when it is small (so a local trace
never touches pages of ledger-sized arrays).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from tracing.graph import INF
from tracing.index import I64
from tracing.params import Rule
from tracing.rules import CODES, haircut, libr, lots, poison

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
POISON, HAIRCUT, FIFO, LIFO, LIBR = (
    CODES[r] for r in (Rule.POISON, Rule.HAIRCUT, Rule.FIFO, Rule.LIFO, Rule.LIBR)
)
# meta slots (lots.py uses 0..2)
PIECES, EXITS, PLACED, SEEDED = 3, 4, 5, 6


@nb.njit(cache=True)
def collect(  # pragma: no cover - compiled
    ev_tx: I64,
    wd_rank: I64,
    dep_rank: I64,
    slot_of: I64,
    expanded: np.ndarray,
    src: I64,
    dst: I64,
    amount: I64,
    time: I64,
    end: int,
    ptr_out: I64,
    idx_out: I64,
    rank_out: I64,
    ptr_in: I64,
    idx_in: I64,
    rank_in: I64,
    nodes: I64,
    node_slots: I64,
    scan: bool,  # noqa: FBT001 - compiled kernels take positional arguments
    in_order: bool,  # noqa: FBT001 - ranks are positions (ledger order)
    keys: I64,
    who: I64,
    txs: I64,
    amounts: I64,
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
    otherwise the caller sorts them by key.
    """
    bounded = end < INF  # else no lookup of each transaction's time
    m = 0
    if scan:
        for r in range(ev_tx.shape[0]):
            t = r if in_order else ev_tx[r]
            if bounded and time[t] > end:
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
        for k in range(ptr_out[v], ptr_out[v + 1]):
            t = idx_out[k]
            if not bounded or time[t] <= end:
                keys[m], who[m], txs[m], amounts[m] = 2 * rank_out[k], c, t, amount[t]
                m += 1
        for k in range(ptr_in[v], ptr_in[v + 1]):
            t = idx_in[k]
            if not bounded or time[t] <= end:
                keys[m], who[m], txs[m], amounts[m] = 2 * rank_in[k] + 1, c, t, amount[t]
                m += 1
    return m


@nb.njit(cache=True)
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


@nb.njit(cache=True)
def routes(  # pragma: no cover - compiled
    keys: I64,
    ev_t: I64,
    slot: I64,
    src: I64,
    dst: I64,
    amount: I64,
    time: I64,
    currency: I64,
    slot_of: I64,
    expanded: np.ndarray,
    sink_reason: I64,
    on_trail: np.ndarray,
    filtering: bool,  # noqa: FBT001 - compiled kernels take positional arguments
    min_amount: I64,
    t_lo: int,
    t_hi: int,
    route: np.ndarray,
) -> None:
    """Where the taint of each touched transaction goes (written into ``route`` by slot).

    ``sink_reason`` is per reached node (by slot): why the search did not leave it, or -1.
    """
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


@nb.njit(cache=True)
def lowest_balance(  # pragma: no cover - compiled
    keys: I64,
    who: I64,
    ev_amount: I64,
    pl_key: I64,
    pl_node: I64,
    pl_amount: I64,
    n_nodes: int,
) -> I64:
    """Lowest running balance of each node (slot) from zero over its replayed events."""
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


@nb.njit(cache=True)
def open_lots(  # pragma: no cover - compiled
    store: np.ndarray, meta: I64, head: I64, tail: I64, nodes: I64, opening: I64
) -> None:
    """Each account's opening balance is its oldest lot, and clean."""
    for v in nodes:
        lots.put(store, meta, head, tail, v, opening[v], 0, False)


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
    if rule == POISON:
        return poison.withdraw(balance, taint, node, amount), at
    if rule == HAIRCUT:
        return haircut.withdraw(balance, taint, node, amount), at
    if rule == LIBR:
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
        if rule in (FIFO, LIFO):
            lots.put(store, meta, head, tail, node, pieces[k, 0], pieces[k, 1], rule == LIFO)
    if rule == POISON:
        poison.deposit(balance, taint, node, amount, tainted)
    elif rule == HAIRCUT:
        haircut.deposit(balance, taint, node, amount, tainted)
    elif rule == LIBR:
        libr.deposit(balance, taint, node, amount, tainted)
    else:
        balance[node] += amount
        taint[node] += tainted
    return tainted


@nb.njit(cache=True)
def _exit(
    exits: np.ndarray, meta: I64, slot: int, node: int, reason: int, amount: int
) -> np.ndarray:  # pragma: no cover
    if meta[EXITS] >= exits.shape[0]:
        bigger = np.full((2 * exits.shape[0] + 16, 4), -1, np.int64)
        bigger[: exits.shape[0]] = exits
        exits = bigger
    row = meta[EXITS]
    exits[row, 0], exits[row, 1], exits[row, 2], exits[row, 3] = slot, node, reason, amount
    meta[EXITS] += 1
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
    tx: int,
) -> tuple[int, np.ndarray]:
    """Credit a deposit; into an overdrawn account its first part repays the bank (exit)."""
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
            exits = _exit(exits, meta, tx, node, OVERDRAFT, carried)
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
    keys: I64,
    ev_t: I64,
    slot: I64,
    route: np.ndarray,
    who: I64,
    ev_amount: I64,
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
    with_lots = rule in (FIFO, LIFO)
    for e in range(lo, hi + 1):
        last = e == keys.shape[0]
        while meta[PLACED] < pl_key.shape[0] and (last or pl_key[meta[PLACED]] < keys[e]):
            p = meta[PLACED]
            pieces = _grow_pieces(pieces, meta[PIECES] + meta[lots.LIVE] + 4)
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
                pieces[meta[PIECES] :],
                exits,
                -1,
            )
            received[pl_node[p]] += got
            meta[SEEDED] += pl_amount[p]
            meta[PLACED] += 1
        if e == hi:
            break
        t = ev_t[e]
        s = slot[e]
        if keys[e] & 1 == 0:
            u = who[e]
            at = meta[PIECES]
            if with_lots:
                pieces = _grow_pieces(pieces, at + meta[lots.LIVE] + 4)
                c, end = _withdraw(
                    rule, balance, taint, store, meta, head, tail, u, ev_amount[e], pieces, at
                )
            else:
                c, end = _withdraw(
                    rule, balance, taint, store, meta, head, tail, u, ev_amount[e], tmp, 0
                )
            passed[u] += c
            if balance[u] < 0:
                overdrawn[u] = True
            carried[s] = c
            if route[s] == DELIVER:
                if with_lots:
                    pc_lo[s], pc_hi[s] = at, end
                    meta[PIECES] = end
            elif c > 0:
                exits = _exit(exits, meta, t, u, route[s], c)
            continue
        v = who[e]
        hot = ev_amount[e] if route[s] == INTO_SEED else (carried[s] if route[s] == DELIVER else 0)
        if route[s] == INTO_SEED:
            meta[SEEDED] += ev_amount[e]
        if not with_lots and balance[v] >= 0:
            # the common case, without lots or overdraft: two additions
            balance[v] += ev_amount[e]
            received[v] += hot
            if rule == POISON:
                if hot > 0:
                    taint[v] = 1
            else:
                taint[v] += hot
            continue
        if route[s] == DELIVER and with_lots:
            src_pieces, plo, phi = pieces, pc_lo[s], pc_hi[s]
        else:
            tmp[0, 0], tmp[0, 1], tmp[1, 0], tmp[1, 1] = hot, 1, ev_amount[e] - hot, 0
            src_pieces, plo, phi = tmp, 0, 2
        store = lots.ensure(store, meta, phi - plo + 2)
        pieces = _grow_pieces(pieces, meta[PIECES] + meta[lots.LIVE] + 4)
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
            pieces[meta[PIECES] :],
            exits,
            t,
        )
        received[v] += got
    return store, pieces, exits


@nb.njit(cache=True)
def replay_flow(  # pragma: no cover - compiled
    rule: int,
    lo: int,
    hi: int,
    keys: I64,
    ev_t: I64,
    slot: I64,
    route: np.ndarray,
    who: I64,
    ev_amount: I64,
    pl_key: I64,
    pl_node: I64,
    pl_amount: I64,
    balance: I64,
    taint: I64,
    received: I64,
    passed: I64,
    overdrawn: np.ndarray,
    carried: I64,
    store: np.ndarray,
    meta: I64,
    head: I64,
    tail: I64,
    scratch: np.ndarray,
    exits: np.ndarray,
) -> np.ndarray:
    """:func:`replay` for the rules without lots (poison, haircut, libr).

    Same events, same state, same results; kept apart because the lot bookkeeping in
    :func:`replay` (piece ranges, store growth, tuple returns on every withdrawal) made these
    rules, the common ones, three to four times slower than they need to be.
    """
    tmp = np.zeros((2, 2), np.int64)
    n_placements = pl_key.shape[0]
    placed = meta[PLACED]
    for e in range(lo, hi + 1):
        last = e == keys.shape[0]
        while placed < n_placements and (last or pl_key[placed] < keys[e]):
            v = pl_node[placed]
            tmp[0, 0], tmp[0, 1], tmp[1, 0], tmp[1, 1] = pl_amount[placed], 1, 0, 0
            got, exits = _credit(
                rule, balance, taint, store, meta, head, tail, v, tmp, 0, 1, scratch, exits, -1
            )
            received[v] += got
            meta[SEEDED] += pl_amount[placed]
            placed += 1
            meta[PLACED] = placed
        if e == hi:
            break
        key = keys[e]
        t = ev_t[e]
        s = slot[e]
        r = route[s]
        if key & 1 == 0:
            u = who[e]
            w = ev_amount[e]
            before = balance[u]
            if rule == LIBR:
                c = libr.withdraw(balance, taint, u, w)
            elif rule == HAIRCUT:
                c = haircut.withdraw(balance, taint, u, w)
            else:
                c = poison.withdraw(balance, taint, u, w)
            passed[u] += c
            if before < w:
                overdrawn[u] = True
            carried[s] = c
            if r != DELIVER and c > 0:
                exits = _exit(exits, meta, t, u, r, c)
            continue
        v = who[e]
        hot = 0
        if r == INTO_SEED:
            hot = ev_amount[e]
            meta[SEEDED] += hot
        elif r == DELIVER:
            hot = carried[s]
        if balance[v] >= 0:
            balance[v] += ev_amount[e]
            received[v] += hot
            if rule == POISON:
                if hot > 0:
                    taint[v] = 1
            else:
                taint[v] += hot
            continue
        tmp[0, 0], tmp[0, 1], tmp[1, 0], tmp[1, 1] = hot, 1, ev_amount[e] - hot, 0
        got, exits = _credit(
            rule, balance, taint, store, meta, head, tail, v, tmp, 0, 2, scratch, exits, t
        )
        received[v] += got
    return exits
