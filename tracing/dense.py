"""The pro-rata labelled replay of a few labels: per account a dense row of minor units.

Claimants are few (tens), and the accounts a saturated trace reaches many, so each account's
shares are a row of an ``accounts x labels`` int64 matrix (and its taint received another;
only the accounts that receive taint have rows, when they are known beforehand)
rather than a vector in a pool: a deposit adds to the row in place, a withdrawal splits the
row's non-zero entries, and nothing is allocated or looked up per event. The rows are read
where :mod:`tracing.labelled` reads vectors, with the same rule, largest-remainder rounding
(:func:`tracing.rules.shares.leftover`) and order of events, so the result is the same to
the unit; :func:`tracing.labelled.replay_labelled` picks this replay when the matrices are
small (:data:`MAX_CELLS`).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, NamedTuple

import numba as nb
import numpy as np

from tracing import kernel_cache
from tracing.index import I64
from tracing.replay import DELIVER, INTO_SEED, EventColumns, Placements
from tracing.rules import haircut, libr
from tracing.rules.shares import add_composition, grow, leftover

# Cells (accounts x labels) of each matrix: 2**25 int64 cells are 256 MiB.
MAX_CELLS = 1 << 25
# Below this a withdrawal's product of amounts surely fits in 63 bits (no overflow check).
_SAFE = 1 << 31


class Rows(NamedTuple):
    """Per account: balance, taint, and rows of what each label holds and gave it."""

    balance: I64
    taint: I64
    held: np.ndarray  # (rows, labels + 1) int64; column 0 unused (clean money)
    received: np.ndarray
    row: I64  # per account: its row in ``held`` and ``received``
    exited: I64  # per label: taint that left the traced universe
    slot_lo: I64  # per slot: a delivered withdrawal's pieces in the stash
    slot_hi: I64
    # per slot: the taint its withdrawal carried in the rule's replay, in which no account went
    # overdrawn (then balances are not replayed), or empty
    carried: I64


@nb.njit(cache=True, nogil=True, inline="always")
def _split(  # pragma: no cover - compiled
    held: np.ndarray, u: int, total: int, amount: int, pieces: np.ndarray, at: int
) -> int:
    """Take ``amount`` of row ``u``'s ``total`` taint pro rata to it; return the pieces' end.

    As :func:`tracing.rules.shares.split`, label by label in ascending order (a tie in the
    remainders goes to the lower label).
    """
    end = at
    if amount <= 0:
        return end
    row = held[u]
    if amount >= total:
        for k in range(1, row.shape[0]):
            if row[k] != 0:
                pieces[end, 0], pieces[end, 1], pieces[end, 2] = row[k], k, 0
                row[k] = 0
                end += 1
        return end
    given = 0
    small = amount < _SAFE and total < _SAFE
    for k in range(1, row.shape[0]):
        share = row[k]
        if share == 0:
            continue
        if small:
            product = amount * share
            q = product // total
            r = product - q * total
        else:
            q, r = haircut.mul_div(amount, share, total)
        pieces[end, 0], pieces[end, 1], pieces[end, 2] = q, k, r
        given += q
        end += 1
    if amount > given:
        leftover(pieces, at, end, amount - given)
    for i in range(at, end):
        row[pieces[i, 1]] -= pieces[i, 0]
    return end


def _make_rows(rule: ModuleType) -> Any:
    """Make the dense pro-rata replay of one rule (``rule``'s withdraw compiled in)."""

    @nb.njit(cache=True, nogil=True)
    @kernel_cache.variant(rule)
    def replay_rows(  # pragma: no cover - compiled
        lo: int,
        hi: int,
        ev: EventColumns,
        placed: Placements,
        placed_label: I64,
        inflow: I64,
        capture: I64,
        st: Rows,
        stash: np.ndarray,
        captured: np.ndarray,
        counters: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Replay events ``lo..hi`` and the placements before them; return stash, captured.

        ``counters`` is one :data:`tracing.labelled.LABEL_COUNTERS` record (``top``,
        ``pending``, ``placed``, ``captured``).
        """
        c = counters[0]
        balance, taint, held, received, exited, row_of = (
            st.balance,
            st.taint,
            st.held,
            st.received,
            st.exited,
            st.row,
        )
        keys, slots, whos, amounts, route = ev.key, ev.slot, ev.who, ev.amount, ev.route
        n_placements, n_events = placed.key.shape[0], keys.shape[0]
        # the record's fields live in locals here (a record is memory the loop would reload)
        p, e, top, pending = c.placed, lo, c.top, c.pending
        known = st.carried.shape[0] > 0
        next_s = next_lo = next_hi = -1
        while True:
            clean = 0
            if p < n_placements and (e == n_events or placed.key[p] < keys[e]):
                v, plo = placed.node[p], top
                stash = grow(stash, plo + 1)
                stash[plo, 0], stash[plo, 1] = placed.amount[p], placed_label[p]
                phi = plo + 1
                p += 1
            else:
                if e == hi:
                    break
                s, w = slots[e], amounts[e]
                r = route[s]
                key, who = keys[e], whos[e]
                e += 1
                if key & 1 == 0:
                    at = end = top
                    cap = capture[s] if capture.shape[0] > 0 else -1
                    if known:
                        # the rule's replay has divided already and no account overdraws:
                        # a withdrawal without taint (and its deposit) changes no share, and
                        # the balances are not replayed
                        carried = st.carried[s]
                        if carried == 0:
                            if cap >= 0:
                                captured = add_composition(captured, c, cap, stash, at, at, w)
                            continue
                        before = taint[who]
                        taint[who] = before - carried
                    else:
                        before = taint[who]
                        carried = rule.withdraw(balance, taint, who, w)
                    if carried > 0:
                        stash = grow(stash, at + held.shape[1])
                        end = _split(held, row_of[who], before, carried, stash, at)
                    if cap >= 0:
                        captured = add_composition(captured, c, cap, stash, at, end, w - carried)
                    if r == DELIVER:
                        if e < hi and slots[e] == s:
                            # its deposit is the next event: no per-slot rows
                            next_s, next_lo, next_hi = s, at, end
                        else:
                            st.slot_lo[s], st.slot_hi[s] = at, end
                        top = end
                        pending += 1
                    else:
                        for k in range(at, end):
                            exited[stash[k, 1]] += stash[k, 0]
                    continue
                v = who
                if r == DELIVER:
                    if known and st.carried[s] == 0:
                        continue  # its withdrawal was passed over
                    if s == next_s:
                        plo, phi, next_s = next_lo, next_hi, -1
                    else:
                        plo, phi = st.slot_lo[s], st.slot_hi[s]
                    pending -= 1
                    clean = w
                    for k in range(plo, phi):
                        clean -= stash[k, 0]
                else:
                    plo = phi = top
                    hot = w if r == INTO_SEED else 0
                    clean = w - hot
                    if hot > 0 and inflow[s] > 0:
                        stash = grow(stash, plo + 1)
                        stash[plo, 0], stash[plo, 1] = hot, inflow[s]
                        phi = plo + 1
                    else:
                        clean = w
            # credit ``v`` with the pieces ``stash[plo:phi]`` and ``clean`` clean money
            if plo == phi and (known or balance[v] >= 0):
                if not known:
                    balance[v] += clean  # the common case: clean money, no overdraft
                if pending == 0:
                    top = 0
                continue
            debt = -balance[v] if not known and balance[v] < 0 else 0
            balance[v] += debt
            amount, tainted = clean, 0
            for k in range(plo, phi):
                a, label = stash[k, 0], stash[k, 1]
                amount += a
                if label > 0 and a > 0:
                    tainted += a
                    held[row_of[v], label] += a
                    received[row_of[v], label] += a
            balance[v] += amount
            taint[v] += tainted
            if debt > 0:
                # into an overdrawn account the deposit's first part repays the bank (an exit)
                repay = min(debt, amount)
                at = max(top, phi)
                before = taint[v]
                repaid = rule.withdraw(balance, taint, v, repay)
                stash = grow(stash, at + held.shape[1])
                end = _split(held, row_of[v], before, repaid, stash, at)
                for k in range(at, end):
                    exited[stash[k, 1]] += stash[k, 0]
                balance[v] -= debt - repay
            if pending == 0:
                top = 0
        c.placed, c.top, c.pending = p, top, pending
        return stash, captured

    return replay_rows


ROWS = {"haircut": _make_rows(haircut), "libr": _make_rows(libr)}


@nb.njit(cache=True, nogil=True)
def row_entries(rows: np.ndarray) -> tuple[I64, I64, I64]:  # pragma: no cover - compiled
    """Every non-zero cell of ``rows``: account, label and amount, by account then label."""
    n = 0
    for v in range(rows.shape[0]):
        for k in range(1, rows.shape[1]):
            if rows[v, k] != 0:
                n += 1
    node, label, amount = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.int64)
    i = 0
    for v in range(rows.shape[0]):
        for k in range(1, rows.shape[1]):
            if rows[v, k] != 0:
                node[i], label[i], amount[i] = v, k, rows[v, k]
                i += 1
    return node, label, amount
