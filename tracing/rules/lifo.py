"""LIFO: the newest deposit lot leaves first.

Deposits are pushed on the head of the lots of :mod:`tracing.rules.lots`, in the order their
pieces left the paying account; withdrawals consume from the head.
"""

from __future__ import annotations

NEWEST_FIRST = True
