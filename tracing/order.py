"""Replay orders: how one same-day policy orders every withdrawal and deposit of the ledger.

Each transaction is a withdrawal at its source and a deposit at its destination. An order
gives each of the two a *rank*; an account's events happen in rank order, and funds that
arrive with a deposit of rank ``r`` can leave with any withdrawal of rank ``> r``.

* ``ledger``: ranks are canonical positions; a transfer's two sides share one rank.
* ``worst_case``: per UTC day, every withdrawal of the day, then every deposit of the day, each
  in canonical order. Taint therefore moves at most one hop per day.
* ``best_case``: per UTC day, a transfer goes once every same-day deposit into its source has
  happened (earliest canonical position first); a same-day cycle is broken by taking the
  earliest unprocessed transfer. Both sides of a transfer share one rank.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import numba as nb
import numpy as np

from tracing.index import I64
from tracing.params import SameDayPolicy

if TYPE_CHECKING:
    from tracing.ledger import Ledger

DAY_US = 86_400 * 1_000_000


class OrderColumns(NamedTuple):
    """An order's rank arrays as the compiled kernels take them.

    The fields of :class:`Order` of the same names.
    """

    ev_tx: I64
    wd_rank: I64
    dep_rank: I64
    out_idx: I64
    out_rank: I64
    in_idx: I64
    in_rank: I64


@dataclass(frozen=True, slots=True)
class Order:
    """Ranks of one policy and the CSR adjacency sorted by them."""

    policy: SameDayPolicy
    ev_tx: I64  # rank -> transaction
    wd_rank: I64
    dep_rank: I64
    out_idx: I64  # per node, outgoing transactions by withdrawal rank
    out_rank: I64
    in_idx: I64  # per node, incoming transactions by deposit rank
    in_rank: I64
    time: I64
    day_start: I64  # first position of each transaction's day
    _aligned: dict[bool, tuple[I64, I64]] = field(default_factory=dict, compare=False)
    columns: OrderColumns = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Group the arrays for the kernels once."""
        columns = OrderColumns(*(getattr(self, name) for name in OrderColumns._fields))
        object.__setattr__(self, "columns", columns)

    def aligned(self, src: I64, dst: I64, *, forward: bool) -> tuple[I64, I64]:
        """Per CSR position: the far node and its arrival rank (computed once per side)."""
        if forward not in self._aligned:
            idx, rank = (self.out_idx, self.dep_rank) if forward else (self.in_idx, self.wd_rank)
            # In ledger order a rank is the transaction's position: the arrival ranks are the
            # CSR's own transaction array, and sharing it spares the search a third stream.
            arrive = idx if self.policy is SameDayPolicy.LEDGER else rank[idx]
            self._aligned[forward] = ((dst if forward else src)[idx], arrive)
        return self._aligned[forward]

    @property
    def n_ranks(self) -> int:
        """Number of ranks (one or two per transaction)."""
        return len(self.ev_tx)

    def seed_rank(self, time_us: int | None, *, forward: bool) -> int:
        """Rank threshold of funds placed at ``time_us``.

        Forward, withdrawals ranked above it can carry the funds; backward, deposits ranked
        below it can have brought them.
        """
        if time_us is None:
            return -1 if forward else self.n_ranks
        day = time_us // DAY_US
        if self.policy is SameDayPolicy.LEDGER:
            pos = int(np.searchsorted(self.time, time_us, side="left" if forward else "right"))
            return pos - 1 if forward else pos
        next_day = int(np.searchsorted(self.time, (day + 1) * DAY_US, side="left"))
        this_day = int(np.searchsorted(self.time, day * DAY_US, side="left"))
        if self.policy is SameDayPolicy.WORST_CASE:
            # Placed funds count as a deposit (forward) or withdrawal (backward) of the day.
            return 2 * next_day - 1 if forward else 2 * this_day
        return this_day - 1 if forward else next_day


@nb.njit(cache=True, nogil=True)
def _day_bounds(time: I64) -> tuple[I64, I64]:  # pragma: no cover - compiled
    n = time.shape[0]
    start = np.empty(n, np.int64)
    end = np.empty(n, np.int64)
    i = 0
    while i < n:
        day = time[i] // DAY_US
        j = i
        while j < n and time[j] // DAY_US == day:
            j += 1
        start[i:j] = i
        end[i:j] = j
        i = j
    return start, end


@nb.njit(cache=True, nogil=True)
def _best_case(  # pragma: no cover - compiled
    src: I64, dst: I64, start: I64, end: I64, out_ptr: I64, out_idx: I64
) -> I64:
    n = src.shape[0]
    perm = np.empty(n, np.int64)
    pending = np.zeros(out_ptr.shape[0] - 1, np.int64)
    cursor = out_ptr[:-1].copy()  # first outgoing entry not before the current day
    done = np.zeros(n, np.bool_)
    filled = 0
    s = 0
    while s < n:
        e = end[s]
        for i in range(s, e):
            pending[dst[i]] += 1
        heap = [np.int64(0)]
        heap.pop()
        for i in range(s, e):
            if pending[src[i]] == 0:
                heapq.heappush(heap, np.int64(i))
        scan = s
        for _ in range(s, e):
            if len(heap) > 0:
                i = int(heapq.heappop(heap))
            else:
                while done[scan]:
                    scan += 1
                i = scan  # a same-day cycle: statement order breaks it
            done[i] = True
            perm[filled] = i
            filled += 1
            v = dst[i]
            pending[v] -= 1
            if pending[v] == 0:
                k = cursor[v]
                while k < out_ptr[v + 1] and out_idx[k] < s:
                    k += 1
                cursor[v] = k
                while k < out_ptr[v + 1] and out_idx[k] < e:
                    if not done[out_idx[k]]:
                        heapq.heappush(heap, out_idx[k])
                    k += 1
        s = e
    return perm


@nb.njit(cache=True, nogil=True)
def _sort_segments(ptr: I64, idx: I64, rank: I64) -> tuple[I64, I64]:  # pragma: no cover
    out = idx.copy()
    for v in range(ptr.shape[0] - 1):
        seg = out[ptr[v] : ptr[v + 1]]
        if seg.shape[0] > 1:
            out[ptr[v] : ptr[v + 1]] = seg[np.argsort(rank[seg], kind="mergesort")]
    return out, rank[out]


def build_order(ledger: Ledger, policy: SameDayPolicy) -> Order:
    """Compute the ranks and rank-sorted adjacency of ``policy`` over ``ledger``."""
    n, adj = ledger.n_transactions, ledger.adj
    start, end = _day_bounds(ledger.time)
    positions = np.arange(n, dtype=np.int64)
    if policy is SameDayPolicy.LEDGER:
        return Order(
            policy,
            positions,
            positions,
            positions,
            adj.out_idx,
            adj.out_idx,
            adj.in_idx,
            adj.in_idx,
            ledger.time,
            start,
        )
    if policy is SameDayPolicy.WORST_CASE:
        wd, dep = start + positions, end + positions
        ev_tx = np.empty(2 * n, np.int64)
        ev_tx[wd], ev_tx[dep] = positions, positions
        return Order(
            policy,
            ev_tx,
            wd,
            dep,
            adj.out_idx,
            wd[adj.out_idx],
            adj.in_idx,
            dep[adj.in_idx],
            ledger.time,
            start,
        )
    perm = _best_case(ledger.src, ledger.dst, start, end, adj.out_ptr, adj.out_idx)
    rank = np.empty(n, np.int64)
    rank[perm] = positions
    out_idx, out_rank = _sort_segments(adj.out_ptr, adj.out_idx, rank)
    in_idx, in_rank = _sort_segments(adj.in_ptr, adj.in_idx, rank)
    return Order(policy, perm, rank, rank, out_idx, out_rank, in_idx, in_rank, ledger.time, start)
