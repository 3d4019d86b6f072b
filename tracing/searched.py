"""What a trace's search found, as the later stages (replay, sources, result) read it."""

from __future__ import annotations

from typing import Any, NamedTuple

from tracing.graph import Reach
from tracing.index import I64
from tracing.ledger import Ledger
from tracing.order import Order
from tracing.params import TraceParams


class Searched(NamedTuple):
    """The traced ledger, its order and parameters, the seeds and what the search reached."""

    ledger: Ledger
    order: Order
    params: TraceParams
    seeds: Any  # tracing.engine.Seeds
    reach: Reach
    sink_reason: I64  # aligned with reach.nodes
