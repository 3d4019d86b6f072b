"""Claimants' shares of an account's taint, kept per account as labelled entries.

The store has the layout of :mod:`tracing.rules.lots` (``amount, label, next`` rows, a free
list in a :data:`tracing.replay.COUNTERS` record), the label standing where a lot keeps its
taint flag: label 0 is clean money, labels from 1 name claimants (or, backward, origins).
Under the lot rules the claimants follow the lots (:func:`tracing.rules.lots.put` and
:func:`~tracing.rules.lots.take` on labelled lots). Under ``pro_rata`` an account's entries are
an unordered vector, one entry per label: :func:`merge` adds to it and :func:`split` takes a
withdrawal's taint from it in proportion to the shares, by the largest-remainder method.

Pieces (what a withdrawal took) are rows ``amount, label, scratch`` of a ``(n, 3)`` array.
"""

from __future__ import annotations

from typing import Any

import numba as nb
import numpy as np

from tracing.index import I64
from tracing.rules.haircut import mul_div
from tracing.rules.lots import AMT, NXT, TNT, _free, _new

LABEL = TNT


@nb.njit(cache=True)
def merge(  # pragma: no cover - compiled
    store: np.ndarray,
    counters: Any,
    head: I64,
    tail: I64,
    where: I64,
    node: int,
    pieces: np.ndarray,
    lo: int,
    hi: int,
) -> None:
    """Add the labelled pieces ``pieces[lo:hi]`` (clean ones skipped) to ``node``'s vector.

    ``where`` is a per-label scratch array of -1, restored before returning.
    """
    row = head[node]
    while row >= 0:
        where[store[row, LABEL]] = row
        row = store[row, NXT]
    for k in range(lo, hi):
        amount, label = pieces[k, 0], pieces[k, 1]
        if amount <= 0 or label == 0:
            continue
        row = where[label]
        if row >= 0:
            store[row, AMT] += amount
            continue
        row = _new(store, counters, amount, label)
        where[label] = row
        if head[node] < 0:
            head[node] = row
        else:
            store[tail[node], NXT] = row
        tail[node] = row
    row = head[node]
    while row >= 0:
        where[store[row, LABEL]] = -1
        row = store[row, NXT]


@nb.njit(cache=True)
def split(  # pragma: no cover - compiled
    store: np.ndarray,
    counters: Any,
    head: I64,
    tail: I64,
    node: int,
    total: int,
    amount: int,
    pieces: np.ndarray,
    at: int,
) -> int:
    """Take ``amount`` of ``node``'s ``total`` taint pro rata to its entries; return the end.

    Each label gets ``amount * share / total`` rounded down; the units left over go, one each,
    to the largest remainders (a tie to the lower label), so the pieces sum to ``amount``
    exactly. The pieces are written to ``pieces[at:]``; emptied entries are freed.
    """
    end = at
    if amount <= 0:
        return end
    whole = amount >= total
    given = 0
    row = head[node]
    while row >= 0:
        label, share = store[row, LABEL], store[row, AMT]
        if whole:
            q, r = share, 0
        else:
            q, r = mul_div(amount, share, total)
        pieces[end, 0], pieces[end, 1], pieces[end, 2] = q, label, r
        given += q
        end += 1
        row = store[row, NXT]
    for _ in range(amount - given):
        best = at
        for k in range(at + 1, end):
            if pieces[k, 2] > pieces[best, 2] or (
                pieces[k, 2] == pieces[best, 2] and pieces[k, 1] < pieces[best, 1]
            ):
                best = k
        pieces[best, 0] += 1
        pieces[best, 2] = -1
    # subtract in list order (the pieces were written in it) and unlink what is emptied
    prev, row, k = -1, head[node], at
    while row >= 0:
        following = store[row, NXT]
        store[row, AMT] -= pieces[k, 0]
        if store[row, AMT] == 0:
            if prev < 0:
                head[node] = following
            else:
                store[prev, NXT] = following
            if tail[node] == row:
                tail[node] = prev
            _free(store, counters, row)
        else:
            prev = row
        row, k = following, k + 1
    return end


@nb.njit(cache=True)
def entries(store: np.ndarray, head: I64) -> tuple[I64, I64, I64]:  # pragma: no cover
    """Every entry of every account: account (index of ``head``), label and amount."""
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


@nb.njit(cache=True)
def grow(pieces: np.ndarray, need: int) -> np.ndarray:  # pragma: no cover - compiled
    """Return ``pieces``, or a copy twice the size needed when it holds fewer than ``need``."""
    if need <= pieces.shape[0]:
        return pieces
    bigger = np.empty((2 * need, pieces.shape[1]), np.int64)
    bigger[: pieces.shape[0]] = pieces
    return bigger


@nb.njit(cache=True)
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
