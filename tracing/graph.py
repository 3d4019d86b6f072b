"""Time-respecting reachability over the ledger index (DESIGN §3, rule ``reach``).

Forward, a transaction ``u -> v`` is followed when its withdrawal rank is above the earliest
arrival at ``u`` reached within fewer hops; backward, mirror-wise, when its deposit rank is
below the latest departure from ``v``. Because "earliest arrival" and "fewest hops" differ on
temporal graphs, the search keeps for every node the best arrival found with at most ``h``
hops and expands hop by hop. When a node's arrival improves from ``hi`` to ``lo``, only its
transactions ranked in ``(lo, hi]`` are new: each transaction is looked at once per trace, found
by binary search in its node's CSR segment, and the ledger is never scanned.

Backward runs the same code on negated ranks over the incoming adjacency.

The per-node state lives in a per-thread :class:`Workspace` kept by the ledger and reset only
where a trace touched it, so a trace costs what it reaches, not the size of the ledger. The
workspace is kept between traces, per thread that traces: 64 bytes per node, 5 per trail
transaction, and the buffers of its largest replay's events (32 bytes per event, at most two
events per transaction); the last two are virtual until touched.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NamedTuple

import numba as nb
import numpy as np
import numpy.typing as npt

from tracing.errors import TraceCancelled, TraceTooLarge
from tracing.index import I64, LedgerColumns, member

INF = 2**62
ARRIVAL, ARRIVAL_TX, HOPS, MARK = range(4)  # columns of a workspace's node state
TRAIL_SPARE = 1024  # room for seed transactions, which may be followed again
DENSE_FACTOR = 32  # reached nodes above 1/32 of all: list them by a scan, not a sort
HAND_OFF = 1 << 16  # trails longer than this take the workspace's buffers instead of a copy


@dataclass(frozen=True, slots=True)
class Progress:
    """What a running trace has done so far, as passed to the progress callback."""

    hops_done: int
    accounts_reached: int
    events_replayed: int


ProgressCallback = Callable[[Progress], None]
CancelCheck = Callable[[], bool]


class Adjacent(NamedTuple):
    """One direction of the rank-sorted adjacency, as the kernel walks it."""

    ptr: I64
    idx: I64
    rank: I64  # per CSR position, ascending within each node segment
    arrive: I64  # per CSR position: rank at the far end
    other: I64  # per CSR position: the far node
    sign: int  # +1 forward; -1 backward (ranks negated)


@dataclass(frozen=True, slots=True)
class Reach:
    """Reached nodes (ascending) with their best arrival, its transaction, fewest hops.

    ``arrival`` is in the kernel domain; ``arrival_tx`` and ``hops`` are aligned with ``nodes``.
    """

    nodes: I64
    arrival: I64
    arrival_tx: I64
    hops: I64
    trail_tx: np.ndarray  # int32 positions where they fit
    trail_hop: np.ndarray  # int8


class Cutoff(NamedTuple):
    """Which nodes the search may leave.

    Seeds always; other nodes unless above the degree cut-off or a stopped account.
    """

    seeds: I64  # sorted unique seed nodes
    degree: I64  # per node: counterparties
    max_degree: int
    node_account: I64  # per node: account id
    stop_accounts: I64  # sorted account ids not to expand


def trail_buffers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Room for ``n`` trail entries: transaction positions and hops, as narrow as they fit.

    A saturated trace's trail is handed to its result, so every such trace writes fresh
    memory, and first touches are dear: at 10M transactions, int32 positions and int8 hops
    are 45 MB to fault in where two int64 arrays were 140 MB.
    """
    tx_type = np.int32 if n < 2**31 else np.int64
    return np.empty(n, tx_type), np.empty(n, np.int8)  # hops <= MAX_HOPS (64) fit a byte


class Workspace:
    """Per-node scratch arrays of one search, kept between traces and reset where touched.

    A trace then costs what it reaches, not what the ledger holds. Not thread-safe: see
    :class:`Workspaces`.
    """

    def __init__(self, n_nodes: int, n_tx: int) -> None:
        self.n_nodes, self.n_tx = n_nodes, n_tx
        # One row per node (ARRIVAL, ARRIVAL_TX, HOPS, MARK): a node's whole state shares a
        # cache line, so a followed transaction costs one miss, not four.
        self.state = np.empty((n_nodes, 4), np.int64)
        self.state[:] = (INF, -1, -1, -1)
        self.arrival, self.arrival_tx = self.state[:, ARRIVAL], self.state[:, ARRIVAL_TX]
        self.hops, self.mark = self.state[:, HOPS], self.state[:, MARK]
        self.prev = np.zeros(n_nodes, np.int64)
        self.nxt = np.empty(n_nodes, np.int64)
        self.touched = np.empty(n_nodes, np.int64)
        # node -> index among a trace's reached nodes while its replay collects events
        self.slot = np.full(n_nodes, -1, np.int64)
        # Each transaction joins the trail at most once; np.empty pages untouched are free.
        self.trail_tx, self.trail_hop = trail_buffers(n_tx + TRAIL_SPARE)
        self.n_touched = 0  # entries of ``touched`` in use
        self._events = np.empty((4, 0), np.int64)  # see event_buffers
        self.busy = False

    def event_buffers(self, n: int) -> tuple[I64, I64, I64, I64]:
        """Four arrays of at least ``n`` entries for a replay's events, kept between traces.

        Memory first touched is dear (at 10M transactions, faulting in a saturated replay's
        630 MB of events took longer than the collecting scan itself), so the buffers are
        reused; they stay allocated, virtual beyond what a trace touched, with the workspace.
        The caller must not let them outlive its hold on the workspace.
        """
        if self._events.shape[1] < n:
            self._events = np.empty((4, n), np.int64)
        keys, who, txs, amounts = self._events
        return keys, who, txs, amounts

    def reset(self) -> None:
        """Restore the initial values at the touched nodes."""
        _reset(self.touched, self.n_touched, self.state)
        self.n_touched = 0


class Workspaces:
    """One :class:`Workspace` per thread (``threading.local``), made on first use."""

    def __init__(self) -> None:
        self._local = threading.local()

    @contextmanager
    def acquire(self, n_nodes: int, n_tx: int) -> Iterator[Workspace]:
        """Lend this thread's workspace, or a fresh one if it is in use (a nested trace).

        The touched nodes are reset when it is given back, whether its holder is done or failed.
        """
        ws: Workspace | None = getattr(self._local, "ws", None)
        if ws is None or ws.n_nodes != n_nodes or ws.n_tx != n_tx:
            ws = Workspace(n_nodes, n_tx)
            self._local.ws = ws
        elif ws.busy:
            ws = Workspace(n_nodes, n_tx)
        ws.busy = True
        try:
            yield ws
        finally:
            ws.reset()
            ws.busy = False


@nb.njit(cache=True, nogil=True)
def _reset(touched: I64, n: int, state: I64) -> None:  # pragma: no cover - compiled
    for i in range(n):
        v = touched[i]
        state[v, ARRIVAL] = INF
        state[v, ARRIVAL_TX] = -1
        state[v, HOPS] = -1
        state[v, MARK] = -1


NO_MASK: npt.NDArray[np.bool_] = np.empty(0, np.bool_)


class Filters(NamedTuple):
    """Per-transaction filters: value-time window, minimum amount (minor units) and mask.

    ``visible`` is the trace's transaction mask (:class:`tracing.mask.Mask`): per position,
    whether the transaction exists for this trace; empty (:data:`NO_MASK`) when every one does.
    A masked transaction is neither followed nor replayed: the trace is the one it would be
    over the ledger without it.
    """

    active: bool  # whether any transaction could be filtered out by window or minimum
    t_lo: int
    t_hi: int
    min_amount: I64  # per currency
    visible: npt.NDArray[np.bool_] = NO_MASK

    @classmethod
    def of(
        cls,
        t_lo: int,
        t_hi: int,
        min_amount: I64,
        visible: npt.NDArray[np.bool_] = NO_MASK,
    ) -> Filters:
        """Build the filters, deciding once whether they can exclude anything."""
        active = t_lo > -INF or t_hi < INF or bool((min_amount > 0).any())
        return cls(active, t_lo, t_hi, min_amount, visible)


class SearchState(NamedTuple):
    """A search's scratch (see :class:`Workspace`) and the trail it writes."""

    state: I64  # per node: ARRIVAL, ARRIVAL_TX, HOPS, MARK
    prev: I64
    nxt: I64
    touched: I64
    trail_tx: np.ndarray
    trail_hop: np.ndarray


@nb.njit(cache=True, nogil=True)
def _segment(
    rank: I64, a: int, b: int, lo: int, hi: int, sign: int
) -> tuple[int, int]:  # pragma: no cover
    seg = rank[a:b]
    if sign > 0:
        return int(a + np.searchsorted(seg, lo, "right")), int(
            a + np.searchsorted(seg, hi, "right")
        )
    return int(a + np.searchsorted(seg, -hi, "left")), int(a + np.searchsorted(seg, -lo, "left"))


def search(
    ws: Workspace,
    adj: Adjacent,
    seeds: tuple[I64, I64, I64],
    *,
    max_hops: int,
    filters: Filters,
    columns: LedgerColumns,
    cutoff: Cutoff,
    max_accounts: int | None,
    progress: ProgressCallback | None,
    cancelled: CancelCheck | None,
) -> Reach:
    """Hop-by-hop search from ``seeds = (nodes, arrival, seed transaction or -1)``.

    The per-node state lives in ``ws`` (from :meth:`Workspaces.acquire`, which resets it at
    the touched nodes when the search ends or fails), so the cost follows the nodes reached.
    """
    time = columns.time
    seed_nodes, seed_arrival, seed_tx = seeds
    if len(seed_tx) + len(time) > len(ws.trail_tx):  # seed transactions may be followed again
        trail_tx, trail_hop = trail_buffers(len(time) + len(seed_tx))
    else:
        trail_tx, trail_hop = ws.trail_tx, ws.trail_hop
    frontier, fr_lo, fr_hi, n_touched, n_trail = _start(
        seed_nodes, seed_arrival, seed_tx, ws.state, ws.touched, trail_tx, trail_hop,
    )  # fmt: skip
    ws.n_touched = n_touched
    scratch = SearchState(ws.state, ws.prev, ws.nxt, ws.touched, trail_tx, trail_hop)
    # Without callbacks every hop runs in one compiled call: a local trace is then a handful
    # of calls, not a dozen, and Python is back only when the search is done.
    step = 1 if progress is not None or cancelled is not None else max_hops
    limit = INF if max_accounts is None else max_accounts
    hop = 1
    while hop <= max_hops and len(frontier):
        if cancelled is not None and cancelled():
            raise TraceCancelled(f"cancelled after {hop - 1} hops")
        done, frontier, fr_lo, fr_hi, n_trail, n_touched = _hops(
            hop,
            min(hop + step - 1, max_hops),
            limit,
            frontier,
            fr_lo,
            fr_hi,
            adj,
            filters,
            columns,
            cutoff,
            scratch,
            n_touched,
            n_trail,
        )
        ws.n_touched = n_touched
        if n_touched > limit:
            raise TraceTooLarge(f"more than {max_accounts} accounts reached by hop {done}")
        if progress is not None:
            progress(Progress(hops_done=done, accounts_reached=n_touched, events_replayed=0))
        hop = done + 1
    dense = n_touched * DENSE_FACTOR > ws.n_nodes  # sorting would cost more than a scan
    nodes, arrival, arrival_tx, hops = _finish(dense, ws.touched, n_touched, ws.state)
    ws.n_touched = 0  # _finish reset the touched nodes
    if n_trail > HAND_OFF and trail_tx is ws.trail_tx:
        # A long trail keeps the buffers (a copy would cost more); the next trace makes new ones.
        ws.trail_tx, ws.trail_hop = trail_buffers(len(trail_tx))
        trail = trail_tx[:n_trail], trail_hop[:n_trail]
    else:
        trail = trail_tx[:n_trail].copy(), trail_hop[:n_trail].copy()
    return Reach(nodes, arrival, arrival_tx, hops, *trail)


@nb.njit(cache=True, nogil=True)
def _start(  # pragma: no cover - compiled
    seed_nodes: I64,
    seed_arrival: I64,
    seed_tx: I64,
    state: I64,
    touched: I64,
    trail_tx: np.ndarray,
    trail_hop: np.ndarray,
) -> tuple[I64, I64, I64, int, int]:
    """Place the seeds: the first frontier, touched nodes and the seed transactions' trail."""
    frontier = np.unique(seed_nodes)
    touched[: frontier.shape[0]] = frontier
    for i in range(seed_nodes.shape[0]):
        v = seed_nodes[i]
        state[v, ARRIVAL] = min(state[v, ARRIVAL], seed_arrival[i])
        state[v, HOPS] = 0
    for i in range(seed_nodes.shape[0]):
        v = seed_nodes[i]
        if seed_arrival[i] == state[v, ARRIVAL] and seed_tx[i] >= 0:
            state[v, ARRIVAL_TX] = seed_tx[i]
    seed_trail = np.unique(seed_tx[seed_tx >= 0])
    trail_tx[: seed_trail.shape[0]] = seed_trail
    trail_hop[: seed_trail.shape[0]] = 0
    fr_hi = np.full(frontier.shape[0], INF, np.int64)
    fr_lo = state[frontier, ARRIVAL].copy()
    return frontier, fr_lo, fr_hi, frontier.shape[0], seed_trail.shape[0]


@nb.njit(cache=True, nogil=True)
def _hops(  # pragma: no cover - compiled
    first: int,
    last: int,
    limit: int,
    frontier: I64,
    fr_lo: I64,
    fr_hi: I64,
    adj: Adjacent,
    filters: Filters,
    cols: LedgerColumns,
    cutoff: Cutoff,
    scratch: SearchState,
    n_touched: int,
    n_trail: int,
) -> tuple[int, I64, I64, I64, int, int]:
    """Hops ``first..last``: at each, follow the transactions newly enabled at the frontier.

    Fewer hops are done when the frontier empties or more than ``limit`` nodes are reached;
    returns the last hop done and the state to go on from. ``rank``, ``arrive`` and ``other``
    are aligned with the CSR positions, so the inner loop reads memory in order; only the
    optional filters look transactions up by id. Newly reached nodes are appended to
    ``touched``.
    """
    ptr, idx, rank, arrive, other, sign = adj
    filtering, t_lo, t_hi, min_amount, visible = filters
    masked = visible.shape[0] > 0
    time, amount, currency = cols.time, cols.amount, cols.currency
    seeds, degree, max_degree, node_account, stop = cutoff
    state, prev, nxt, touched, trail_tx, trail_hop = scratch
    # Without cut-off or stop list every node is expandable: skip reading its degree.
    unlimited = max_degree >= INF and stop.shape[0] == 0
    hop = first
    while True:
        n_next = 0
        for f in range(frontier.shape[0]):
            u = frontier[f]
            k0, k1 = _segment(rank, ptr[u], ptr[u + 1], fr_lo[f], fr_hi[f], sign)
            for k in range(k0, k1):
                tx = idx[k]
                if masked and not visible[tx]:
                    continue
                if filtering and (
                    time[tx] < t_lo or time[tx] > t_hi or amount[tx] < min_amount[currency[tx]]
                ):
                    continue
                trail_tx[n_trail] = tx
                trail_hop[n_trail] = hop
                n_trail += 1
                v = other[k]
                if state[v, HOPS] < 0:
                    state[v, HOPS] = hop
                    touched[n_touched] = v
                    n_touched += 1
                value = sign * arrive[k]
                if value < state[v, ARRIVAL]:
                    # expandable: not above the cut-off and not stopped, or a seed
                    if state[v, MARK] != hop and (
                        unlimited
                        or (
                            degree[v] <= max_degree
                            and (stop.shape[0] == 0 or not member(stop, node_account[v]))
                        )
                        or member(seeds, v)
                    ):
                        state[v, MARK] = hop
                        prev[v] = state[v, ARRIVAL]
                        nxt[n_next] = v
                        n_next += 1
                    state[v, ARRIVAL] = value
                    state[v, ARRIVAL_TX] = tx
                elif value == state[v, ARRIVAL] and state[v, ARRIVAL_TX] < 0:
                    # A seed placed at a time whose rank threshold is this very transfer: the
                    # same funds reach no further, but the transfer brought them first, so it
                    # dates the arrival (reached_at), as it would one rank earlier.
                    state[v, ARRIVAL_TX] = tx
        frontier = nxt[:n_next].copy()
        fr_lo, fr_hi = state[frontier, ARRIVAL].copy(), prev[frontier]
        if hop >= last or n_next == 0 or n_touched > limit:
            return hop, frontier, fr_lo, fr_hi, n_trail, n_touched
        hop += 1


@nb.njit(cache=True, nogil=True)
def _finish(  # pragma: no cover - compiled
    dense: bool,  # noqa: FBT001 - compiled kernels take positional arguments
    touched: I64,
    n_touched: int,
    state: I64,
) -> tuple[I64, I64, I64, I64]:
    """Return the reached nodes (ascending) and their state; reset it for the next trace."""
    # dense: a scan of the ledger-sized array beats sorting a large part of it
    nodes = np.flatnonzero(state[:, HOPS] >= 0) if dense else np.sort(touched[:n_touched])
    out_arrival = state[nodes, ARRIVAL].copy()
    out_tx, out_hops = state[nodes, ARRIVAL_TX].copy(), state[nodes, HOPS].copy()
    _reset(touched, n_touched, state)
    return nodes, out_arrival, out_tx, out_hops
