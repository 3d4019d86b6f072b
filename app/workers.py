"""Serving with several worker processes: what runs once, before they start, and a debug marker.

The parent process migrates the database and makes (and prints) the first admin key once; the
workers it then starts are told not to, so N workers never race to do either.

The workers are forked from the parent, which has imported the service (FastAPI, SQLAlchemy,
Polars, NumPy, Numba and the app: about 180 MiB of objects, frozen out of the garbage collector):
they share those pages copy-on-write instead of each importing its own copy, as uvicorn's spawned
workers did (two workers took 1.63 times one worker's memory with the same ledger).
"""

import multiprocessing
import os
from pathlib import Path

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.db import make_engine, make_sessionmaker
from app.settings import Settings

log = structlog.get_logger("app.workers")


def _threads() -> int | None:
    tasks = Path("/proc/self/task")
    return len(list(tasks.iterdir())) if tasks.is_dir() else None


def fork_workers() -> bool:
    """Have uvicorn start its workers by fork rather than spawn; False where that is not safe.

    Fork copies only the calling thread. A pool started before it (Polars' and Numba's are
    started by their first parallel work) would be a pool without threads in each worker, whose
    first query would wait forever. So the workers are forked only from a process that runs one
    thread, which the parent does when nothing has used Polars or the engine in it; otherwise
    (or where threads cannot be counted) they are spawned, as uvicorn does by default.
    """
    import uvicorn._subprocess

    threads = _threads()
    if threads != 1 or not hasattr(uvicorn._subprocess, "spawn"):
        log.warning("workers_spawned", threads=threads, hint="a thread ran before the fork")
        return False
    # uvicorn names its start method in one module attribute, read when it starts each worker.
    uvicorn._subprocess.spawn = multiprocessing.get_context("fork")  # type: ignore[assignment]
    return True


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


class WorkerPidMiddleware:
    """Names the serving process in `X-Worker-Pid` (only when `expose_worker_pid` is set:
    tests and benchmarks check that requests reach every worker)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.header = (b"x-worker-pid", str(os.getpid()).encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_pid(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), self.header]
            await send(message)

        await self.app(scope, receive, send_with_pid)
