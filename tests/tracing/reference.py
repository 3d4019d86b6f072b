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
    accounts: dict = field(default_factory=dict)  # node -> _Account (or Claims) at the end
    exited_labels: dict[int, int] = field(default_factory=lambda: defaultdict(int))


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
            tainted += amount if hot else 0  # ``hot`` is 1, or a claimant's label (Claims)
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
    make=None,
    seed_label=lambda t: 1,
):
    """Replay all events of ``universe`` nodes in rank order, applying ``rule``.

    ``make(opening)`` makes an account (:class:`Claims` to keep claimants); placements may
    carry a fourth item, their label, and ``seed_label(tx)`` labels a seed transaction.
    """
    make = make or _Account
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
    for node, thr, amount, *label in placements:
        items.append((2 * thr + 1, 1, "P", (node, amount, label[0] if label else 1)))
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
    accounts = {n: make(opening[n]) for n in universe}
    out = Ref({}, {}, set(), opening=dict(opening), accounts=accounts)
    in_flight: dict = {}
    for _, _, kind, what in items:
        if kind == "P":
            node, amount, label = what
            _, repaid = accounts[node].deposit(rule, [(amount, label)])
            out.seeded += amount
            if repaid:
                out.exits.append(("", node, repaid, "overdraft_repaid"))
                _exited(out, accounts[node])
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
                _exited(out, accounts[t.src])
            continue
        if t.id in seed_txs:
            pieces = [(t.amount, seed_label(t))]
            out.seeded += t.amount
        elif t.id in in_flight:
            pieces = in_flight.pop(t.id)
        else:
            pieces = [(t.amount, 0)]
        _, repaid = accounts[t.dst].deposit(rule, pieces)
        if repaid:
            out.exits.append((t.id, t.dst, repaid, "overdraft_repaid"))
            _exited(out, accounts[t.dst])
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


def _exited(out: Ref, account) -> None:
    for amount, label in getattr(account, "last", ()):
        if label and amount:
            out.exited_labels[label] += amount


class Claims(_Account):
    """An account that keeps whose its taint is: labels from 1, 0 is clean money.

    ``by``: ``lots`` (fifo/lifo: the labels ride on the lots), ``pro_rata`` (each withdrawal's
    taint split by the shares, largest remainder, a tie to the lower label) or ``fifo``
    (Clayton's Case among the claimants: a queue of taint).
    """

    def __init__(self, opening: int, by: str) -> None:
        super().__init__(opening)
        self.by = by
        self.shares: dict[int, int] = defaultdict(int)
        self.queue: list[list[int]] = []
        self.received: dict[int, int] = defaultdict(int)
        self.last: list[tuple[int, int]] = []

    def withdraw(self, rule: str, w: int) -> tuple[int, list[tuple[int, int]]]:
        if self.by == "lots":
            carried, pieces = super().withdraw(rule, w)
            self.last = [(a, label) for a, label in pieces if label]
            return carried, pieces
        before = self.taint
        carried, _ = super().withdraw(rule, w)
        self.last = self._take(carried, before)
        return carried, [*self.last, (w - carried, 0)]

    def _take(self, c: int, total: int) -> list[tuple[int, int]]:
        if self.by == "fifo":
            out, left = [], c
            while left:
                lot = self.queue[0]
                part = min(lot[0], left)
                out.append((part, lot[1]))
                lot[0] -= part
                left -= part
                if not lot[0]:
                    self.queue.pop(0)
            return out
        if c >= total:
            out = [(a, label) for label, a in sorted(self.shares.items()) if a]
            self.shares.clear()
            return out
        parts = largest_remainder(c, dict(self.shares))
        for label, a in parts.items():
            self.shares[label] -= a
        return [(a, label) for label, a in sorted(parts.items()) if a]

    def deposit(self, rule: str, pieces: list[tuple[int, int]]) -> tuple[int, int]:
        for amount, label in pieces:
            if amount > 0 and label:
                self.received[label] += amount
                if self.by == "pro_rata":
                    self.shares[label] += amount
                elif self.by == "fifo":
                    self.queue.append([amount, label])
        self.last = []
        return super().deposit(rule, pieces)

    def held(self) -> dict[int, int]:
        if self.by == "lots":
            out: dict[int, int] = defaultdict(int)
            for amount, label in self.lots:
                if label:
                    out[label] += amount
            return {k: v for k, v in out.items() if v}
        if self.by == "fifo":
            out = defaultdict(int)
            for amount, label in self.queue:
                out[label] += amount
            return {k: v for k, v in out.items() if v}
        return {k: v for k, v in self.shares.items() if v}


def largest_remainder(total: int, weights: dict[int, int]) -> dict[int, int]:
    """``total`` shared by ``weights``: floors, then a unit each to the largest remainders
    (a tie to the lower label)."""
    whole = sum(weights.values())
    if not whole:
        return {}
    q = {k: total * w // whole for k, w in weights.items()}
    r = {k: total * w % whole for k, w in weights.items()}
    for k in sorted(weights, key=lambda k: (-r[k], k))[: total - sum(q.values())]:
        q[k] += 1
    return q


def pari_passu(account: Claims) -> dict[int, int]:
    """What ``account`` holds, shared by what each claimant gave it (Barlow Clowes)."""
    return {k: v for k, v in largest_remainder(account.taint, account.received).items() if v}


def sources(txs, policy, rule, *, universe, seed_tx, given, end, label_of):
    """The composition of ``seed_tx``'s payment, replaying ``universe`` with every unit labelled.

    ``label_of(node, why)`` labels money entering the universe: ``why`` is ``opening``,
    ``overdraft`` (what the node's balance did not cover of a payment) or the paying node's
    reason (``hop_limit``, ``stopped_account``, ``high_degree_account``, ``unfollowed``).
    Returns ``{label: amount}``.
    """
    wd, dep, _ = ranks(txs, policy)
    items = []
    for t in txs:
        if t.time > end:
            continue
        if t.src in universe:
            items.append((2 * wd[t.id], "W", t))
        if t.dst in universe:
            items.append((2 * dep[t.id] + 1, "D", t))
    items.sort(key=lambda i: i[0])
    run: dict = defaultdict(int)
    low: dict = defaultdict(int)
    for _, kind, t in items:
        if kind == "D":
            run[t.dst] += t.amount
        else:
            run[t.src] -= t.amount
            low[t.src] = min(low[t.src], run[t.src])
    by = "lots" if rule in ("fifo", "lifo") else "pro_rata"
    accounts = {}
    for n in universe:
        opening = given.get(n, -low[n])
        label = label_of(n, "opening") if opening > 0 else 0
        accounts[n] = Claims(0, by)
        if opening > 0:
            accounts[n].deposit(rule, [(opening, label)])
    in_flight: dict = {}
    for _, kind, t in items:
        if kind == "W":
            _, pieces = accounts[t.src].withdraw(rule, t.amount)
            # what the payer's balance did not cover is the bank's credit to the payer
            pieces = [(a, k or label_of(t.src, "overdraft")) for a, k in pieces if a]
            if t.id == seed_tx.id:
                out: dict[int, int] = defaultdict(int)
                for amount, label in pieces:
                    out[label] += amount
                return {k: v for k, v in out.items() if v}
            in_flight[t.id] = pieces
        elif t.src in universe:
            accounts[t.dst].deposit(rule, in_flight.pop(t.id))
        else:
            accounts[t.dst].deposit(rule, [(t.amount, label_of(t.src, None))])
    raise AssertionError("the seed payment was not replayed")
