from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from app.audit.models import AUDIT_APPEND_LOCK
from app.db import WRITE_LOCK, WRITE_LOCK_WAIT, is_lock_timeout
from app.errors import AppError
from app.examples import example

router = APIRouter(tags=["health"])


class Health(BaseModel):
    model_config = example(
        {"status": "ok"},
    )

    status: str


class DatabaseUnavailable(AppError):
    status, code, title = 503, "database_unavailable", "Database unavailable"


class WriteStarved(AppError):
    """Reads would work, but no request could write (and every request writes its audit entry)."""

    status, code, title = 503, "write_starved", "Writes starved"


def _probe_write_lock(conn: Connection, wait_seconds: float) -> None:
    """Takes and at once gives back the lock every request's audit entry needs, waiting at
    most `wait_seconds`; raises what the database raises when it cannot be had in time."""
    wait_ms = max(1, round(wait_seconds * 1000))
    if conn.dialect.name == "sqlite":
        # busy_timeout belongs to the pooled connection: it is put back for the next user.
        previous = conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one()
        conn.exec_driver_sql(f"PRAGMA busy_timeout={wait_ms}")
        conn.rollback()
        try:
            probing = {WRITE_LOCK: True, WRITE_LOCK_WAIT: wait_seconds}
            with conn.execution_options(**probing).begin() as probe:
                probe.rollback()
        finally:
            conn.exec_driver_sql(f"PRAGMA busy_timeout={int(previous)}")
            conn.rollback()
        return
    with conn.begin() as probe:
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = {wait_ms}")
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_APPEND_LOCK})
        probe.rollback()


@router.get("/healthz")
def get_health() -> Health:
    """Liveness: the process answers."""
    return Health(status="ok")


@router.get(
    "/readyz",
    responses={503: {"description": "The database cannot be reached, or writes are starved."}},
)
async def get_readiness(request: Request) -> Health:
    """Readiness: the database answers, its schema is migrated and writes are not starved."""
    wait = request.app.state.settings.ready_lock_probe_seconds

    def probe() -> None:
        with request.app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1 FROM alembic_version"))
            conn.rollback()
            _probe_write_lock(conn, wait)

    try:
        await run_in_threadpool(probe)
    except SQLAlchemyError as exc:
        if is_lock_timeout(exc):
            raise WriteStarved(
                f"the write lock could not be had within {wait:g} s: requests are waiting on "
                "a long write",
                setting="MONEYTRAIL_READY_LOCK_PROBE_SECONDS",
            ) from exc
        raise DatabaseUnavailable("the database cannot be reached or is not migrated") from exc
    return Health(status="ok")
