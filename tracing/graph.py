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
from tracing.index import I64

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
    rank: I64  # ascending within each node segment
    arrive: I64  # per transaction: rank at the far end
    other: I64  # per transaction: the far node
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


@nb.njit(cache=True)
def _grow(buf: I64, n: int) -> I64:  # pragma: no cover - compiled
    if n < buf.shape[0]:
        return buf
    out = np.empty(2 * buf.shape[0] + 16, np.int64)
    out[: buf.shape[0]] = buf
    return out


@nb.njit(cache=True)
def _segment(
    rank: I64, a: int, b: int, lo: int, hi: int, sign: int
) -> tuple[int, int]:  # pragma: no cover
    seg = rank[a:b]
    if sign > 0:
        return a + np.searchsorted(seg, lo, "right"), a + np.searchsorted(seg, hi, "right")
    return a + np.searchsorted(seg, -hi, "left"), a + np.searchsorted(seg, -lo, "left")


@nb.njit(cache=True)
def expand(  # noqa: PLR0913  # pragma: no cover - compiled
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
) -> tuple[I64, I64, I64, I64, I64, int, int]:
    """One hop: follow the transactions newly enabled at the frontier nodes."""
    nxt = np.empty(16, np.int64)
    n_next = 0
    reached = 0
    for f in range(fr_node.shape[0]):
        u = fr_node[f]
        k0, k1 = _segment(rank, ptr[u], ptr[u + 1], fr_lo[f], fr_hi[f], sign)
        for k in range(k0, k1):
            tx = idx[k]
            if time[tx] < t_lo or time[tx] > t_hi or amount[tx] < min_amount[currency[tx]]:
                continue
            trail_tx = _grow(trail_tx, n_trail)
            trail_hop = _grow(trail_hop, n_trail)
            trail_tx[n_trail] = tx
            trail_hop[n_trail] = hop
            n_trail += 1
            v = other[tx]
            if hops[v] < 0:
                hops[v] = hop
                reached += 1
            value = sign * arrive[tx]
            if value < arrival[v]:
                if mark[v] != hop and expandable[v]:
                    mark[v] = hop
                    prev[v] = arrival[v]
                    nxt = _grow(nxt, n_next)
                    nxt[n_next] = v
                    n_next += 1
                arrival[v] = value
                arrival_tx[v] = tx
    nodes = nxt[:n_next].copy()
    return nodes, arrival[nodes], prev[nodes], trail_tx, trail_hop, n_trail, reached


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
    frontier = np.unique(seed_nodes)
    for node, value, tx in zip(seed_nodes, seed_arrival, seed_tx, strict=True):
        if value == arrival[node] and tx >= 0:
            arrival_tx[node] = tx
    fr_lo, fr_hi = arrival[frontier], np.full(len(frontier), INF, np.int64)
    trail_tx = np.unique(seed_tx[seed_tx >= 0])
    trail_hop = np.zeros(len(trail_tx), np.int64)
    mark, prev = np.full(n_nodes, -1, np.int64), np.zeros(n_nodes, np.int64)
    n_trail, reached = len(trail_tx), len(frontier)
    for hop in range(1, max_hops + 1):
        if len(frontier) == 0:
            break
        if cancelled is not None and cancelled():
            raise TraceCancelled(f"cancelled after {hop - 1} hops")
        frontier, fr_lo, fr_hi, trail_tx, trail_hop, n_trail, more = expand(
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
