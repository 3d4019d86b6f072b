"""The errors of the tracing engine.

Every error the engine raises on purpose is a :class:`TracingError`; the service maps each
subclass to one HTTP status in a single table (``app/errors.py``)::

    TracingError
    ├── InvalidTraceParams   the parameters contradict each other or are out of range
    ├── SchemaMismatch       an input frame lacks a column or has a wrong or inexact dtype
    ├── InvalidLedger        the rows break a ledger rule (duplicate id, self-transfer, ...)
    ├── UnknownSeed          a seed account or transaction is not in the ledger
    ├── TraceTooLarge        the trace would exceed the caller's account or event limit
    ├── TraceCancelled       the caller's cancellation check returned true
    └── ConservationError    taint was created or lost: a defect in the engine, never data
"""

from __future__ import annotations


class TracingError(Exception):
    """Base class of every error raised by :mod:`tracing`."""


class InvalidTraceParams(TracingError):
    """The trace parameters are out of range or contradict each other."""


class SchemaMismatch(TracingError):
    """An input frame lacks a column or has a dtype the engine cannot use exactly."""


class InvalidLedger(TracingError):
    """Rows break a ledger rule: duplicate id, self-transfer, non-positive or inexact amount."""


class UnknownSeed(TracingError):
    """A seed account, seed transaction or explained account is not in the ledger."""


class TraceTooLarge(TracingError):
    """The trace reached more accounts or events than the caller allowed."""


class TraceCancelled(TracingError):
    """The caller's cancellation check asked the trace to stop."""


class ConservationError(TracingError):
    """Taint in differs from taint held plus taint exited: an engine defect, never bad data."""
