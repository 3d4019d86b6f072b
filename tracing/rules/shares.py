"""Claimants' shares of an account's taint, kept per account as labelled entries.

Label 0 is clean money, labels from 1 name claimants (or, backward, origins). Under the lot
rules the claimants follow the lots: the store of :mod:`tracing.rules.lots` with the label
where a lot keeps its taint flag (:func:`tracing.rules.lots.put` and
:func:`~tracing.rules.lots.take` on labelled lots). Under ``pro_rata`` an account's entries are
an unordered vector, one ``label, amount`` row per label, kept together in a pool (an account
whose vector outgrows its block moves to a block twice the size at the pool's end, so a
vector is read from one or two cache lines, not a linked list's scattered rows): :func:`merge`
adds to it and :func:`split` takes a withdrawal's taint from it in proportion to the shares,
by the largest-remainder method.

Pieces (what a withdrawal took) are rows ``amount, label, scratch`` of a ``(n, 3)`` array.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numba as nb
import numpy as np

from tracing.index import I64
from tracing.rules.haircut import mul_div
from tracing.rules.lots import AMT, NXT, TNT

LABEL = TNT


class Vectors(NamedTuple):
    """Per account: where its entries start in the pool (-1: none yet), how many, room for.

    Then what a merge works with besides the pool (which it may replace, so it is apart):
    ``where``, per label a scratch of -1 (vectors of one replay may share it), and
    ``counters``, a one-record array whose ``next_row`` is the pool's first unused row.
    """

    start: I64
    size: I64
    cap: I64
    where: I64
    counters: np.ndarray


# Below this many (pieces x entries) a merge finds labels by scanning; above, by ``where``.
_SCAN = 64


@nb.njit(cache=True, nogil=True)
def merge(  # pragma: no cover - compiled
    pool: np.ndarray, vec: Vectors, node: int, pieces: np.ndarray, lo: int, hi: int
) -> np.ndarray:
    """Add the labelled pieces ``pieces[lo:hi]`` (clean ones skipped) to ``node``'s vector.

    Returns the pool, maybe grown. ``vec.where`` is left all -1 again.
    """
    m = 0
    for k in range(lo, hi):
        if pieces[k, 0] > 0 and pieces[k, 1] != 0:
            m += 1
    if m == 0:
        return pool
    counters, where = vec.counters[0], vec.where
    n = vec.size[node]
    if vec.start[node] < 0 or n + m > vec.cap[node]:
        # a block twice the size needed at the pool's end; the old one is left behind
        cap = max(4, 2 * (n + m))
        pool = grow(pool, counters.next_row + cap)
        at, old = counters.next_row, vec.start[node]
        counters.next_row += cap
        for i in range(n):
            pool[at + i, 0], pool[at + i, 1] = pool[old + i, 0], pool[old + i, 1]
        vec.start[node], vec.cap[node] = at, cap
    s = vec.start[node]
    scan = m * n <= _SCAN
    if not scan:
        for i in range(s, s + n):
            where[pool[i, 0]] = i
    for k in range(lo, hi):
        amount, label = pieces[k, 0], pieces[k, 1]
        if amount <= 0 or label == 0:
            continue
        row = -1
        if scan:
            for i in range(s, s + n):
                if pool[i, 0] == label:
                    row = i
                    break
        else:
            row = where[label]
        if row >= 0:
            pool[row, 1] += amount
            continue
        pool[s + n, 0], pool[s + n, 1] = label, amount
        if not scan:
            where[label] = s + n
        n += 1
    if not scan:
        for i in range(s, s + n):
            where[pool[i, 0]] = -1
    vec.size[node] = n
    return pool


@nb.njit(cache=True, nogil=True)
def split(  # pragma: no cover - compiled
    pool: np.ndarray, vec: Vectors, node: int, total: int, amount: int, pieces: np.ndarray, at: int
) -> int:
    """Take ``amount`` of ``node``'s ``total`` taint pro rata to its entries; return the end.

    Each label gets ``amount * share / total`` rounded down; the units left over go, one each,
    to the largest remainders (a tie to the lower label), so the pieces sum to ``amount``
    exactly. The pieces are written to ``pieces[at:]``; emptied entries are dropped.
    """
    end = at
    if amount <= 0:
        return end
    s, n = vec.start[node], vec.size[node]
    whole = amount >= total
    given = 0
    for i in range(s, s + n):
        label, share = pool[i, 0], pool[i, 1]
        if whole:
            q, r = share, 0
        else:
            q, r = mul_div(amount, share, total)
        pieces[end, 0], pieces[end, 1], pieces[end, 2] = q, label, r
        given += q
        end += 1
    if amount > given:
        leftover(pieces, at, end, amount - given)
    # subtract (the pieces are in the entries' order) and close up what is emptied
    j = s
    for k in range(n):
        left = pool[s + k, 1] - pieces[at + k, 0]
        if left != 0:
            pool[j, 0], pool[j, 1] = pool[s + k, 0], left
            j += 1
    vec.size[node] = j - s
    return end


# Below this many (units left over x pieces) the largest remainders are found by rescanning.
_RESCAN = 256


@nb.njit(cache=True, nogil=True)
def leftover(pieces: np.ndarray, lo: int, hi: int, units: int) -> None:  # pragma: no cover
    """Give ``units`` more, one each, to the pieces ``lo..hi`` of the largest remainders.

    Remainders are ``pieces[:, 2]``, labels ``pieces[:, 1]`` (unique); a tie goes to the lower
    label. With many pieces (a hub's origins, backward) the rescan of every unit would be
    quadratic: the ``units``-th largest remainder is found by a partition instead, and the
    units go to the remainders above it, then to the lowest labels of those equal to it.
    """
    if units * (hi - lo) <= _RESCAN:
        for _ in range(units):
            best = lo
            for k in range(lo + 1, hi):
                if pieces[k, 2] > pieces[best, 2] or (
                    pieces[k, 2] == pieces[best, 2] and pieces[k, 1] < pieces[best, 1]
                ):
                    best = k
            pieces[best, 0] += 1
            pieces[best, 2] = -1
        return
    n = hi - lo
    cut = np.partition(pieces[lo:hi, 2].copy(), n - units)[n - units]
    above = 0
    for k in range(lo, hi):
        if pieces[k, 2] > cut:
            pieces[k, 0] += 1
            above += 1
    ties = np.empty(n, np.int64)
    m = 0
    for k in range(lo, hi):
        if pieces[k, 2] == cut:
            ties[m] = pieces[k, 1]
            m += 1
    need = units - above  # 1 <= need <= m: the cut is the units-th largest remainder
    last = np.partition(ties[:m], need - 1)[need - 1]
    for k in range(lo, hi):
        if pieces[k, 2] == cut and pieces[k, 1] <= last:
            pieces[k, 0] += 1


@nb.njit(cache=True, nogil=True)
def entries(pool: np.ndarray, vec: Vectors) -> tuple[I64, I64, I64]:  # pragma: no cover
    """Every entry of every account: account (index of ``vec``), label and amount."""
    n = 0
    for v in range(vec.size.shape[0]):
        n += vec.size[v]
    node, label, amount = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64)
    i = 0
    for v in range(vec.size.shape[0]):
        s = vec.start[v]
        for row in range(s, s + vec.size[v]):
            if pool[row, 1] != 0:
                node[i], label[i], amount[i] = v, pool[row, 0], pool[row, 1]
                i += 1
    return node[:i], label[:i], amount[:i]


@nb.njit(cache=True, nogil=True)
def lot_entries(store: np.ndarray, head: I64) -> tuple[I64, I64, I64]:  # pragma: no cover
    """Every lot of every account: account (index of ``head``), label and amount."""
    n = 0
    for v in range(head.shape[0]):
        row = head[v]
        while row >= 0:
            n += 1
            row = store[row, NXT]
    node, label, amount = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64)
    i = 0
    for v in range(head.shape[0]):
        row = head[v]
        while row >= 0:
            if store[row, AMT] != 0:
                node[i], label[i], amount[i] = v, store[row, LABEL], store[row, AMT]
                i += 1
            row = store[row, NXT]
    return node[:i], label[:i], amount[:i]


@nb.njit(cache=True, nogil=True)
def grow(pieces: np.ndarray, need: int) -> np.ndarray:  # pragma: no cover - compiled
    """Return ``pieces``, or a copy twice the size needed when it holds fewer than ``need``."""
    if need <= pieces.shape[0]:
        return pieces
    bigger = np.empty((2 * need, pieces.shape[1]), np.int64)
    bigger[: pieces.shape[0]] = pieces
    return bigger


@nb.njit(cache=True, nogil=True)
def add_composition(  # pragma: no cover - compiled
    captured: np.ndarray, c: Any, seed: int, pieces: np.ndarray, lo: int, hi: int, clean: int
) -> np.ndarray:
    """Append ``seed``'s composition: its pieces ``lo..hi`` and ``clean`` (label 0) rows."""
    captured = grow(captured, c.captured + hi - lo + 1)
    for k in range(lo, hi):
        captured[c.captured, 0], captured[c.captured, 1] = seed, pieces[k, 1]
        captured[c.captured, 2] = pieces[k, 0]
        c.captured += 1
    if clean > 0:
        captured[c.captured, 0], captured[c.captured, 1], captured[c.captured, 2] = seed, 0, clean
        c.captured += 1
    return captured


@nb.njit(cache=True, nogil=True)
def pari_passu(node: I64, label: I64, received: I64, held: I64) -> I64:  # pragma: no cover
    """Share each account's ``held`` taint by what each label gave it (Barlow Clowes).

    ``node, label, received`` are entries grouped by account; ``held`` is per account. Shares
    are rounded down and the units left over go to the largest remainders (a tie to the lower
    label), so each account's shares sum to its held taint exactly.
    """
    out = np.zeros(node.shape[0], np.int64)
    rem = np.zeros(node.shape[0], np.int64)
    lo = 0
    while lo < node.shape[0]:
        hi, total = lo, 0
        while hi < node.shape[0] and node[hi] == node[lo]:
            total += received[hi]
            hi += 1
        keep = held[node[lo]]
        given = 0
        for k in range(lo, hi):
            if keep >= total:
                out[k], rem[k] = received[k], 0
            else:
                out[k], rem[k] = mul_div(keep, received[k], total)
            given += out[k]
        for _ in range(keep - given):
            best = lo
            for k in range(lo + 1, hi):
                if rem[k] > rem[best] or (rem[k] == rem[best] and label[k] < label[best]):
                    best = k
            out[best] += 1
            rem[best] = -1
        lo = hi
    return out
