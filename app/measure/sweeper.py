"""The in-process deadline sweep: started with the service, it moves lapsed measures to
EXPIRED at start-up and then every `deadline_sweep_interval_seconds`."""

import asyncio
from contextlib import suppress

import structlog
from anyio import to_thread
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from app.measure import lapses
from app.measure.models import Measure
from app.settings import Settings

log = structlog.get_logger("app.measure.sweeper")


def sweep_once(make_session: sessionmaker[Session]) -> list[Measure]:
    """The lapse events recorded (detached: their columns stay readable)."""
    with make_session() as session:
        expired = lapses.sweep_lapsed(session)
    if expired:
        log.info("deadlines_swept", expired_assets=[m.asset_id for m in expired])
    return expired


async def _sweep_logged(make_session: sessionmaker[Session]) -> None:
    try:
        await to_thread.run_sync(sweep_once, make_session)
    except Exception:
        # A failed sweep is logged and retried at the next tick; the service keeps running.
        log.exception("deadline_sweep_failed")


async def _every(make_session: sessionmaker[Session], interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        await _sweep_logged(make_session)


async def start(app: FastAPI, settings: Settings) -> None:
    """Sweep once before serving (what lapsed while the service was down), then periodically."""
    app.state.deadline_sweeper = None
    if not settings.deadline_sweep_enabled:
        return
    await _sweep_logged(app.state.writer_sessions)
    app.state.deadline_sweeper = asyncio.create_task(
        # Never a busy loop, whatever the setting says.
        _every(app.state.writer_sessions, max(settings.deadline_sweep_interval_seconds, 1.0))
    )


async def stop(app: FastAPI) -> None:
    task = getattr(app.state, "deadline_sweeper", None)
    if task is not None:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
