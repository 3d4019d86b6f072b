"""Checkpoints taken by the service itself: when `audit_checkpoint_entries` entries are new or
`audit_checkpoint_minutes` have passed with any new, and at shutdown."""

import asyncio
from contextlib import suppress
from datetime import timedelta

import structlog
from anyio import to_thread
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from app.audit import checkpoints, service
from app.audit.signing import Signer
from app.settings import Settings

log = structlog.get_logger("app.audit")
# How often the service looks whether a checkpoint is due: a read of two indexed rows.
POLL_SECONDS = 10.0


def signer_for(settings: Settings) -> Signer:
    return Signer(key=settings.audit_signing_key, path=settings.data_dir / "audit-signing-key.pem")


def take_if_due(
    readers: sessionmaker[Session],
    writers: sessionmaker[Session],
    signer: Signer,
    settings: Settings,
) -> None:
    max_age = timedelta(minutes=settings.audit_checkpoint_minutes)
    with readers() as session:  # looked at without the write lock, taken with it
        if not checkpoints.due(
            session, every_entries=settings.audit_checkpoint_entries, max_age=max_age
        ):
            return
    if (taken := service.take_checkpoint(writers, signer)) is not None:
        log.info("audit_checkpoint", entries=taken.entries, head_hash=taken.head_hash)


async def _every(app: FastAPI, settings: Settings, interval: float) -> None:
    state = app.state
    while True:
        await asyncio.sleep(interval)
        try:
            await to_thread.run_sync(
                take_if_due, state.sessionmaker, state.writer_sessions, state.audit_signer, settings
            )
        except Exception:
            # Logged and tried again at the next tick; the service keeps serving.
            log.exception("audit_checkpoint_failed")


def start(app: FastAPI, settings: Settings) -> None:
    app.state.audit_signer = signer_for(settings)
    interval = max(min(POLL_SECONDS, settings.audit_checkpoint_minutes * 60), 1.0)
    app.state.audit_checkpointer = asyncio.create_task(_every(app, settings, interval))


async def stop(app: FastAPI) -> None:
    """Stop looking, then sign what the trail holds now, so a restart begins anchored."""
    task = getattr(app.state, "audit_checkpointer", None)
    if task is None:
        return
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task
    try:
        await to_thread.run_sync(_take_final, app)
    except Exception:
        log.exception("audit_checkpoint_failed")


def _take_final(app: FastAPI) -> None:
    state = app.state
    with state.sessionmaker() as session:
        new, _ = checkpoints.unsigned_entries(session)
    if new and (taken := service.take_checkpoint(state.writer_sessions, state.audit_signer)):
        log.info("audit_checkpoint", entries=taken.entries, head_hash=taken.head_hash)
