"""Sources of funds under ``fifo``, by intervals instead of lots.

First in, first out makes an account a queue whose units keep their place: number every unit
deposited into an account in the order it arrived (its *deposit coordinate*); the first ``P``
of them have left, the rest ``[P, T)`` are what the account holds. A withdrawal of ``w`` takes
``[P, P + c)`` with ``c = min(w, T - P)`` (the rest, ``w - c``, is what its balance did not
cover: label 0, the bank's credit), and a deposit appends its pieces at ``T``. A deposit into
an overdrawn account first repays the bank out of its own first units (DESIGN §3).

So one linear pass over the events (no lots, no labels) records, per account, the segments of
its coordinate and where each came from: an origin's label (an opening balance, money from
outside the sub-ledger), the shortfall of a paying account (label 0), or an interval of the
paying account's own coordinate. The composition of a seed payment, or of what a seed account
holds at the end, is then read by following its interval back through those segments: only
the units that make it up are visited. The amounts per label are those of the lot replay
(:func:`tracing.labelled.replay_labelled` under ``fifo``), which keeps every account's lots
whole at every event; on the benchmark's saturated sources trace at 10M transactions that
replay held 7.3 million lots (benchmarks/TRACE_RESULTS.md).
"""

from __future__ import annotations

from typing import NamedTuple

import numba as nb
import numpy as np

from tracing.errors import TraceCancelled
from tracing.graph import CancelCheck
from tracing.index import I64
from tracing.labelled import Labels
from tracing.replay import DELIVER, INTO_SEED, EventColumns, Placements

CHUNK = 1 << 20
# A segment's origin: a label (>= 0), or FROM: an interval of the paying account's coordinate
FROM = -1
# counters: placements done, segments written
_PLACED, _SEGMENTS = 0, 1


class Queues(NamedTuple):
    """Per account: units consumed (``head``), units deposited (``tail``), balance."""

    head: I64
    tail: I64
    balance: I64


class Segments(NamedTuple):
    """Per segment, in the order written: account, start, length, label (or FROM).

    A FROM segment names the paying account and the interval's start in its coordinate.
    """

    account: I64
    start: I64
    length: I64
    label: I64
    payer: I64
    payer_start: I64


class Taken(NamedTuple):
    """Per transaction slot, what its withdrawal took: payer, start, covered, not covered."""

    payer: I64
    start: I64
    covered: I64
    short: I64


class FifoSources(NamedTuple):
    """Per seed its composition (rows: seed, label, amount); per account its final balance."""

    captured: np.ndarray
    balance: I64


def _room(seg: Segments, used: int, need: int) -> Segments:
    """``seg``, copied into arrays twice the size needed when fewer than ``need`` rows remain."""
    if used + need <= len(seg.account):
        return seg
    size = 2 * (used + need)
    grown = []
    for old in seg:
        new = np.empty(size, np.int64)
        new[:used] = old[:used]
        grown.append(new)
    return Segments(*grown)


@nb.njit(cache=True, nogil=True)
def queue_events(  # pragma: no cover - compiled
    lo: int,
    hi: int,
    ev: EventColumns,
    placed: Placements,
    labels: Labels,
    q: Queues,
    taken: Taken,
    seg: Segments,
    counters: I64,
) -> None:
    """Replay events ``lo..hi`` (and the placements before them) as queue coordinates.

    Every withdrawal's interval stays in ``taken`` (per slot); every deposit writes up to two
    segments, for which ``seg`` has room.
    """
    # the records' arrays read once: reading one out of a record in the loop counts a
    # reference to it every time
    key, slot, who, amount_of, route = ev.key, ev.slot, ev.who, ev.amount, ev.route
    head, tail, balance = q.head, q.tail, q.balance
    t_payer, t_start, t_covered, t_short = taken.payer, taken.start, taken.covered, taken.short
    s_account, s_start, s_length = seg.account, seg.start, seg.length
    s_label, s_payer, s_payer_start = seg.label, seg.payer, seg.payer_start
    placed_label, inflow, short = labels.placed, labels.inflow, labels.short
    n_placements, n_events = placed.key.shape[0], key.shape[0]
    p, e, k = counters[_PLACED], lo, counters[_SEGMENTS]
    while True:
        if p < n_placements and (e == n_events or placed.key[p] < key[e]):
            v, amount = placed.node[p], placed.amount[p]
            first, first_label, first_payer, first_at = amount, placed_label[p], -1, 0
            second, second_label = 0, 0
            p += 1
        else:
            if e == hi:
                break
            s, amount = slot[e], amount_of[e]
            r, v = route[s], who[e]
            e += 1
            if key[e - 1] & 1 == 0:
                covered = min(amount, max(tail[v] - head[v], 0))
                t_payer[s], t_start[s] = v, head[v]
                t_covered[s], t_short[s] = covered, amount - covered
                head[v] += covered
                balance[v] -= amount
                continue
            if r == DELIVER:
                u = t_payer[s]
                first, first_label, first_payer, first_at = t_covered[s], FROM, u, t_start[s]
                # what the payer's balance did not cover: the bank's credit to the payer
                second, second_label = t_short[s], short[u] if short.shape[0] > 0 else 0
            else:
                hot = amount if r == INTO_SEED else 0
                first, first_label, first_payer, first_at = hot, inflow[s], -1, 0
                second, second_label = amount - hot, 0
        debt = -balance[v] if balance[v] < 0 else 0
        if first > 0:
            s_account[k], s_start[k], s_length[k] = v, tail[v], first
            s_label[k], s_payer[k], s_payer_start[k] = first_label, first_payer, first_at
            tail[v] += first
            k += 1
        if second > 0:
            s_account[k], s_start[k], s_length[k] = v, tail[v], second
            s_label[k], s_payer[k], s_payer_start[k] = second_label, -1, 0
            tail[v] += second
            k += 1
        # ``v`` was credited ``amount``; into an overdrawn account its first units repay the bank
        balance[v] += amount
        if debt > 0:
            head[v] += min(debt, amount)
    counters[_PLACED], counters[_SEGMENTS] = p, k


@nb.njit(cache=True, nogil=True)
def _by_account(seg: Segments, n: int, n_accounts: int) -> tuple[I64, I64]:  # pragma: no cover
    """Segments grouped by account, each account's in coordinate order (a counting sort)."""
    ptr = np.zeros(n_accounts + 1, np.int64)
    for k in range(n):
        ptr[seg.account[k] + 1] += 1
    for v in range(n_accounts):
        ptr[v + 1] += ptr[v]
    fill = ptr[:-1].copy()
    order = np.empty(n, np.int64)
    for k in range(n):
        v = seg.account[k]
        order[fill[v]] = k
        fill[v] += 1
    return ptr, order


@nb.njit(cache=True, nogil=True)
def _push(stack: np.ndarray, top: int, v: int, a: int, n: int) -> np.ndarray:  # pragma: no cover
    if top == stack.shape[0]:
        bigger = np.empty((2 * top, 3), np.int64)
        bigger[:top] = stack
        stack = bigger
    stack[top, 0], stack[top, 1], stack[top, 2] = v, a, n
    return stack


@nb.njit(cache=True, nogil=True)
def compose(  # pragma: no cover - compiled
    seg: Segments, n_segments: int, n_accounts: int, n_labels: int, asked: np.ndarray
) -> np.ndarray:
    """Return the amounts per label of intervals: rows (seed, label), one per seed and label.

    ``asked`` rows are (seed, account, start, length), grouped by seed.
    """
    ptr, order = _by_account(seg, n_segments, n_accounts)
    starts = seg.start[order]
    total = np.zeros(n_labels + 1, np.int64)
    seen = np.empty(n_labels + 1, np.int64)
    out = np.empty((16, 3), np.int64)
    stack = np.empty((64, 3), np.int64)
    n_out, i = 0, 0
    while i < asked.shape[0]:
        seed, top, n_seen = asked[i, 0], 0, 0
        while i < asked.shape[0] and asked[i, 0] == seed:
            stack = _push(stack, top, asked[i, 1], asked[i, 2], asked[i, 3])
            top, i = top + 1, i + 1
        while top > 0:
            top -= 1
            v, a, end = stack[top, 0], stack[top, 1], stack[top, 1] + stack[top, 2]
            lo = ptr[v]
            k = lo + np.searchsorted(starts[lo : ptr[v + 1]], a, side="right") - 1
            while a < end:
                sk = order[k]
                s0 = seg.start[sk]
                part = min(end, s0 + seg.length[sk]) - a
                label = seg.label[sk]
                if label == FROM:
                    stack = _push(stack, top, seg.payer[sk], seg.payer_start[sk] + a - s0, part)
                    top += 1
                else:
                    if total[label] == 0:
                        seen[n_seen] = label
                        n_seen += 1
                    total[label] += part
                a += part
                k += 1
        if n_out + n_seen > out.shape[0]:
            bigger = np.empty((2 * (n_out + n_seen), 3), np.int64)
            bigger[:n_out] = out[:n_out]
            out = bigger
        for m in range(n_seen):
            label = seen[m]
            out[n_out, 0], out[n_out, 1], out[n_out, 2] = seed, label, total[label]
            total[label] = 0
            n_out += 1
    return out[:n_out]


def fifo_sources(
    ev: EventColumns,
    placed: Placements,
    labels: Labels,
    n_accounts: int,
    n_labels: int,
    seed_slots: I64,
    seed_accounts: I64,
    *,
    cancelled: CancelCheck | None,
) -> FifoSources:
    """Compose each seed from the origins' labels.

    ``labels``: per placement, per inflow's slot, and per account what its balance did not
    cover (the bank's credit to it; label 0 where none is given). ``seed_slots[i]`` is the
    slot of seed ``i``'s payment (or -1); ``seed_accounts[i]`` its account (index among the
    reached) when it is an account seed (or -1): what that account holds at the end.
    """
    n_slots = len(ev.route)
    q = Queues(
        np.zeros(n_accounts, np.int64),
        np.zeros(n_accounts, np.int64),
        np.zeros(n_accounts, np.int64),
    )
    taken = Taken(*(np.zeros(n_slots, np.int64) for _ in range(4)))
    # A segment per deposit and placement, a second for the few partly not covered: room for
    # every one, and a chunk's worth more so that the bound per chunk below rarely copies.
    deposits = int(np.count_nonzero(ev.key & 1))
    size = deposits + min(deposits, CHUNK) + 2 * len(placed.key) + 16
    seg = Segments(*(np.empty(size, np.int64) for _ in range(6)))
    counters = np.zeros(2, np.int64)
    n_events = len(ev.key)
    for lo in range(0, n_events + 1, CHUNK):
        if cancelled is not None and cancelled():
            raise TraceCancelled(f"cancelled after replaying {lo} labelled events")
        hi = min(lo + CHUNK, n_events)
        # two segments at most per deposit or placement
        need = 2 * (
            int(np.count_nonzero(ev.key[lo:hi] & 1)) + len(placed.key) - int(counters[_PLACED])
        )
        seg = _room(seg, int(counters[_SEGMENTS]), need)
        queue_events(lo, hi, ev, placed, labels, q, taken, seg, counters)
    asked, short = [], []
    for i, (s, v) in enumerate(zip(seed_slots.tolist(), seed_accounts.tolist(), strict=True)):
        if s >= 0:
            asked.append((i, int(taken.payer[s]), int(taken.start[s]), int(taken.covered[s])))
            short.append((i, int(labels.short[taken.payer[s]]), int(taken.short[s])))
        elif v >= 0:
            asked.append((i, v, int(q.head[v]), int(max(q.tail[v] - q.head[v], 0))))
    rows = np.array([a for a in asked if a[3] > 0], np.int64).reshape(-1, 4)
    captured = compose(seg, int(counters[_SEGMENTS]), n_accounts, n_labels, rows)
    extra = np.array([r for r in short if r[2] > 0], np.int64).reshape(-1, 3)
    return FifoSources(np.concatenate([captured, extra]), q.balance)
