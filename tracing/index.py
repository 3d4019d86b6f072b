"""Compiled building blocks of the ledger index: a hash index of keys and CSR adjacency."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numba as nb
import numpy as np
import numpy.typing as npt
import polars as pl

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
# Two independent 64-bit hashes of each key: the first addresses the table, the second is
# compared too, so two keys would have to collide in 128 bits to be confused.
_SEEDS = (0x6D6F6E6579, 0x747261696C)


class LedgerColumns(NamedTuple):
    """The ledger's columns as the compiled kernels take them, one record built per ledger.

    Per transaction position: its endpoints (nodes), amount (minor units), value time (µs) and
    currency (index); and the CSR offsets of each node's outgoing and incoming transactions.
    """

    src: I64
    dst: I64
    amount: I64
    time: I64
    currency: I64
    out_ptr: I64
    in_ptr: I64


class Adjacency(NamedTuple):
    """CSR adjacency: ``idx[ptr[v]:ptr[v + 1]]`` are node ``v``'s transactions in order."""

    out_ptr: I64
    out_idx: I64
    in_ptr: I64
    in_idx: I64


@nb.njit(cache=True, nogil=True)
def _mix(key: np.uint64) -> np.uint64:  # pragma: no cover - compiled
    # splitmix64 finaliser: node keys carry the currency in their low bits, so the raw key
    # would crowd a few slots.
    key = (key ^ (key >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    key = (key ^ (key >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return key ^ (key >> np.uint64(31))


@nb.njit(cache=True, nogil=True)
def _insert(  # pragma: no cover - compiled
    keys: U64,
    checks: U64,
    t_key: U64,
    t_check: U64,
    t_id: I64,
    n_ids: int,
    insert: bool,  # noqa: FBT001 - compiled kernels take positional arguments
) -> tuple[I64, int, int]:
    """Look up (and insert) keys; status 0 done, 1 a 128-bit collision, 2 table half full."""
    mask = t_key.shape[0] - 1
    limit = t_key.shape[0] // 2
    out = np.empty(keys.shape[0], np.int64)
    for i in range(keys.shape[0]):
        key = keys[i]
        slot = np.int64(_mix(key) & np.uint64(mask))
        while True:
            found = t_id[slot]
            if found < 0:
                if insert:
                    if n_ids >= limit:
                        return out, n_ids, 2
                    t_key[slot] = key
                    t_check[slot] = checks[i]
                    t_id[slot] = n_ids
                    found = n_ids
                    n_ids += 1
                out[i] = found
                break
            if t_key[slot] == key:
                if t_check[slot] != checks[i]:
                    return out, n_ids, 1
                out[i] = found
                break
            slot = (slot + 1) & mask
    return out, n_ids, 0


@dataclass(slots=True)
class HashIndex:
    """Ids of keys in first-seen order; grows without renumbering (so appends keep ids)."""

    keys: U64
    checks: U64
    t_key: U64
    t_check: U64
    t_id: I64

    @classmethod
    def empty(cls) -> HashIndex:
        """Return an index without keys."""
        none = np.empty(0, np.uint64)
        return cls(none, none, *cls._table(16))

    @staticmethod
    def _table(capacity: int) -> tuple[U64, U64, I64]:
        return (
            np.zeros(capacity, np.uint64),
            np.zeros(capacity, np.uint64),
            np.full(capacity, -1, np.int64),
        )

    @classmethod
    def of(cls, keys: U64, checks: U64) -> HashIndex:
        """Return an index numbering ``keys`` (distinct) by their position."""
        table = cls._table(1 << max(4, int(2 * len(keys) - 1).bit_length()))
        _insert(keys, checks, *table, 0, True)
        return cls(keys, checks, *table)

    def copy(self) -> HashIndex:
        """Return an independent copy (ledgers are immutable, so appends copy)."""
        return HashIndex(
            self.keys, self.checks, self.t_key.copy(), self.t_check.copy(), self.t_id.copy()
        )

    def reserve(self, extra: int) -> None:
        """Make room for ``extra`` more keys without a rebuild while they arrive."""
        self._reserve(extra)

    def _reserve(self, extra: int) -> None:
        need = 2 * (len(self.keys) + extra)
        if need <= len(self.t_key):
            return
        capacity = 1 << max(4, int(need - 1).bit_length())
        self.t_key, self.t_check, self.t_id = self._table(capacity)
        _insert(self.keys, self.checks, self.t_key, self.t_check, self.t_id, 0, True)

    def shrink(self) -> None:
        """Rebuild the table at the smallest size that keeps it at most half full."""
        capacity = 1 << max(4, int(2 * len(self.keys) - 1).bit_length())
        if capacity < len(self.t_key):
            self.t_key, self.t_check, self.t_id = self._table(capacity)
            _insert(self.keys, self.checks, self.t_key, self.t_check, self.t_id, 0, True)

    def add(self, keys: U64, checks: U64) -> I64 | None:
        """Ids of ``keys``, new keys numbered next; ``None`` on a 128-bit collision."""
        # Most keys repeat (accounts recur), so start small; a full table is rebuilt from the
        # known keys, dropping this call's partial inserts, and the call retried.
        extra = min(len(keys), 1024 + len(keys) // 8)
        n = len(self.keys)
        while True:
            self._reserve(extra)
            ids, n_new, status = _insert(keys, checks, self.t_key, self.t_check, self.t_id, n, True)
            if status != 2:
                break
            extra = len(keys)
            self.t_key = self.t_key[:0]  # force the rebuild
        if status == 1:
            return None
        fresh = np.zeros(n_new - n, np.int64)
        fresh[ids[ids >= n] - n] = np.flatnonzero(ids >= n)
        self.keys = np.concatenate([self.keys, keys[fresh]])
        self.checks = np.concatenate([self.checks, checks[fresh]])
        return ids

    def find(self, keys: U64, checks: U64) -> I64:
        """Ids of ``keys``, -1 for keys not in the index."""
        ids, _, status = _insert(keys, checks, self.t_key, self.t_check, self.t_id, 0, False)
        return ids if status == 0 else np.full(len(keys), -1, np.int64)


def find_sorted(sorted_values: I64, values: I64) -> I64:
    """Index of each of ``values`` in ``sorted_values`` (ascending), -1 where absent.

    A binary search per value: ``np.isin`` sorts both sides or builds a table spanning the
    value range, which costs more than a whole local trace.
    """
    if len(sorted_values) == 0:
        return np.full(len(values), -1, np.int64)
    at = np.minimum(np.searchsorted(sorted_values, values), len(sorted_values) - 1)
    return np.where(sorted_values[at] == values, at, -1)


@nb.njit(cache=True, nogil=True)
def member(sorted_values: I64, value: int) -> bool:  # pragma: no cover - compiled
    """Whether ``value`` is in ``sorted_values`` (ascending), inside compiled kernels."""
    i = np.searchsorted(sorted_values, value)
    return bool(i < sorted_values.shape[0] and sorted_values[i] == value)


def contains(sorted_values: I64, values: I64) -> npt.NDArray[np.bool_]:
    """Whether each of ``values`` is in ``sorted_values`` (ascending)."""
    return find_sorted(sorted_values, values) >= 0


def sorted_unique(values: I64) -> I64:
    """Sorted distinct values (NumPy 2's hash-based ``unique`` is slower on small arrays)."""
    ordered = np.sort(values)
    if len(ordered) < 2:
        return ordered
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]


def string_hashes(values: pl.Series) -> tuple[U64, U64]:
    """Return the two hashes of each string that :class:`HashIndex` stores."""
    return (
        values.hash(seed=_SEEDS[0]).to_numpy().astype(np.uint64, copy=False),
        values.hash(seed=_SEEDS[1]).to_numpy().astype(np.uint64, copy=False),
    )


@nb.njit(cache=True, nogil=True)
def csr(nodes: I64, n_nodes: int) -> tuple[I64, I64]:  # pragma: no cover - compiled
    """Stable counting sort: ``idx[ptr[v]:ptr[v+1]]`` are the rows of node ``v`` in order."""
    ptr = np.zeros(n_nodes + 1, np.int64)
    for v in nodes:
        ptr[v + 1] += 1
    for v in range(n_nodes):
        ptr[v + 1] += ptr[v]
    fill = ptr[:-1].copy()
    idx = np.empty(nodes.shape[0], np.int64)
    for i in range(nodes.shape[0]):
        idx[fill[nodes[i]]] = i
        fill[nodes[i]] += 1
    return ptr, idx


@nb.njit(cache=True, nogil=True)
def csr_append(  # pragma: no cover - compiled
    ptr: I64, idx: I64, new_nodes: I64, offset: int, n_nodes: int
) -> tuple[I64, I64]:
    """CSR of old rows plus rows ``offset..`` that all come after them: one linear merge."""
    add = np.zeros(n_nodes + 1, np.int64)
    for v in new_nodes:
        add[v + 1] += 1
    old_nodes = ptr.shape[0] - 1
    out_ptr = np.zeros(n_nodes + 1, np.int64)
    for v in range(n_nodes):
        old = ptr[v + 1] - ptr[v] if v < old_nodes else 0
        out_ptr[v + 1] = out_ptr[v] + old + add[v + 1]
    out = np.empty(idx.shape[0] + new_nodes.shape[0], np.int64)
    fill = out_ptr[:-1].copy()
    for v in range(min(old_nodes, n_nodes)):
        for k in range(ptr[v], ptr[v + 1]):
            out[fill[v]] = idx[k]
            fill[v] += 1
    for i in range(new_nodes.shape[0]):
        out[fill[new_nodes[i]]] = offset + i
        fill[new_nodes[i]] += 1
    return out_ptr, out


@nb.njit(cache=True, nogil=True)
def counterparties(  # pragma: no cover - compiled
    adj: Adjacency, src: I64, dst: I64, visible: npt.NDArray[np.bool_]
) -> I64:
    """Distinct counterparties (either direction) of each node.

    Over the transactions ``visible`` keeps (a mask, :mod:`tracing.mask`); all when it is empty.
    """
    n = adj.out_ptr.shape[0] - 1
    seen = np.full(n, -1, np.int64)
    count = np.zeros(n, np.int64)
    for v in range(n):
        count[v] = _unseen(adj.out_ptr, adj.out_idx, dst, visible, v, seen)
        count[v] += _unseen(adj.in_ptr, adj.in_idx, src, visible, v, seen)
    return count


@nb.njit(cache=True, nogil=True)
def recount(  # pragma: no cover - compiled
    adj: Adjacency, src: I64, dst: I64, nodes: I64, count: I64
) -> None:
    """Recount ``counterparties`` of ``nodes`` only, into ``count``.

    After an append, the nodes the new rows touch are the only ones whose counterparties can
    have changed.
    """
    seen = np.full(adj.out_ptr.shape[0] - 1, -1, np.int64)
    everything = np.empty(0, np.bool_)
    for v in nodes:
        count[v] = _unseen(adj.out_ptr, adj.out_idx, dst, everything, v, seen)
        count[v] += _unseen(adj.in_ptr, adj.in_idx, src, everything, v, seen)


@nb.njit(cache=True, nogil=True, inline="always")
def _unseen(  # pragma: no cover - compiled
    ptr: I64, idx: I64, far: I64, visible: npt.NDArray[np.bool_], v: int, seen: I64
) -> int:
    """Count (and mark ``v`` in ``seen``) node ``v``'s counterparties ``far`` not yet seen."""
    masked = visible.shape[0] > 0
    found = 0
    for k in range(ptr[v], ptr[v + 1]):
        t = idx[k]
        w = far[t]
        if (not masked or visible[t]) and seen[w] != v:
            seen[w] = v
            found += 1
    return found
