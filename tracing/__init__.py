"""moneytrail's tracing engine: follow the proceeds of crime through a ledger.

A pure library over Polars and NumPy (with Numba for the hot loops): no web, no database.
The semantics are those of DESIGN §3.

Public API
----------
``Ledger.from_frame(frame, *, currency_decimals=None, opening_balances=None) -> Ledger``
    Index a transactions frame (``external_id, from_account, to_account, amount (Decimal),
    currency, value_time (tz-aware), sequence``). ``ledger.append(frame) -> Ledger`` extends it
    without a rebuild when the new rows come later in time, and merges a few late ones into
    place. ``ledger.fingerprint`` identifies its content.
``TraceParams(seeds=..., seed_transactions=..., direction=..., rule=..., same_day_policy=...,
max_hops=..., window_start=..., window_end=..., min_amount=..., stop_at=...,
max_counterparties=..., as_of=..., max_accounts=..., max_events=...)``
    Frozen, checked when built. Seeds are :class:`AccountSeed` (an amount placed on an
    account at a time) and/or external ids of seed transactions.
``trace(ledger, params, *, progress=None, cancelled=None) -> TraceResult``
    Reachability (rule ``reach``) or value attribution (``poison``, ``haircut``, ``fifo``,
    ``lifo``, ``libr``). ``progress`` receives :class:`Progress`; ``cancelled`` is polled and
    raises :class:`TraceCancelled`.
``Ledger.from_minor(frame, decimals, *, opening_balances=None) -> Ledger``
    The same from integer minor units (column ``amount_minor`` in place of ``amount``).
``TraceResult``
    ``accounts``, ``flows``, ``exits``, ``flags`` (Polars frames), ``summary`` (dict),
    ``provenance`` (:class:`Provenance`); ``to_json()`` is canonical, ``digest()`` its SHA-256.
    ``to_frames()`` gives every frame by :class:`Frame` (with the two ``explain`` reads) and
    ``TraceResult.from_frames(frames, summary=..., provenance=...)`` makes a result of them.
``format_minor(minor, decimals) -> str``
    Money as text: exact, from integer minor units.
``explain(result, *, to, currency=None, k=5) -> polars.DataFrame``
    The ``k`` strongest paths from a seed to an account.

Threads: the compiled kernels release the GIL (``nogil``), so a long trace in one thread does
not stop a service's other threads; each writes only its outputs and its thread's workspace
(:class:`tracing.graph.Workspaces`), and a ledger is immutable.

Money is integer minor units inside and ``Decimal`` outside; times are UTC. Currencies never
mix: each ``(account, currency)`` is its own node, so a trace follows the currency it started
in, and a conversion at an exchange shows up as the taint reaching (and, with ``stop_at`` or the
high-degree cut-off, exiting at) the exchange; the other currency's outflow is not followed.

Example
-------
>>> import polars as pl
>>> from datetime import UTC, datetime
>>> from decimal import Decimal
>>> frame = pl.DataFrame({
...     "external_id": ["T1", "T2"], "from_account": ["acct:A", "acct:B"],
...     "to_account": ["acct:B", "acct:C"], "amount": [Decimal("100.00"), Decimal("60.00")],
...     "currency": ["EUR", "EUR"],
...     "value_time": [datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 2, tzinfo=UTC)],
...     "sequence": [1, 2]}, schema_overrides={"amount": pl.Decimal(18, 2)})
>>> ledger = Ledger.from_frame(frame)
>>> result = trace(ledger, TraceParams(seed_transactions=("T1",), rule=Rule.LIBR))
>>> result.accounts.select("account", "held").rows()
[('acct:B', Decimal('40.00')), ('acct:C', Decimal('60.00'))]
"""

from __future__ import annotations

from tracing.engine import trace
from tracing.errors import (
    ConservationError,
    InvalidLedger,
    InvalidTraceParams,
    SchemaMismatch,
    TraceCancelled,
    TraceTooLarge,
    TracingError,
    UnknownSeed,
)
from tracing.explain import explain
from tracing.graph import Progress
from tracing.kernel_cache import install as _install_kernel_cache
from tracing.ledger import Ledger
from tracing.mask import Mask, bits_at, compartment_mask
from tracing.params import (
    AccountSeed,
    ClaimantRule,
    Direction,
    Rule,
    SameDayPolicy,
    TraceParams,
)
from tracing.result import (
    ENGINE_VERSION,
    PASSED_ON_COUNTS_EXITS,
    PUBLIC_FRAMES,
    Frame,
    Provenance,
    TraceResult,
    frames_of,
    text_columns,
)
from tracing.schema import format_minor

# before any kernel loads or compiles: tests, benchmarks and the CLI compile side by side
_install_kernel_cache()

__all__ = [
    "ENGINE_VERSION",
    "PASSED_ON_COUNTS_EXITS",
    "PUBLIC_FRAMES",
    "AccountSeed",
    "ClaimantRule",
    "ConservationError",
    "Direction",
    "Frame",
    "InvalidLedger",
    "InvalidTraceParams",
    "Ledger",
    "Mask",
    "Progress",
    "Provenance",
    "Rule",
    "SameDayPolicy",
    "SchemaMismatch",
    "TraceCancelled",
    "TraceParams",
    "TraceResult",
    "TraceTooLarge",
    "TracingError",
    "UnknownSeed",
    "bits_at",
    "compartment_mask",
    "explain",
    "format_minor",
    "frames_of",
    "text_columns",
    "trace",
]
