"""Attribution rules: how much of a withdrawal from a mixed account is taint (DESIGN §3).

Each rule module has compiled ``withdraw(balance, taint, node, amount) -> carried`` and
``deposit(balance, taint, node, amount, tainted)`` over per-account state; the replay in
:mod:`tracing.replay` is made once per rule from them (:func:`tracing.replay.replay_kernel`):

* :mod:`~tracing.rules.poison` - all of a withdrawal once the account got any taint (exposure);
* :mod:`~tracing.rules.haircut` - pro rata ``w * T / B``, largest-remainder rounded;
* :mod:`~tracing.rules.libr` - lowest intermediate balance (Re Hallett, Roscoe v Winder);
* :mod:`~tracing.rules.lots` - ``fifo`` and ``lifo``: deposit lots consumed oldest or newest
  first (Clayton's Case); a withdrawal takes from the lots of that module.
"""
