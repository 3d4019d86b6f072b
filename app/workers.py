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
import re
import threading
from pathlib import Path

import structlog
from starlette.types import ASGIApp

from app.db import make_engine, make_sessionmaker
from app.security_headers import ResponseHeadersMiddleware
from app.settings import Settings

log = structlog.get_logger("app.workers")


# Native threads a fork leaves behind in the parent that the workers would miss: Polars'
# compute pool (`polars-0`, ...) and its async runtime. Others are safe to leave: jemalloc's
# background threads and OpenBLAS's pool re-create theirs after a fork (both register fork
# handlers), and Polars' spill cleaner (`polars-ooc-clea`) idles unless a query spills to disk.
_POOLS = re.compile(r"polars-\d|tokio-")


def _pool_threads() -> list[str] | None:
    tasks = Path("/proc/self/task")
    if not tasks.is_dir():
        return None
    return [n for t in tasks.iterdir() if _POOLS.match(n := (t / "comm").read_text().strip())]


def fork_workers() -> bool:
    """Have uvicorn start its workers by fork rather than spawn; False where that is not safe.

    Fork copies only the calling thread. A pool started before it (Polars' is started by its
    first parallel query) would be a pool without threads in each worker, whose first query
    would wait forever. So the workers are forked only when nothing has used Polars' pools
    in the parent and no Python thread runs; otherwise (or where threads cannot be listed)
    they are spawned, as uvicorn does by default.
    """
    import uvicorn._subprocess

    pools = _pool_threads()
    if pools != [] or threading.active_count() != 1 or not hasattr(uvicorn._subprocess, "spawn"):
        log.warning("workers_spawned", pools=pools, threads=threading.active_count())
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


class WorkerPidMiddleware(ResponseHeadersMiddleware):
    """Names the serving process in `X-Worker-Pid` (only when `expose_worker_pid` is set:
    tests and benchmarks check that requests reach every worker)."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app, [(b"x-worker-pid", str(os.getpid()).encode())])
