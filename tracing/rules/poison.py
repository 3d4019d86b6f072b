"""Poison: once an account has received any taint, every withdrawal is wholly tainted.

This measures exposure, not value: figures may exceed the seed, and conservation does not
apply. ``T`` holds 1 once the account is tainted.
"""

from __future__ import annotations

import numba as nb

from tracing.index import I64


@nb.njit(cache=True, nogil=True)
def withdraw(balance: I64, taint: I64, node: int, amount: int) -> int:  # pragma: no cover
    """Taint carried by a withdrawal of ``amount``; updates the balance."""
    balance[node] -= amount
    return amount if taint[node] else 0


@nb.njit(cache=True, nogil=True)
def deposit(
    balance: I64, taint: I64, node: int, amount: int, tainted: int
) -> None:  # pragma: no cover
    """Credit ``amount``; any tainted part poisons the account."""
    balance[node] += amount
    if tainted > 0:
        taint[node] = 1
