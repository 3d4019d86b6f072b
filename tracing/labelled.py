"""The labelled replay: the attribution replay again, keeping whose each unit of taint is.

Forward, the labels are the seeds' claimants; backward (sources of funds) every unit that
enters the backward-reachable sub-ledger is taint labelled with its origin. The replay runs the
same rule as :mod:`tracing.replay` on its own copy of the balances (so it sees the same
amounts leave each account) and keeps, per account, the taint of each label
(:mod:`tracing.rules.shares`), per account and label the taint received, per label what left
the traced universe, and the composition of chosen withdrawals (a seed payment's sources).

A withdrawal that pays on inside the universe keeps its labelled pieces in a stash until its
deposit; the stash is emptied whenever no delivery is pending (under the ledger policy, after
every deposit), so it stays the size of a few accounts' entries.

With few labels pro rata (claimants), the shares are rows of a matrix instead of vectors in a
pool (:mod:`tracing.dense`), and the taint each withdrawal carried is taken from the rule's
replay when there was one: the same units, several times faster (benchmarks/TRACE_RESULTS.md).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any, NamedTuple

import numba as nb
import numpy as np

from tracing import kernel_cache
from tracing.dense import MAX_CELLS, ROWS, Rows, row_entries
from tracing.errors import ConservationError, TraceCancelled
from tracing.graph import CancelCheck
from tracing.index import I64
from tracing.params import ClaimantRule, Rule
from tracing.replay import DELIVER, INTO_SEED, EventColumns, Placements, open_lots
from tracing.rules import haircut, libr, lots
from tracing.rules.lots import Lots
from tracing.rules.shares import Vectors, add_composition, entries, grow, lot_entries, merge, split

CHUNK = 1 << 20
# Up to this many labels (claimants), pro-rata shares are rows of a matrix (tracing.dense).
MAX_LABELS = 64
_NONE = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64))
# One record per store, updated in place: the lot helpers' ``next_row``, ``free`` and ``live``,
# then the stash's top, deliveries pending, placements done and compositions captured.
LABEL_COUNTERS = np.dtype(
    [
        ("next_row", np.int64),
        ("free", np.int64),
        ("live", np.int64),
        ("top", np.int64),
        ("pending", np.int64),
        ("placed", np.int64),
        ("captured", np.int64),
    ]
)


class Labels(NamedTuple):
    """Where labelled taint comes from, and which withdrawals to capture."""

    placed: I64  # per placement: its label
    inflow: I64  # per slot: the label of a deposit routed INTO_SEED
    capture: I64  # per slot: the seed whose composition its withdrawal is, or -1; empty: none
    short: I64  # per account: the label of what its balance did not cover; empty: clean


class LabelState(NamedTuple):
    """Per account: balance, taint, held and received entries; per label; per slot.

    ``held`` are lots (fifo claimants or lot rules), ``shares`` vectors (pro rata).
    """

    balance: I64
    taint: I64
    held: Lots
    shares: Vectors
    received: Vectors
    exited: I64  # per label: taint that left the traced universe
    slot_lo: I64  # per slot: a delivered withdrawal's pieces in the stash
    slot_hi: I64


@nb.njit(cache=True, nogil=True)
def _tainted(pieces: np.ndarray, lo: int, hi: int) -> int:  # pragma: no cover - compiled
    total = 0
    for k in range(lo, hi):
        if pieces[k, 1] > 0:
            total += pieces[k, 0]
    return total


@nb.njit(cache=True, nogil=True)
def _exited(exited: I64, pieces: np.ndarray, lo: int, hi: int) -> None:  # pragma: no cover
    for k in range(lo, hi):
        if pieces[k, 1] > 0:
            exited[pieces[k, 1]] += pieces[k, 0]


@nb.njit(cache=True, nogil=True)
def _take(  # pragma: no cover - compiled
    store: np.ndarray,
    hpool: np.ndarray,
    st: LabelState,
    u: int,
    w: int,
    carried: int,
    pieces: np.ndarray,
    at: int,
    lots_carry: bool,  # noqa: FBT001 - compiled kernels take positional arguments
    queue: bool,  # noqa: FBT001
    short: int,
) -> tuple[int, int]:
    """Label the taint ``w`` takes from ``u``; return the taint and the pieces' end.

    With ``lots_carry`` the labels ride on ``u``'s lots; otherwise the rule's withdraw has
    already taken ``carried`` from ``st.taint[u]`` and the labels come from ``u``'s queue of
    lots or pro rata from its vector. ``short`` > 0 labels the part of ``w`` that ``u``'s
    balance did not cover (sources of funds: the bank's credit to ``u``); 0 leaves it clean.
    """
    if lots_carry:
        _, end = lots.take(store, st.held, u, w, pieces, at)
        # every unit is labelled where ``short`` is given: a clean piece is the shortfall
        if short > 0 and end > at and pieces[end - 1, 1] == 0:
            pieces[end - 1, 1] = short
        carried = _tainted(pieces, at, end)
        st.balance[u] -= w
        st.taint[u] -= carried
        return carried, end
    if queue:
        _, end = lots.take(store, st.held, u, carried, pieces, at)
    else:
        end = split(hpool, st.shares, u, st.taint[u] + carried, carried, pieces, at)
    if short > 0 and w > carried:
        pieces[end, 0], pieces[end, 1] = w - carried, short
        return w, end + 1
    return carried, end


def _make_labelled(rule: ModuleType, lots_carry: bool, newest_first: bool, queue: bool) -> Any:  # noqa: FBT001
    """Make the labelled replay of one rule and claimant rule.

    ``lots_carry``: the rule is ``fifo``/``lifo`` and the labels ride on its lots (label 0
    clean); otherwise ``rule``'s withdraw decides how much taint leaves and the labels are
    taken from a queue of taint lots (``queue``, Clayton's Case among the claimants) or pro
    rata from a vector.
    """

    @nb.njit(cache=True, nogil=True)
    @kernel_cache.variant(rule, lots_carry, newest_first, queue)
    def replay_labels(  # pragma: no cover - compiled
        lo: int,
        hi: int,
        ev: EventColumns,
        placed: Placements,
        labels: Labels,
        st: LabelState,
        stores: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
        counters: np.ndarray,
        keep_received: bool,  # noqa: FBT001 - compiled kernels take positional arguments
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Replay events ``lo..hi`` and the placements before them, labels and all.

        ``stores`` are the held lots, the held and received vectors' pools, the stash and
        the captured rows; they are returned, any of them maybe grown. ``counters`` holds
        three LABEL_COUNTERS records: the lots', the received pool's and the held pool's (which
        ``st.held``, ``st.received`` and ``st.shares`` hold too; the lots' has the kernel's own).
        Without ``keep_received`` the taint received is not kept (sources of funds need only
        what is held and what the seeds were made of).
        """
        store, rpool, hpool, stash, captured = stores
        c = counters[0]
        # read once: taking a record out of ``st`` in the loop counts references to each of its
        # arrays every time (it showed on claimant traces: benchmarks/TRACE_RESULTS.md)
        held, shares, received = st.held, st.shares, st.received
        short_of = labels.short
        n_placements = placed.key.shape[0]
        p, e = c.placed, lo
        while True:
            clean = 0
            if p < n_placements and (e == ev.key.shape[0] or placed.key[p] < ev.key[e]):
                v, plo = placed.node[p], c.top
                stash = grow(stash, plo + 1)
                stash[plo, 0], stash[plo, 1] = placed.amount[p], labels.placed[p]
                phi = plo + 1
                p += 1
                c.placed = p
            else:
                if e == hi:
                    break
                s, w = ev.slot[e], ev.amount[e]
                r = ev.route[s]
                e += 1
                if ev.key[e - 1] & 1 == 0:
                    at, u = c.top, ev.who[e - 1]
                    # room for every lot, or every entry of a vector (a hub's many origins)
                    stash = grow(stash, at + c.live + shares.size[u] + 4)
                    carried = 0 if lots_carry else rule.withdraw(st.balance, st.taint, u, w)
                    sh = short_of[u] if short_of.shape[0] > 0 else 0
                    carried, end = _take(
                        store, hpool, st, u, w, carried, stash, at, lots_carry, queue, sh
                    )
                    cap = labels.capture[s] if labels.capture.shape[0] > 0 else -1
                    if cap >= 0:
                        rest = 0 if lots_carry else w - carried
                        captured = add_composition(captured, c, cap, stash, at, end, rest)
                    if r == DELIVER:
                        st.slot_lo[s], st.slot_hi[s] = at, end
                        c.top = end
                        c.pending += 1
                    else:
                        _exited(st.exited, stash, at, end)
                    continue
                v = ev.who[e - 1]
                if r == DELIVER:
                    plo, phi = st.slot_lo[s], st.slot_hi[s]
                    c.pending -= 1
                    if not lots_carry:
                        clean = w - _tainted(stash, plo, phi)
                else:
                    plo = c.top
                    stash = grow(stash, plo + 2)
                    hot = w if r == INTO_SEED else 0
                    stash[plo, 0], stash[plo, 1] = hot, labels.inflow[s]
                    stash[plo + 1, 0], stash[plo + 1, 1] = w - hot, 0
                    phi = plo + (2 if lots_carry else 1)
                    clean = 0 if lots_carry else w - hot
            # credit ``v`` with the pieces ``stash[plo:phi]`` and ``clean`` clean money
            if queue:
                store = lots.ensure(store, held, phi - plo + 2)
            debt = -st.balance[v] if st.balance[v] < 0 else 0
            st.balance[v] += debt
            amount, tainted = clean, 0
            for k in range(plo, phi):
                amount += stash[k, 0]
                if stash[k, 1] > 0:
                    tainted += stash[k, 0]
                if queue and (lots_carry or stash[k, 1] > 0):
                    lots.put(store, held, v, stash[k, 0], stash[k, 1], newest_first)
            if not queue:
                hpool = merge(hpool, shares, v, stash, plo, phi)
            if keep_received:
                rpool = merge(rpool, received, v, stash, plo, phi)
            haircut.deposit(st.balance, st.taint, v, amount, tainted)
            if debt > 0:
                # into an overdrawn account the deposit's first part repays the bank (an exit)
                repay = min(debt, amount)
                at = max(c.top, phi)
                stash = grow(stash, at + c.live + shares.size[v] + 4)
                repaid = 0 if lots_carry else rule.withdraw(st.balance, st.taint, v, repay)
                _, end = _take(store, hpool, st, v, repay, repaid, stash, at, lots_carry, queue, 0)
                _exited(st.exited, stash, at, end)
                st.balance[v] -= debt - repay
            if c.pending == 0:
                c.top = 0
        return store, rpool, hpool, stash, captured

    return replay_labels


_KERNELS = {
    (Rule.FIFO, ClaimantRule.FIFO): (lots, True, False, True),
    (Rule.LIFO, ClaimantRule.LIFO): (lots, True, True, True),
    (Rule.HAIRCUT, ClaimantRule.PRO_RATA): (haircut, False, False, False),
    (Rule.HAIRCUT, ClaimantRule.FIFO): (haircut, False, False, True),
    (Rule.LIBR, ClaimantRule.PRO_RATA): (libr, False, False, False),
    (Rule.LIBR, ClaimantRule.FIFO): (libr, False, False, True),
}
LABELLED = {key: _make_labelled(*how) for key, how in _KERNELS.items()}


@dataclass(frozen=True, slots=True)
class Labelled:
    """What the labelled replay leaves: entries as (account index, label, amount) arrays."""

    held: tuple[I64, I64, I64]
    received: tuple[I64, I64, I64]
    exited: I64  # per label
    captured: np.ndarray  # rows: seed, label (0: not covered, an overdraft), amount
    balance: I64 | None  # None: not replayed (the taint carried was given)
    taint: I64


def replay_labelled(
    rule: Rule,
    by: ClaimantRule,
    ev: EventColumns,
    placed: Placements,
    labels: Labels,
    opening: I64,
    n_labels: int,
    *,
    keep_received: bool = True,
    carried: I64 | None = None,
    tainted: np.ndarray | None = None,
    cancelled: CancelCheck | None,
) -> Labelled:
    """Replay ``ev`` under ``rule``, sharing taint by ``by`` (pari passu replays pro rata).

    Labels run from 1 to ``n_labels``; ``opening`` (per account) is clean money. Without
    ``keep_received`` the result's ``received`` entries are empty. ``carried``: per slot, the
    taint each withdrawal carried in the rule's replay of the same events, if there was one
    and no account went overdrawn in it: then only the withdrawals that carried taint, and
    their deposits, are replayed (pro rata), and the result's ``balance`` is None.
    ``tainted``: per account, whether the rule's replay credited it with taint, if known (then
    only those accounts have rows of shares).
    """
    n_nodes, n_slots = len(opening), len(ev.route)
    lots_carry = rule in (Rule.FIFO, Rule.LIFO)
    pro_rata = by is not ClaimantRule.FIFO and not lots_carry
    # the dense rows leave a shortfall clean: labelled shortfalls take the vectors
    dense = n_labels <= MAX_LABELS and n_nodes * (n_labels + 1) <= MAX_CELLS
    if pro_rata and dense and not labels.short.any():
        known = np.empty(0, np.int64) if carried is None else carried
        out = _replay_rows(rule, ev, placed, labels, opening, n_labels, known, tainted, cancelled)
        return out if keep_received else replace(out, received=_NONE)
    kernel = LABELLED[rule, ClaimantRule.PRO_RATA if by is ClaimantRule.PARI_PASSU else by]

    counters = np.zeros(3, LABEL_COUNTERS)
    counters["free"] = -1
    where = np.full(n_labels + 1, -1, np.int64)

    def vectors(k: int) -> Vectors:
        start, size = np.full(n_nodes, -1, np.int64), np.zeros(n_nodes, np.int64)
        return Vectors(start, size, np.zeros(n_nodes, np.int64), where, counters[k : k + 1])

    state = LabelState(
        opening.astype(np.int64, copy=True),
        np.zeros(n_nodes, np.int64),
        Lots(np.full(n_nodes, -1, np.int64), np.full(n_nodes, -1, np.int64), counters[0:1]),
        vectors(2),
        vectors(1),
        np.zeros(n_labels + 1, np.int64),
        np.empty(n_slots, np.int64),
        np.empty(n_slots, np.int64),
    )
    opened = np.flatnonzero(opening > 0) if lots_carry else np.empty(0, np.int64)
    store = np.empty((len(opened) + len(placed.key) + 64, 3), np.int64)
    open_lots(store, state.held, opened, opening)

    def pool() -> np.ndarray:
        return np.empty((8 * len(placed.key) + 64, 2), np.int64)

    stores = (store, pool(), pool(), np.empty((256, 3), np.int64))
    captured = np.empty((16, 3), np.int64)
    n_events = len(ev.key)
    for lo in range(0, n_events + 1, CHUNK):
        if cancelled is not None and cancelled():
            raise TraceCancelled(f"cancelled after replaying {lo} labelled events")
        hi = min(lo + CHUNK, n_events)
        *grown, captured = kernel(
            lo, hi, ev, placed, labels, state, (*stores, captured), counters, keep_received
        )
        stores = tuple(grown)
    if lots_carry or by is ClaimantRule.FIFO:
        node, label, amount = lot_entries(stores[0], state.held.head)
        keep = label > 0  # clean lots ride along under the lot rules
        held = node[keep], label[keep], amount[keep]
    else:
        held = entries(stores[2], state.shares)
    return Labelled(
        held,
        entries(stores[1], state.received),
        state.exited,
        captured[: counters[0]["captured"]].copy(),
        state.balance,
        state.taint,
    )


def _replay_rows(
    rule: Rule,
    ev: EventColumns,
    placed: Placements,
    labels: Labels,
    opening: I64,
    n_labels: int,
    carried: I64,
    tainted: np.ndarray | None,
    cancelled: CancelCheck | None,
) -> Labelled:
    """Replay pro rata with the shares as dense rows (few labels).

    With ``tainted`` only the accounts it names have rows (at 10M transactions, a row for
    each of 873,526 reached accounts was 294 MB of fresh pages for 118,965 that held taint);
    the others share one spare row, which must stay empty.
    """
    n_nodes, n_slots = len(opening), len(ev.route)
    if tainted is None:
        owner, row_of = np.arange(n_nodes), np.arange(n_nodes)
    else:
        owner = np.flatnonzero(tainted)
        row_of = np.full(n_nodes, len(owner), np.int64)
        row_of[owner] = np.arange(len(owner))
    n_rows = len(owner) + (tainted is not None)
    state = Rows(
        opening.astype(np.int64, copy=True),
        np.zeros(n_nodes, np.int64),
        np.zeros((n_rows, n_labels + 1), np.int64),
        np.zeros((n_rows, n_labels + 1), np.int64),
        row_of,
        np.zeros(n_labels + 1, np.int64),
        np.empty(n_slots, np.int64),
        np.empty(n_slots, np.int64),
        carried,
    )
    counters = np.zeros(1, LABEL_COUNTERS)
    stash, captured = np.empty((256, 3), np.int64), np.empty((16, 3), np.int64)
    kernel, n_events = ROWS[str(rule)], len(ev.key)
    for lo in range(0, n_events + 1, CHUNK):
        if cancelled is not None and cancelled():
            raise TraceCancelled(f"cancelled after replaying {lo} labelled events")
        hi = min(lo + CHUNK, n_events)
        stash, captured = kernel(
            lo,
            hi,
            ev,
            placed,
            labels.placed,
            labels.inflow,
            labels.capture,
            state,
            stash,
            captured,
            counters,
        )
    spare = state.held[len(owner) :], state.received[len(owner) :]
    if any(rows.any() for rows in spare):
        raise ConservationError("an account the rule's replay gave no taint holds some")
    return Labelled(
        _entries(state.held[: len(owner)], owner),
        _entries(state.received[: len(owner)], owner),
        state.exited,
        captured[: counters[0]["captured"]].copy(),
        None if len(carried) else state.balance,
        state.taint,
    )


def _entries(rows: np.ndarray, owner: I64) -> tuple[I64, I64, I64]:
    """Return the non-zero cells of ``rows`` (row ``i`` is account ``owner[i]``'s)."""
    node, label, amount = row_entries(rows)
    return owner[node], label, amount
