"""What tracing needs while the service runs: the warm ledger and the job workers."""

import threading
from datetime import UTC, datetime
from decimal import Decimal

import polars as pl
import structlog
from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError

from app.settings import Settings
from app.trace.jobs import TraceJobs
from app.trace.ledger_cache import LedgerCache
from app.trace.repository import TraceRepository
from tracing import Ledger, Rule, TraceParams, trace

log = structlog.get_logger("app.trace")


def _compile_engine() -> None:
    """Run each rule once on a toy ledger: the engine's kernels compile (or load from their
    cache) now rather than inside an investigator's first request."""
    stamp = datetime(2026, 1, 1, tzinfo=UTC)
    frame = pl.DataFrame(
        {
            "external_id": ["W1", "W2"],
            "from_account": ["acct:a", "acct:b"],
            "to_account": ["acct:b", "acct:c"],
            "amount": [Decimal("2.00"), Decimal("1.00")],
            "currency": ["EUR", "EUR"],
            "value_time": [stamp, stamp],
            "sequence": [1, 2],
        },
        schema_overrides={"amount": pl.Decimal(18, 2)},
    )
    ledger = Ledger.from_frame(frame)
    for rule in Rule:
        trace(ledger, TraceParams(seed_transactions=("W1",), rule=rule))


def _warm(app: FastAPI) -> None:
    _compile_engine()
    try:
        with app.state.sessionmaker() as session:
            ledger = app.state.ledger_cache.current(session)
        log.info("ledger_warm", transactions=ledger.n_transactions)
    except SQLAlchemyError:
        log.warning("ledger_not_warmed", hint="run: moneytrail db upgrade")


def start(app: FastAPI, settings: Settings) -> None:
    app.state.ledger_cache = LedgerCache()
    app.state.trace_jobs = TraceJobs(settings.trace_workers)
    try:
        with app.state.writer_sessions() as session:
            if TraceRepository(session).mark_interrupted(datetime.now(UTC)):
                session.commit()
    except SQLAlchemyError:
        return
    if settings.trace_warm_ledger:
        threading.Thread(target=_warm, args=(app,), name="ledger-warm", daemon=True).start()


def stop(app: FastAPI) -> None:
    app.state.trace_jobs.shutdown()
