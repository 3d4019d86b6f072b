"""Deposit lots for ``fifo`` and ``lifo``: a per-account linked list of pure lots.

Every lot is wholly taint or wholly clean. A deposit that is partly taint arrives as the
pieces in which it left the paying account, in that order, so lots stay pure and the trace is
lossless. Withdrawals always consume from the list's head; ``fifo`` appends deposits at the
tail (oldest money leaves first, Clayton's Case) and ``lifo`` pushes them on the head.

The store is one ``(capacity, 3)`` array of ``amount, tainted, next`` rows with a free list;
the replay's counters record (:data:`tracing.replay.COUNTERS`) holds its ``next_row``, the
free-list head ``free`` and the number of ``live`` lots. The kernels take the store and a
:class:`Lots` record of the rest: the store is apart because :func:`ensure` may replace it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numba as nb
import numpy as np

from tracing.index import I64

# Lot-keeping accounts credit balance and taint as plain sums, as the pro-rata rule does (the
# lots themselves are added by put); the replay calls the rule's deposit either way.
from tracing.rules.haircut import deposit as deposit

AMT, TNT, NXT = 0, 1, 2


class Lots(NamedTuple):
    """Per account, first and last row of its lots in the store (-1: none); the store's counters.

    ``counters`` is a one-record array with (among others) the fields ``next_row``, ``free``
    and ``live``: the replay's own counters, so the replay and the lot kernels update one record.
    """

    head: I64
    tail: I64
    counters: np.ndarray


@nb.njit(cache=True, nogil=True)
def ensure(store: np.ndarray, lots_of: Lots, extra: int) -> np.ndarray:  # pragma: no cover
    """Return the store, reallocated larger when fewer than ``extra`` rows are free."""
    if lots_of.counters[0].next_row + extra <= store.shape[0]:
        return store
    bigger = np.empty((2 * store.shape[0] + extra + 16, 3), np.int64)
    bigger[: store.shape[0]] = store
    return bigger


@nb.njit(cache=True, nogil=True)
def _new(store: np.ndarray, counters: Any, amount: int, tainted: int) -> int:  # pragma: no cover
    if counters.free >= 0:
        row = counters.free
        counters.free = store[row, NXT]
    else:
        row = counters.next_row
        counters.next_row += 1
    store[row, AMT], store[row, TNT], store[row, NXT] = amount, tainted, -1
    counters.live += 1
    return int(row)


@nb.njit(cache=True, nogil=True)
def _free(store: np.ndarray, counters: Any, row: int) -> None:  # pragma: no cover
    store[row, NXT] = counters.free
    counters.free = row
    counters.live -= 1


@nb.njit(cache=True, nogil=True)
def put(  # pragma: no cover - compiled
    store: np.ndarray,
    lots_of: Lots,
    node: int,
    amount: int,
    tainted: int,
    newest_first: bool,  # noqa: FBT001 - compiled kernels take positional arguments
) -> None:
    """Add a pure lot to ``node``: at the tail (fifo) or the head (lifo).

    A lot of the same kind as its neighbour merges into it, so runs stay short.
    """
    if amount <= 0:
        return
    head, tail = lots_of.head, lots_of.tail
    end = head[node] if newest_first else tail[node]
    if end >= 0 and store[end, TNT] == tainted:
        store[end, AMT] += amount
        return
    row = _new(store, lots_of.counters[0], amount, tainted)
    if head[node] < 0:
        head[node] = tail[node] = row
    elif newest_first:
        store[row, NXT] = head[node]
        head[node] = row
    else:
        store[tail[node], NXT] = row
        tail[node] = row


@nb.njit(cache=True, nogil=True)
def take(  # pragma: no cover - compiled
    store: np.ndarray, lots_of: Lots, node: int, amount: int, pieces: np.ndarray, at: int
) -> tuple[int, int]:
    """Consume ``amount`` from the head of ``node``'s lots.

    Writes the consumed pieces ``(amount, tainted)`` to ``pieces[at:]`` (adjacent pieces of
    one kind merged; a shortfall beyond the lots is a clean piece) and returns the taint
    carried and the end of the written pieces.
    """
    head, tail = lots_of.head, lots_of.tail
    carried, end, left = 0, at, amount
    while left > 0:
        row = head[node]
        if row < 0:
            part, tainted = left, 0
        else:
            part, tainted = min(store[row, AMT], left), store[row, TNT]
            store[row, AMT] -= part
            if store[row, AMT] == 0:
                head[node] = store[row, NXT]
                if head[node] < 0:
                    tail[node] = -1
                _free(store, lots_of.counters[0], row)
        if end > at and pieces[end - 1, 1] == tainted:
            pieces[end - 1, 0] += part
        else:
            pieces[end, 0], pieces[end, 1] = part, tainted
            end += 1
        carried += part * tainted
        left -= part
    return carried, end
