"""What tracing needs while the service runs: the warm ledger and the job workers."""

import threading
from datetime import UTC, datetime

import structlog
from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError

from app.settings import Settings
from app.trace.jobs import TraceJobs
from app.trace.ledger_cache import LedgerCache
from app.trace.repository import TraceRepository

log = structlog.get_logger("app.trace")


def _warm(app: FastAPI) -> None:
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
