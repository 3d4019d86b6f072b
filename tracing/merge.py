"""Placing a few late transactions into an indexed ledger without building it again.

Statements and reports arrive late: a batch whose value times fall before the ledger's last row
is the everyday case of an FIU feed. The index must then equal one built from all rows at once
(the fingerprint names it in every trace's provenance, and ids are numbered by first appearance
in canonical order), so the late rows are merged into place, and what the merge moved (which
account, node and currency appears first) is renumbered with permutations: linear passes over
the integer columns, no sort of the old rows, no hashing of their account keys again.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from tracing.index import I64

# Batches up to this many rows are merged, if at most TIED_ROWS_MAX of them share a value time
# with a ledger row; others are placed by a sort of everything. Rows of equal times are placed
# one by one (a Python loop, 0.1 ms a row), so ledgers of dates without times, where every row
# ties, merge only small batches.
MERGE_ROWS_MAX = 4096
TIED_ROWS_MAX = 256


def rows_before(time: I64, seq: I64, ids: pl.Series, batch: pl.DataFrame) -> I64 | None:
    """Count, for each row of ``batch``, the ledger rows that sort before it.

    ``batch`` is canonically sorted, with columns ``time_us``, ``sequence``, ``external_id``;
    the order is (time, sequence, id), as the ledger's. None when more than
    ``TIED_ROWS_MAX`` rows share a value time with ledger rows.
    """
    b_time = batch.get_column("time_us").to_numpy()
    lo = np.searchsorted(time, b_time, "left")
    hi = np.searchsorted(time, b_time, "right")
    before = lo.astype(np.int64)
    tied = np.flatnonzero(hi > lo)
    if len(tied) > TIED_ROWS_MAX:
        return None
    if len(tied):
        b_seq = batch.get_column("sequence").to_numpy()
        b_ids = batch.get_column("external_id")
        for j in tied.tolist():
            a, b = int(lo[j]), int(hi[j])
            s_lo = a + int(np.searchsorted(seq[a:b], b_seq[j], "left"))
            s_hi = a + int(np.searchsorted(seq[a:b], b_seq[j], "right"))
            before[j] = s_lo
            if s_hi > s_lo:  # equal time and sequence: the ids decide, as the sort compares them
                found = ids.slice(s_lo, s_hi - s_lo).search_sorted(b_ids[j], side="left")
                before[j] += int(found)
    return before


class Placement:
    """Where the old rows and the batch's rows go in the merged order."""

    def __init__(self, n_old: int, before: I64) -> None:
        m = len(before)
        self.n = n_old + m
        self.batch_at = before + np.arange(m, dtype=np.int64)
        self.old_mask = np.ones(self.n, np.bool_)
        self.old_mask[self.batch_at] = False

    def merge(self, old: np.ndarray, new: np.ndarray) -> np.ndarray:
        """One column of the merged rows, from the old rows' column and the batch's."""
        out = np.empty(self.n, np.result_type(old.dtype, new.dtype))
        out[self.old_mask] = old
        out[self.batch_at] = new
        return out

    def merge_series(self, old: pl.Series, new: pl.Series) -> pl.Series:
        """One column of the merged rows, as a Polars series."""
        source = np.empty(self.n, np.int64)
        source[self.old_mask] = np.arange(len(old), dtype=np.int64)
        source[self.batch_at] = len(old) + np.arange(len(new), dtype=np.int64)
        return pl.concat([old, new.cast(old.dtype)], rechunk=True).gather(source)


def first_seen(sequence: I64, n_ids: int) -> tuple[I64, I64]:
    """Renumber ids ``0..n_ids-1`` by their first position in ``sequence`` (each id occurs).

    Returns ``(order, rank)``: ``order[r]`` is the id ranked ``r``, ``rank[id]`` its rank.
    """
    first = np.full(n_ids, len(sequence), np.int64)
    # Written from the back, so the last write to an id is its first position.
    first[sequence[::-1]] = np.arange(len(sequence) - 1, -1, -1, dtype=np.int64)
    order = np.argsort(first, kind="stable").astype(np.int64)
    rank = np.empty(n_ids, np.int64)
    rank[order] = np.arange(n_ids, dtype=np.int64)
    return order, rank


def interleaved(sources: I64, targets: I64) -> I64:
    """Endpoints in the order ids are first seen in: from, to, from, to, ..."""
    out = np.empty(2 * len(sources), np.int64)
    out[0::2], out[1::2] = sources, targets
    return out
