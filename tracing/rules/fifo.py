"""FIFO (Clayton's Case): the oldest deposit lot leaves first.

Between innocent contributors to a running account, Clayton's Case takes first in as first
out; ``fifo`` applies it to every account on the trail. Deposits join the tail of the lots of
:mod:`tracing.rules.lots`; withdrawals consume from the head.
"""

from __future__ import annotations

NEWEST_FIRST = False
