"""Lowest intermediate balance (Re Hallett's Estate; Roscoe v Winder).

The wrongdoer is taken to spend their own money first: a withdrawal ``w`` carries
``max(0, w - (B - T))``. Afterwards ``T <= B`` holds by construction, so a balance that falls
to zero or below leaves no taint, and later clean deposits never restore it. An overdrawing
withdrawal carries all remaining taint.
"""

from __future__ import annotations

import numba as nb

from tracing.index import I64

# A deposit credits what it brings, as under the haircut: clean money never restores taint.
from tracing.rules.haircut import deposit as deposit


@nb.njit(cache=True, nogil=True)
def withdraw(balance: I64, taint: I64, node: int, amount: int) -> int:  # pragma: no cover
    """Taint carried by a withdrawal of ``amount``; updates balance and taint."""
    b, t = balance[node], taint[node]
    own = max(b - t, 0)
    carried = min(max(amount - own, 0), t)
    balance[node] = b - amount
    taint[node] = t - carried
    return int(carried)
