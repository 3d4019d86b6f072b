"""Serving with several worker processes: what runs once, before they start, and a debug marker.

The parent process migrates the database and makes (and prints) the first admin key once; the
workers it then starts are told not to, so N workers never race to do either.
"""

import os

from starlette.types import ASGIApp

from app.db import make_engine, make_sessionmaker
from app.security_headers import ResponseHeadersMiddleware
from app.settings import Settings


def prepare(settings: Settings, workers: int) -> None:
    """Before `workers` processes start: the once-only work, and the environment they read."""
    from app.main import announce

    engine = make_engine(settings.effective_database_url)
    try:
        if settings.bootstrap_admin_key:
            announce(make_sessionmaker(engine), settings)
    finally:
        engine.dispose()
    os.environ.update(MONEYTRAIL_WORKERS=str(workers), MONEYTRAIL_BOOTSTRAP_ADMIN_KEY="false")


class WorkerPidMiddleware(ResponseHeadersMiddleware):
    """Names the serving process in `X-Worker-Pid` (only when `expose_worker_pid` is set:
    tests and benchmarks check that requests reach every worker)."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app, [(b"x-worker-pid", str(os.getpid()).encode())])
