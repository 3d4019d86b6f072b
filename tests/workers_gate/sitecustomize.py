"""Loaded by every process of a test server (PYTHONPATH): holds each trace at its first hop
until the file named by MONEYTRAIL_TEST_GATE exists, honouring cancellation meanwhile, so a test
can poll and cancel a job that is certainly running. Never on the path of a real server."""

import os
import time
from pathlib import Path

_GATE = os.environ.get("MONEYTRAIL_TEST_GATE")

if _GATE:
    from app.trace import service
    from tracing import Progress, TraceCancelled

    _real = service.trace

    def _held(ledger, params, *, progress=None, cancelled=None, **options):  # type: ignore[no-untyped-def]
        if progress is not None:
            progress(Progress(hops_done=1, accounts_reached=2, events_replayed=0))
        while not Path(_GATE).exists():
            if cancelled is not None and cancelled():
                raise TraceCancelled("cancelled")
            time.sleep(0.02)
        return _real(ledger, params, progress=progress, cancelled=cancelled, **options)

    service.trace = _held
