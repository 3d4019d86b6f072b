"""A slow, plain-Python tracer written straight from DESIGN §3, to check the engine against.

Nothing here is shared with ``tracing``: event order, reachability (by enumerating every
time-respecting path) and the attribution rules are all re-derived independently.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

DAY = 86_400 * 1_000_000


@dataclass(frozen=True)
class Tx:
    id: str
    src: tuple[str, str]  # (account, currency)
    dst: tuple[str, str]
    amount: int
    time: int
    seq: int


@dataclass
class Ref:
    """Reference result: reach and, for attribution rules, per-account figures."""

    hops: dict[tuple[str, str], int]
    arrival: dict[tuple[str, str], int]  # forward earliest arrival rank / backward latest dep
    trail: set[str]
    held: dict[tuple[str, str], int] = field(default_factory=dict)
    exits: list[tuple[str, tuple[str, str], int, str]] = field(default_factory=list)
    seeded: int = 0
    opening: dict[tuple[str, str], int] = field(default_factory=dict)
    traced: dict[str, int] = field(default_factory=dict)


def ranks(txs: list[Tx], policy: str) -> tuple[dict[str, int], dict[str, int], int]:
    """Withdrawal and deposit rank of every transaction under ``policy``; number of ranks."""
    order = sorted(txs, key=lambda t: (t.time, t.seq, t.id))
    if policy == "ledger":
        r = {t.id: i for i, t in enumerate(order)}
        return r, dict(r), len(order)
    days: dict[int, list[Tx]] = defaultdict(list)
    for t in order:
        days[t.time // DAY].append(t)
    wd: dict[str, int] = {}
    dep: dict[str, int] = {}
    n = 0
    for day in sorted(days):
        todays = days[day]
        if policy == "worst_case":
            for t in todays:
                wd[t.id] = n
                n += 1
            for t in todays:
                dep[t.id] = n
                n += 1
            continue
        position = {t.id: i for i, t in enumerate(todays)}
        waiting = defaultdict(int)
        for t in todays:
            waiting[t.dst] += 1
        left = list(todays)
        while left:
            ready = [t for t in left if waiting[t.src] == 0]
            pick = min(ready or left, key=lambda t: position[t.id])
            left.remove(pick)
            waiting[pick.dst] -= 1
            wd[pick.id] = dep[pick.id] = n
            n += 1
    return wd, dep, n


def seed_rank(txs: list[Tx], policy: str, time: int | None, *, forward: bool) -> int:
    """Threshold rank of funds placed at ``time`` (see tracing.order.Order.seed_rank)."""
    wd, dep, n = ranks(txs, policy)
    if time is None:
        return -1 if forward else n
    if policy == "ledger":
        if forward:
            later = [wd[t.id] for t in txs if t.time >= time]
            return min(later, default=n) - 1
        return max([dep[t.id] for t in txs if t.time <= time], default=-1) + 1
    day = time // DAY
    if policy == "worst_case":
        if forward:  # visible from the next day's withdrawals
            return min([wd[t.id] for t in txs if t.time // DAY > day], default=n) - 1
        return min([wd[t.id] for t in txs if t.time // DAY >= day], default=n)
    if forward:
        return min([wd[t.id] for t in txs if t.time // DAY >= day], default=n) - 1
    return min([wd[t.id] for t in txs if t.time // DAY > day], default=n)


def reach(txs, policy, seeds, *, forward=True, max_hops=3, blocked=frozenset(), follow=None):
    """Enumerate every time-respecting path of at most ``max_hops`` transactions.

    ``seeds`` are ``(node, threshold rank, seed tx id or None)``; ``blocked`` nodes are
    reached but not left (seeds excepted); ``follow(tx)`` filters transactions.
    """
    wd, dep, _ = ranks(txs, policy)
    follow = follow or (lambda t: True)
    hops: dict = {}
    arrival: dict = {}
    trail: set = set()
    seed_nodes = {s[0] for s in seeds}
    stack = []
    for node, thr, tx in seeds:
        hops[node] = 0
        arrival[node] = (
            min(arrival.get(node, thr), thr) if forward else max(arrival.get(node, thr), thr)
        )
        if tx is not None:
            trail.add(tx)
        stack.append((node, thr, 0))
    while stack:
        node, thr, h = stack.pop()
        if h == max_hops or (node in blocked and node not in seed_nodes):
            continue
        for t in txs:
            if not follow(t):
                continue
            if forward and t.src == node and wd[t.id] > thr:
                nxt, val = t.dst, dep[t.id]
            elif not forward and t.dst == node and dep[t.id] < thr:
                nxt, val = t.src, wd[t.id]
            else:
                continue
            trail.add(t.id)
            hops[nxt] = min(hops.get(nxt, h + 1), h + 1)
            best = arrival.get(nxt)
            arrival[nxt] = val if best is None else (min(best, val) if forward else max(best, val))
            stack.append((nxt, val, h + 1))
    return hops, arrival, trail


def _split(w: int, t: int, b: int) -> int:
    """Largest remainder share of ``t`` for ``w`` out of ``b``; ties go to the withdrawal."""
    if w >= b or b <= 0:
        return t
    q, r = divmod(w * t, b)
    return q + 1 if r and 2 * r >= b else q


class _Account:
    def __init__(self, opening: int) -> None:
        self.balance = opening
        self.taint = 0
        self.poisoned = False
        self.lots: list[list[int]] = [[opening, 0]] if opening > 0 else []

    def withdraw(self, rule: str, w: int) -> tuple[int, list[tuple[int, int]]]:
        if rule in ("fifo", "lifo"):
            pieces, left = [], w
            while left > 0:
                if self.lots:
                    lot = self.lots[0]
                    part = min(lot[0], left)
                    pieces.append((part, lot[1]))
                    lot[0] -= part
                    if lot[0] == 0:
                        self.lots.pop(0)
                else:
                    part = left
                    pieces.append((part, 0))
                left -= part
            carried = sum(a for a, t in pieces if t)
        elif rule == "poison":
            carried = w if self.poisoned else 0
        elif rule == "haircut":
            carried = _split(w, self.taint, self.balance)
        else:  # libr: own money first
            carried = min(max(w - max(self.balance - self.taint, 0), 0), self.taint)
        if rule != "fifo" and rule != "lifo":
            pieces = [(carried, 1), (w - carried, 0)]
        self.balance -= w
        if rule != "poison":
            self.taint -= carried
        return carried, pieces

    def deposit(self, rule: str, pieces: list[tuple[int, int]]) -> tuple[int, int]:
        """Returns (taint credited, taint repaid to the bank)."""
        debt = max(-self.balance, 0)
        self.balance += debt
        total = tainted = 0
        for amount, hot in pieces:
            if amount <= 0:
                continue
            total += amount
            tainted += amount * hot
            if rule == "fifo":
                self.lots.append([amount, hot])
            elif rule == "lifo":
                self.lots.insert(0, [amount, hot])
        self.balance += total
        if rule == "poison":
            self.poisoned = self.poisoned or tainted > 0
        else:
            self.taint += tainted
        repaid = 0
        if debt:
            repay = min(debt, total)
            repaid, _ = self.withdraw(rule, repay)
            self.balance -= debt - repay
        return tainted, repaid


def attribute(
    txs,
    policy,
    rule,
    *,
    universe,
    trail,
    sinks,
    seed_txs,
    placements,
    given,
    end,
    min_amount,
    window,
):
    """Replay all events of ``universe`` nodes in rank order, applying ``rule``."""
    wd, dep, _ = ranks(txs, policy)
    by_id = {t.id: t for t in txs}
    items = []
    for t in txs:
        if t.time > end:
            continue
        if t.src in universe:
            items.append((2 * wd[t.id], 0, "W", t.id))
        if t.dst in universe:
            items.append((2 * dep[t.id] + 1, 0, "D", t.id))
    for node, thr, amount in placements:
        items.append((2 * thr + 1, 1, "P", (node, amount)))
    items.sort(key=lambda i: (i[0], i[1]))
    low: dict = defaultdict(int)
    run: dict = defaultdict(int)
    for _, _, kind, what in items:
        if kind == "P":
            run[what[0]] += what[1]
        elif kind == "D":
            run[by_id[what].dst] += by_id[what].amount
        else:
            node = by_id[what].src
            run[node] -= by_id[what].amount
            low[node] = min(low[node], run[node])
    opening = {n: given.get(n, -low[n]) for n in universe}
    accounts = {n: _Account(opening[n]) for n in universe}
    out = Ref({}, {}, set(), opening=dict(opening))
    in_flight: dict = {}
    for _, _, kind, what in items:
        if kind == "P":
            node, amount = what
            _, repaid = accounts[node].deposit(rule, [(amount, 1)])
            out.seeded += amount
            if repaid:
                out.exits.append(("", node, repaid, "overdraft_repaid"))
            continue
        t = by_id[what]
        if kind == "W":
            carried, pieces = accounts[t.src].withdraw(rule, t.amount)
            reason = _route(t, trail, universe, sinks, seed_txs, min_amount, window)
            if reason == "delivered":
                in_flight[t.id] = pieces
                out.traced[t.id] = carried
            elif carried:
                out.exits.append((t.id, t.src, carried, reason))
                out.traced[t.id] = out.traced.get(t.id, 0) + carried
            continue
        if t.id in seed_txs:
            pieces = [(t.amount, 1)]
            out.seeded += t.amount
        elif t.id in in_flight:
            pieces = in_flight.pop(t.id)
        else:
            pieces = [(t.amount, 0)]
        _, repaid = accounts[t.dst].deposit(rule, pieces)
        if repaid:
            out.exits.append((t.id, t.dst, repaid, "overdraft_repaid"))
    for node, acc in accounts.items():
        out.held[node] = (
            (max(acc.balance, 0) if acc.poisoned else 0) if rule == "poison" else acc.taint
        )
    return out


def _route(t, trail, universe, sinks, seed_txs, min_amount, window):
    if t.id in seed_txs:
        return "seed_transaction"
    if t.id in trail:
        return "delivered" if t.dst in universe else sinks[t.dst]
    if t.amount < min_amount:
        return "below_min_amount"
    if not window[0] <= t.time <= window[1]:
        return "outside_window"
    return "hop_limit"
