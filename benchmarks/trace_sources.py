"""The plain-Python peer of the engine's sources of funds (benchmarks/trace_shares.py).

Handed what a backward trace's search found, :func:`python_sources` replays the sub-ledger in
ledger order with lists and dicts, every unit labelled by its origin as ``tracing.sources``
labels it, and returns the composition of the seed payment, which the benchmark checks equal
to the engine's ``sources``.
"""

from __future__ import annotations

import heapq
from collections import defaultdict, deque
from typing import Any

import numpy as np
import polars as pl

from tracing import Ledger, Rule
from tracing.sources import REASONS


def split(w: int, t: int, b: int) -> int:
    """Largest-remainder share of taint ``t`` carried by ``w`` of balance ``b`` (ties: ``w``)."""
    if w >= b or b <= 0:
        return t
    q, r = divmod(w * t, b)
    return q + 1 if r and 2 * r >= b else q


def handed_reach(ledger: Ledger, result: Any, max_hops: int) -> tuple[set[int], dict[int, str]]:
    """What a backward trace's search found: the accounts it expanded, and why it stopped at
    each other account it reached (``hop_limit``, ``stopped_account``, ``high_degree_account``).
    """
    acc = result.accounts
    nodes = ledger.account_ids(acc["account"].to_list()).tolist()
    universe: set[int] = set()
    sinks: dict[int, str] = {}
    for node, role, hops in zip(nodes, acc["role"].to_list(), acc["hops"].to_list(), strict=True):
        if role in _NOT_EXPANDED:
            sinks[node] = _NOT_EXPANDED[role]
        elif hops >= max_hops:
            sinks[node] = "hop_limit"
        else:
            universe.add(node)
    return universe, sinks


def python_sources(
    ledger: Ledger, universe: set[int], sinks: dict[int, str], seed: int, rule: Rule
) -> dict[tuple[int, str], int]:
    """Replay ``universe`` in ledger order with lists and dicts, every unit labelled by origin.

    Returns the composition of the payment at position ``seed``: ``{(node, reason): amount}``
    (DESIGN §3b, tests/tracing/reference.py ``sources``). ``rule``: fifo (the labels ride on
    the lots) or haircut (pro rata, largest remainder, a tie to the origin first in the
    engine's label order). The search's filters (minimum amount, stop list, cut-off, hop
    limit) only decide who is reached, which the replay is handed; a trace under a mask (whose
    hidden transactions have no events) is not replayed here. NumPy gathers the universe's
    transactions from the ledger's index; the replay itself is plain Python.
    """
    adj = ledger.adj
    touched: set[int] = set()
    for v in universe:
        touched.update(adj.out_idx[adj.out_ptr[v] : adj.out_ptr[v + 1]].tolist())
        touched.update(adj.in_idx[adj.in_ptr[v] : adj.in_ptr[v + 1]].tolist())
    at = np.array(sorted(touched), np.int64)
    at = at[ledger.time[at] <= ledger.time[seed]]  # the replay ends at the payment
    events = list(
        zip(
            at.tolist(),
            ledger.src[at].tolist(),
            ledger.dst[at].tolist(),
            ledger.amount[at].tolist(),
            strict=True,
        )
    )
    opening = _openings(ledger, universe, events)
    if rule is Rule.FIFO:
        return _fifo_sources(universe, sinks, seed, events, opening)
    order = _label_order(ledger, universe, sinks, events)
    return _haircut_sources(universe, sinks, seed, events, opening, order)


_NOT_EXPANDED = {"stopped": "stopped_account", "high_degree": "high_degree_account"}
Event = tuple[int, int, int, int]  # position, payer, payee, amount
Origin = tuple[int, str]  # ledger node, reason


def _openings(ledger: Ledger, universe: set[int], events: list[Event]) -> dict[int, int]:
    # given, else inferred: what the account needs never to go below zero up to the payment
    run = dict.fromkeys(universe, 0)
    low = dict.fromkeys(universe, 0)
    for _, u, v, w in events:
        if u in universe:
            run[u] -= w
            low[u] = min(low[u], run[u])
        if v in universe:
            run[v] += w
    nodes = sorted(universe)
    given, amount = ledger.opening_of(np.array(nodes, np.int64))
    out = {n: -low[n] for n in nodes}
    out.update((n, a) for n, g, a in zip(nodes, given.tolist(), amount.tolist(), strict=True) if g)
    return out


def _composition(pieces: list[tuple[int, Origin]]) -> dict[Origin, int]:
    out: dict[Origin, int] = defaultdict(int)
    for a, origin in pieces:
        out[origin] += a
    return {k: a for k, a in out.items() if a > 0}


def _take_lots(queue: deque[list[Any]], w: int) -> list[tuple[int, Origin | None]]:
    pieces: list[tuple[int, Origin | None]] = []
    while w > 0:
        if not queue:
            pieces.append((w, None))  # beyond the lots: not covered
            break
        lot = queue[0]
        part = min(lot[0], w)
        pieces.append((part, lot[1]))
        lot[0] -= part
        w -= part
        if not lot[0]:
            queue.popleft()
    return pieces


def _fifo_sources(
    universe: set[int],
    sinks: dict[int, str],
    seed: int,
    events: list[Event],
    opening: dict[int, int],
) -> dict[Origin, int]:
    lots = {
        n: deque([[opening[n], (n, "opening_balance")]] if opening[n] > 0 else []) for n in universe
    }
    balance = {n: max(opening[n], 0) for n in universe}
    for p, u, v, w in events:
        pieces = None
        if u in universe:
            # what u's lots did not cover is u's bank credit
            pieces = [(a, o or (u, "overdraft")) for a, o in _take_lots(lots[u], w)]
            balance[u] -= w
            if p == seed:
                return _composition(pieces)
        if v not in universe:
            continue  # not a deposit replayed (what u paid there left the sub-ledger)
        if pieces is None:
            pieces = [(w, (u, sinks.get(u, "unfollowed")))]
        debt = max(-balance[v], 0)
        lots[v].extend([a, origin] for a, origin in pieces)
        if debt:
            _take_lots(lots[v], min(debt, w))  # repays the bank first
        balance[v] += w
    raise AssertionError("the seed payment was not replayed")


def _label_order(
    ledger: Ledger, universe: set[int], sinks: dict[int, str], events: list[Event]
) -> dict[Origin, tuple[str, int, int]]:
    # the engine's labels run in the order of (account key, currency, reason code): a pro-rata
    # tie goes to the lower label
    code = {reason: c for c, reason in REASONS.items()}
    origins = {(n, why) for n in universe for why in ("opening_balance", "overdraft")}
    origins.update(
        (u, sinks.get(u, "unfollowed"))
        for _, u, v, _ in events
        if v in universe and u not in universe
    )
    nodes = sorted({n for n, _ in origins})
    at = np.array(nodes, np.int64)
    names = ledger.account_keys.gather(pl.Series(ledger.node_account[at])).to_list()
    key = dict(zip(nodes, zip(names, ledger.node_currency[at].tolist(), strict=True), strict=True))
    return {(n, r): (*key[n], code[r]) for n, r in origins}


def _pro_rata(
    c: int, total: int, shares: dict[Origin, int], order: dict[Origin, tuple[str, int, int]]
) -> dict[Origin, int]:
    """Take ``c`` of ``total`` from ``shares`` (largest remainder); return what was taken."""
    if c <= 0:
        return {}
    if c >= total:
        taken = dict(shares)
        shares.clear()
        return taken
    taken, rest = {}, {}
    for k, a in shares.items():
        taken[k], rest[k] = divmod(c * a, total)
    units = c - sum(taken.values())
    for k in heapq.nsmallest(units, shares, key=lambda k: (-rest[k], order[k])):
        taken[k] += 1
    for k, a in taken.items():
        if a == shares[k]:
            del shares[k]
        else:
            shares[k] -= a
    return taken


def _haircut_sources(
    universe: set[int],
    sinks: dict[int, str],
    seed: int,
    events: list[Event],
    opening: dict[int, int],
    order: dict[Origin, tuple[str, int, int]],
) -> dict[Origin, int]:
    balance = {n: max(opening[n], 0) for n in universe}
    taint = dict(balance)
    shares = {n: {(n, "opening_balance"): opening[n]} if opening[n] > 0 else {} for n in universe}
    for p, u, v, w in events:
        moved: dict[Origin, int] | None = None
        if u in universe:
            b, t = balance[u], taint[u]
            carried = split(w, t, b)
            moved = _pro_rata(carried, t, shares[u], order)
            if w > carried:  # what u's balance did not cover is u's bank credit
                moved[(u, "overdraft")] = w - carried
            balance[u], taint[u] = b - w, t - carried
            if p == seed:
                return _composition([(a, k) for k, a in moved.items()])
        if v not in universe:
            continue
        if moved is None:
            moved = {(u, sinks.get(u, "unfollowed")): w}
        debt = max(-balance[v], 0)
        mine = shares[v]
        for k, a in moved.items():
            if a:
                mine[k] = mine.get(k, 0) + a
        b, t = max(balance[v], 0) + w, taint[v] + sum(moved.values())
        if debt:  # the deposit repays the bank first
            repay = min(debt, w)
            repaid = split(repay, t, b)
            _pro_rata(repaid, t, mine, order)
            b, t = b - debt, t - repaid
        balance[v], taint[v] = b, t
    raise AssertionError("the seed payment was not replayed")


def engine_sources(ledger: Ledger, result: Any) -> dict[tuple[int, str], int]:
    """A backward trace's ``sources`` (one seed) as ``{(node, reason): minor units}``."""
    s = result.sources
    nodes = ledger.account_ids(s["origin"].to_list()).tolist()
    scale = s["amount"].dtype.scale
    units = [int(a.scaleb(scale)) for a in s["amount"].to_list()]
    return dict(zip(zip(nodes, s["reason"].to_list(), strict=True), units, strict=True))
