"""Attribution rules: how much of a withdrawal from a mixed account is taint (DESIGN §3).

Each rule is a pair of compiled functions over per-node state arrays, called by the replay
in :mod:`tracing.attribution` once per event in replay order:

* :mod:`~tracing.rules.poison` - all of a withdrawal once the account got any taint (exposure);
* :mod:`~tracing.rules.haircut` - pro rata ``w * T / B``, largest-remainder rounded;
* :mod:`~tracing.rules.libr` - lowest intermediate balance (Re Hallett, Roscoe v Winder);
* :mod:`~tracing.rules.fifo` and :mod:`~tracing.rules.lifo` - deposit lots consumed oldest or
  newest first (Clayton's Case), sharing the lot store of :mod:`~tracing.rules.lots`.
"""

from __future__ import annotations

from tracing.params import Rule

CODES: dict[Rule, int] = {
    Rule.POISON: 1,
    Rule.HAIRCUT: 2,
    Rule.FIFO: 3,
    Rule.LIFO: 4,
    Rule.LIBR: 5,
}
