"""``trace``: resolve seeds, search, replay, and assemble the result."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, Decimal

import numba as nb
import numpy as np

from tracing.attribution import (
    Attribution,
    Events,
    Placements,
    Universe,
    attribute,
    collect_events,
)
from tracing.build import Extra, build_result
from tracing.claimants import NamedInflows, claimant_shares
from tracing.errors import UnknownSeed
from tracing.graph import (
    INF,
    Adjacent,
    CancelCheck,
    Cutoff,
    Filters,
    ProgressCallback,
    Reach,
    search,
)
from tracing.index import I64, member, sorted_unique
from tracing.ledger import Ledger
from tracing.mask import Mask
from tracing.order import Order
from tracing.params import Direction, Rule, TraceParams
from tracing.replay import HIGH_DEGREE, STOPPED, EventColumns
from tracing.result import ENGINE_VERSION, Provenance, TraceResult
from tracing.searched import Searched
from tracing.sources import trace_sources


def _us(value: datetime | None, default: int) -> int:
    if value is None:
        return default
    return int(value.timestamp()) * 1_000_000 + value.microsecond


@dataclass(frozen=True, slots=True)
class Seeds:
    """Resolved seeds in the search's arrival domain, plus placements for attribution."""

    nodes: I64
    arrival: I64
    tx: I64
    placements: Placements
    times: I64  # per seed: value time of the arrival, -1 when "from the start"
    placed_seed: I64  # per placement: its seed, by index in the parameters' seeds


def resolve_seeds(
    ledger: Ledger, order: Order, params: TraceParams, mask: Mask | None = None
) -> Seeds:
    """Map seed accounts and transactions to nodes and arrival ranks.

    Under ``mask`` an account none of whose transactions is visible, and a hidden transaction,
    are unknown, as they would be in the ledger without the hidden rows.
    """
    forward = params.direction is Direction.FORWARD
    nodes = ledger.nodes_of([s.account for s in params.seeds], [s.currency for s in params.seeds])
    if mask is not None:
        nodes = mask.known(nodes)
    if (nodes < 0).any():
        bad = [
            f"{s.account} ({s.currency})" for s, n in zip(params.seeds, nodes, strict=True) if n < 0
        ]
        raise UnknownSeed(f"no such account in the ledger: {', '.join(bad)}")
    pos = (
        ledger.positions_of(params.seed_transactions)
        if params.seed_transactions
        else np.empty(0, np.int64)
    )
    if mask is not None and len(pos):  # most traces start from accounts: no array work
        pos = np.where((pos >= 0) & mask.visible[np.maximum(pos, 0)], pos, -1)
    if (pos < 0).any():
        bad = [t for t, p in zip(params.seed_transactions, pos, strict=True) if p < 0]
        raise UnknownSeed(f"no such transaction in the ledger: {', '.join(bad)}")
    default = params.window_start if forward else params.window_end
    # Seeds usually share one time (or none): each distinct time is ranked once.
    times_us = [None if t is None else _us(t, 0) for t in (s.at or default for s in params.seeds)]
    rank_of = {t: order.seed_rank(t, forward=forward) for t in set(times_us)}
    ranks = np.array([rank_of[t] for t in times_us], np.int64)
    if forward:
        tx_nodes, tx_arrival = ledger.dst[pos], order.dep_rank[pos]
        arrival = ranks
    else:
        tx_nodes, tx_arrival = ledger.src[pos], -order.wd_rank[pos]
        arrival = -ranks
    amounts = np.array(
        [
            0 if s.amount is None else _minor(s.amount, ledger.decimals[s.currency])
            for s in params.seeds
        ],
        np.int64,
    )
    key = 2 * ranks + 1
    by_key = np.arange(len(key))
    if len(rank_of) > 1:  # seeds placed at one time (the usual case) are already in order
        by_key = np.argsort(key, kind="stable")
        placements = Placements(key[by_key], nodes[by_key], amounts[by_key])
    else:
        placements = Placements(key, nodes, amounts)
    seed_times = np.array([-1 if t is None else t for t in times_us], np.int64)
    if not len(pos):  # a small call's arrays are a large part of its cost: no concatenations
        return Seeds(
            nodes, arrival, np.full(len(nodes), -1, np.int64), placements, seed_times, by_key
        )
    return Seeds(
        nodes=np.concatenate([nodes, tx_nodes]).astype(np.int64),
        arrival=np.concatenate([arrival, tx_arrival]).astype(np.int64),
        tx=np.concatenate([np.full(len(nodes), -1, np.int64), pos]),
        placements=placements,
        times=np.concatenate([seed_times, ledger.time[pos]]),
        placed_seed=by_key,
    )


def _minor(amount: Decimal, decimals: int) -> int:
    # Seeds and thresholds finer than the minor unit round up: never trace more than given.
    return int((amount.scaleb(decimals)).to_integral_value(rounding=ROUND_CEILING))


def _cutoff(ledger: Ledger, params: TraceParams, seeds: Seeds, mask: Mask | None) -> Cutoff:
    """Which nodes the search may leave (seeds always; not stopped, not high degree)."""
    stop = np.empty(0, np.int64)
    if params.stop_at:
        ids = ledger.account_ids(sorted(params.stop_at))
        stop = sorted_unique(ids[ids >= 0])
    max_degree = INF if params.max_counterparties is None else params.max_counterparties
    # Under a mask the degree counts visible counterparties only (counted once per mask, when
    # a cut-off needs it): hidden rows must not stop a trace either.
    degree = ledger.degree if mask is None or max_degree >= INF else mask.degree
    return Cutoff(sorted_unique(seeds.nodes), degree, max_degree, ledger.node_account, stop)


def _sink_reason(cutoff: Cutoff, nodes: I64) -> I64:
    """Per node of ``nodes`` (ascending): why the search does not leave it, or -1."""
    return _sink_reasons(nodes, cutoff)


@nb.njit(cache=True, nogil=True)
def _sink_reasons(nodes: I64, cutoff: Cutoff) -> I64:  # pragma: no cover - compiled
    # one compiled pass: as NumPy operations this cost more than a local trace's search
    seeds, degree, max_degree, node_account, stop = cutoff
    reason = np.full(nodes.shape[0], -1, np.int64)
    for i in range(nodes.shape[0]):
        v = nodes[i]
        if member(seeds, v):
            continue  # seeds are always expanded
        if stop.shape[0] and member(stop, node_account[v]):
            reason[i] = STOPPED
        elif degree[v] > max_degree:
            reason[i] = HIGH_DEGREE
    return reason


def _filters(ledger: Ledger, params: TraceParams, mask: Mask | None) -> Filters:
    if params.min_amount is None:
        min_amount = np.zeros(len(ledger.currencies), np.int64)
    else:
        threshold = params.min_amount
        min_amount = np.array(
            [_minor(threshold, ledger.decimals[c]) for c in ledger.currencies], np.int64
        )
    t_lo, t_hi = _us(params.window_start, -INF), _us(params.window_end, INF)
    if mask is None:
        return Filters.of(t_lo, t_hi, min_amount)
    return Filters.of(t_lo, t_hi, min_amount, mask.visible)


def trace(
    ledger: Ledger,
    params: TraceParams,
    *,
    progress: ProgressCallback | None = None,
    cancelled: CancelCheck | None = None,
    mask: Mask | None = None,
) -> TraceResult:
    """Trace ``params``' seeds through ``ledger``.

    Parameters
    ----------
    ledger
        The indexed ledger.
    params
        Seeds, direction, rule, same-day policy, limits and filters.
    progress
        Called after each hop and each chunk of replayed events with a
        :class:`~tracing.graph.Progress`.
    cancelled
        Polled between hops and chunks; returning true raises
        :class:`~tracing.errors.TraceCancelled`.
    mask
        The transactions that exist for this trace (:class:`~tracing.mask.Mask`); the result
        is that of the ledger without the others, its provenance naming the mask's digest.
        None: every transaction.

    Returns
    -------
    TraceResult

    Raises
    ------
    UnknownSeed, TraceTooLarge, TraceCancelled, ConservationError

    Example
    -------
    >>> params = TraceParams(seed_transactions=("T1",), rule="fifo")
    >>> result = trace(ledger, params)  # doctest: +SKIP
    >>> result.summary["conserved"]  # doctest: +SKIP
    True
    """
    if mask is not None and not mask.applies_to(ledger):
        raise ValueError("the mask was made for another ledger")
    order = ledger.order(params.same_day_policy)
    seeds = resolve_seeds(ledger, order, params, mask)
    cutoff = _cutoff(ledger, params, seeds, mask)
    filters = _filters(ledger, params, mask)
    forward = params.direction is Direction.FORWARD
    adj = ledger.adj
    far, arrive = order.aligned(ledger.src, ledger.dst, forward=forward)
    if forward:
        side = Adjacent(adj.out_ptr, order.out_idx, order.out_rank, arrive, far, 1)
    else:
        side = Adjacent(adj.in_ptr, order.in_idx, order.in_rank, arrive, far, -1)
    with ledger.workspaces.acquire(ledger.n_nodes, ledger.n_transactions) as ws:
        reach: Reach = search(
            ws,
            side,
            (seeds.nodes, seeds.arrival, seeds.tx),
            max_hops=params.max_hops,
            filters=filters,
            columns=ledger.columns,
            cutoff=cutoff,
            max_accounts=params.max_accounts,
            progress=progress,
            cancelled=cancelled,
        )
    attribution: Attribution | None = None
    events = None
    extra = Extra()
    searched = Searched(ledger, order, params, seeds, reach, _sink_reason(cutoff, reach.nodes))
    if params.value_backward:
        extra = Extra(sources=trace_sources(searched, filters, cancelled=cancelled))
    elif params.rule is not Rule.REACH:
        events, attribution, extra = _attribute(searched, filters, progress, cancelled)
    provenance = Provenance(
        rule=str(params.rule),
        same_day_policy=str(params.same_day_policy),
        params=params.to_dict(),
        engine_version=ENGINE_VERSION,
        ledger_fingerprint=ledger.fingerprint,
        ledger_transactions=ledger.n_transactions,
        mask=None if mask is None else {"digest": mask.digest},
    )
    return build_result(searched, events, attribution, provenance, extra)


def _attribute(
    searched: Searched,
    filters: Filters,
    progress: ProgressCallback | None,
    cancelled: CancelCheck | None,
) -> tuple[Events, Attribution, Extra]:
    """Replay the forward universe under the rule (and again with claimants, if any)."""
    ledger, order, params, seeds, reach, sink_reason = searched
    # Replay state is kept per reached node (by index in reach.nodes), so a local trace
    # allocates what it reaches, not arrays the size of the ledger.
    universe = Universe(
        nodes=reach.nodes,
        sink_reason=sink_reason,
        trail=reach.trail_tx,
        seed_tx=np.sort(seeds.tx[seeds.tx >= 0]),
        replay_end=min(_us(params.as_of, INF), filters.t_hi),
        filters=filters,
    )
    placed = seeds.placements
    placed = Placements(placed.key, np.searchsorted(reach.nodes, placed.node), placed.amount)
    shares = None
    # The events live in the workspace's buffers: it is held until the replay is done (a
    # trace nested in a progress callback gets a workspace of its own) and the result keeps
    # none of them.
    with ledger.workspaces.acquire(ledger.n_nodes, ledger.n_transactions) as ws:
        events = collect_events(ledger.columns, order, universe, ws)
        attribution = attribute(
            params.rule,
            events,
            placed,
            ledger.opening_of(reach.nodes),
            reach.nodes,
            max_events=params.max_events,
            progress=progress,
            cancelled=cancelled,
            hops_done=int(reach.trail_hop.max(initial=0)),
            reached=len(reach.nodes),
        )
        if params.has_claimants:
            # with no overdraft, the claimants' replay takes the taint carried from this one
            # and passes over the withdrawals that carried none
            no_overdraft = not attribution.overdrawn.any() and bool(
                (attribution.opening >= 0).all()
            )
            shares = claimant_shares(
                params,
                EventColumns(
                    events.key, events.tx, events.slot, events.who, events.amount, events.route
                ),
                placed,
                seeds.placed_seed,
                attribution.opening,
                attribution.held,
                ledger.node_currency[reach.nodes],
                ledger.currencies,
                _named_inflows(ledger, params, events),
                attribution.carried if no_overdraft else None,
                attribution.received,
                cancelled=cancelled,
            )
        events = events.kept()
    return events, attribution, Extra(shares=shares)


def _named_inflows(ledger: Ledger, params: TraceParams, events: Events) -> NamedInflows:
    """Find the slots of the seed transactions naming a claimant (those replayed), and whose."""
    ids = [tx for tx, _ in params.transaction_claimants]
    pos = ledger.positions_of(ids) if ids else np.empty(0, np.int64)
    slots = events.slots_of(pos)
    keep = np.flatnonzero(slots >= 0).tolist()
    codes = ledger.currencies
    return NamedInflows(
        slots[keep],
        tuple(params.transaction_claimants[i][1] for i in keep),
        tuple(codes[int(ledger.node_currency[ledger.dst[pos[i]]])] for i in keep),
    )
