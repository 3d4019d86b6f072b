"""Haircut (rolling charge, pro rata): a withdrawal ``w`` carries ``w * T / B`` of the taint.

The split of ``T`` between what leaves and what stays is rounded by the largest-remainder
method, so no unit is created or lost; a tie (remainder exactly one half) goes with the
withdrawal, i.e. the taint follows the money.
"""

from __future__ import annotations

import numba as nb

from tracing.index import I64


@nb.njit(cache=True, nogil=True)
def mul_div(a: int, b: int, c: int) -> tuple[int, int]:  # pragma: no cover - compiled
    """Exact ``divmod(a * b, c)`` for ``0 <= a <= c < 2**62`` and ``0 <= b < 2**62``.

    ``a * b`` may not fit in 64 bits, so it is built by doubling over ``b``'s bits, keeping
    the running remainder below ``c``.
    """
    if b == 0 or a <= (2**62) // b:
        product = a * b
        return product // c, product % c
    qa, ra = a // c, a % c
    q, r = 0, 0
    for bit in range(61, -1, -1):
        q, r = 2 * q, 2 * r
        if r >= c:
            q, r = q + 1, r - c
        if (b >> bit) & 1:
            q, r = q + qa, r + ra
            if r >= c:
                q, r = q + 1, r - c
    return q, r


@nb.njit(cache=True, nogil=True)
def withdraw(balance: I64, taint: I64, node: int, amount: int) -> int:  # pragma: no cover
    """Taint carried by a withdrawal of ``amount``; updates balance and taint."""
    b, t = balance[node], taint[node]
    if amount >= b or b <= 0:
        carried = t
    else:
        q, r = mul_div(amount, t, b)
        carried = q + 1 if 2 * r >= b and r > 0 else q
    balance[node] = b - amount
    taint[node] = t - carried
    return int(carried)


@nb.njit(cache=True, nogil=True)
def deposit(
    balance: I64, taint: I64, node: int, amount: int, tainted: int
) -> None:  # pragma: no cover
    """Credit ``amount`` of which ``tainted`` is taint."""
    balance[node] += amount
    taint[node] += tainted
