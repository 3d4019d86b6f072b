"""Time-respecting reachability over the ledger index (DESIGN §3, rule ``reach``).

Forward, a transaction ``u -> v`` is followed when its withdrawal rank is above the earliest
arrival at ``u`` reached within fewer hops; backward, mirror-wise, when its deposit rank is
below the latest departure from ``v``. Because "earliest arrival" and "fewest hops" differ on
temporal graphs, the search keeps for every node the best arrival found with at most ``h``
hops and expands hop by hop. When a node's arrival improves from ``hi`` to ``lo``, only its
transactions ranked in ``(lo, hi]`` are new: each transaction is looked at once per trace, found
by binary search in its node's CSR segment, and the ledger is never scanned.

Backward runs the same code on negated ranks over the incoming adjacency.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numba as nb
import numpy as np

from tracing.errors import TraceCancelled, TraceTooLarge
from tracing.index import I64, sorted_unique

INF = 2**62


@dataclass(frozen=True, slots=True)
class Progress:
    """What a running trace has done so far, as passed to the progress callback."""

    hops_done: int
    accounts_reached: int
    events_replayed: int


ProgressCallback = Callable[[Progress], None]
CancelCheck = Callable[[], bool]


@dataclass(frozen=True, slots=True)
class Adjacent:
    """One direction of the rank-sorted adjacency, as the kernel walks it."""

    ptr: I64
    idx: I64
    rank: I64  # per CSR position, ascending within each node segment
    arrive: I64  # per CSR position: rank at the far end
    other: I64  # per CSR position: the far node
    sign: int  # +1 forward; -1 backward (ranks negated)


@dataclass(frozen=True, slots=True)
class Reach:
    """Per node: best arrival (kernel domain), the transaction giving it, fewest hops."""

    arrival: I64
    arrival_tx: I64
    hops: I64
    trail_tx: I64
    trail_hop: I64


@dataclass(frozen=True, slots=True)
class Filters:
    """Per-transaction filters: value-time window and minimum amount (minor units)."""

    t_lo: int
    t_hi: int
    min_amount: I64  # per currency

    @property
    def active(self) -> bool:
        """Whether any transaction could be filtered out."""
        return self.t_lo > -INF or self.t_hi < INF or bool((self.min_amount > 0).any())


@nb.njit(cache=True)
def _segment(
    rank: I64, a: int, b: int, lo: int, hi: int, sign: int
) -> tuple[int, int]:  # pragma: no cover
    seg = rank[a:b]
    if sign > 0:
        return int(a + np.searchsorted(seg, lo, "right")), int(
            a + np.searchsorted(seg, hi, "right")
        )
    return int(a + np.searchsorted(seg, -hi, "left")), int(a + np.searchsorted(seg, -lo, "left"))


@nb.njit(cache=True)
def expand(  # pragma: no cover - compiled
    hop: int,
    fr_node: I64,
    fr_lo: I64,
    fr_hi: I64,
    ptr: I64,
    idx: I64,
    rank: I64,
    arrive: I64,
    other: I64,
    sign: int,
    filtering: bool,  # noqa: FBT001 - compiled kernels take positional arguments
    time: I64,
    amount: I64,
    currency: I64,
    t_lo: int,
    t_hi: int,
    min_amount: I64,
    expandable: np.ndarray,
    arrival: I64,
    arrival_tx: I64,
    hops: I64,
    mark: I64,
    prev: I64,
    trail_tx: I64,
    trail_hop: I64,
    n_trail: int,
) -> tuple[I64, I64, I64, int, int]:
    """One hop: follow the transactions newly enabled at the frontier nodes.

    ``rank``, ``arrive`` and ``other`` are aligned with the CSR positions, so the inner loop
    reads memory in order; only the optional filters look transactions up by id.
    """
    nxt = np.empty(arrival.shape[0], np.int64)  # untouched pages cost nothing
    n_next = 0
    reached = 0
    for f in range(fr_node.shape[0]):
        u = fr_node[f]
        k0, k1 = _segment(rank, ptr[u], ptr[u + 1], fr_lo[f], fr_hi[f], sign)
        for k in range(k0, k1):
            tx = idx[k]
            if filtering and (
                time[tx] < t_lo or time[tx] > t_hi or amount[tx] < min_amount[currency[tx]]
            ):
                continue
            trail_tx[n_trail] = tx
            trail_hop[n_trail] = hop
            n_trail += 1
            v = other[k]
            if hops[v] < 0:
                hops[v] = hop
                reached += 1
            value = sign * arrive[k]
            if value < arrival[v]:
                if mark[v] != hop and expandable[v]:
                    mark[v] = hop
                    prev[v] = arrival[v]
                    nxt[n_next] = v
                    n_next += 1
                arrival[v] = value
                arrival_tx[v] = tx
    nodes = nxt[:n_next].copy()
    return nodes, arrival[nodes], prev[nodes], n_trail, reached


def search(
    adj: Adjacent,
    seeds: tuple[I64, I64, I64],
    *,
    max_hops: int,
    filters: Filters,
    columns: tuple[I64, I64, I64],
    expandable: np.ndarray,
    max_accounts: int | None,
    progress: ProgressCallback | None,
    cancelled: CancelCheck | None,
) -> Reach:
    """Hop-by-hop search from ``seeds = (nodes, arrival, seed transaction or -1)``."""
    n_nodes = len(adj.ptr) - 1
    time, amount, currency = columns
    arrival = np.full(n_nodes, INF, np.int64)
    arrival_tx = np.full(n_nodes, -1, np.int64)
    hops = np.full(n_nodes, -1, np.int64)
    seed_nodes, seed_arrival, seed_tx = seeds
    np.minimum.at(arrival, seed_nodes, seed_arrival)
    hops[seed_nodes] = 0
    frontier = sorted_unique(seed_nodes)
    for node, value, tx in zip(seed_nodes, seed_arrival, seed_tx, strict=True):
        if value == arrival[node] and tx >= 0:
            arrival_tx[node] = tx
    fr_lo, fr_hi = arrival[frontier], np.full(len(frontier), INF, np.int64)
    seed_trail = sorted_unique(seed_tx[seed_tx >= 0])
    # Each transaction joins the trail at most once; np.empty pages untouched are free.
    trail_tx = np.empty(len(time) + len(seed_trail), np.int64)
    trail_hop = np.empty(len(time) + len(seed_trail), np.int64)
    trail_tx[: len(seed_trail)], trail_hop[: len(seed_trail)] = seed_trail, 0
    mark, prev = np.full(n_nodes, -1, np.int64), np.zeros(n_nodes, np.int64)
    n_trail, reached = len(seed_trail), len(frontier)
    for hop in range(1, max_hops + 1):
        if len(frontier) == 0:
            break
        if cancelled is not None and cancelled():
            raise TraceCancelled(f"cancelled after {hop - 1} hops")
        frontier, fr_lo, fr_hi, n_trail, more = expand(
            hop,
            frontier,
            fr_lo,
            fr_hi,
            adj.ptr,
            adj.idx,
            adj.rank,
            adj.arrive,
            adj.other,
            adj.sign,
            filters.active,
            time,
            amount,
            currency,
            filters.t_lo,
            filters.t_hi,
            filters.min_amount,
            expandable,
            arrival,
            arrival_tx,
            hops,
            mark,
            prev,
            trail_tx,
            trail_hop,
            n_trail,
        )
        reached += more
        if max_accounts is not None and reached > max_accounts:
            raise TraceTooLarge(f"more than {max_accounts} accounts reached by hop {hop}")
        if progress is not None:
            progress(Progress(hops_done=hop, accounts_reached=reached, events_replayed=0))
    return Reach(arrival, arrival_tx, hops, trail_tx[:n_trail], trail_hop[:n_trail])
