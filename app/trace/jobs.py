"""Trace jobs: the engine runs on worker threads; a request waits briefly, then hands off.

Progress is kept in memory for polling; cancellation is a flag the engine polls between hops
and replay chunks, so a cancelled job stops within one chunk of work. With several worker
processes the database carries both across (`app.trace.runtime.JobSync`).
"""

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from tracing import Progress, TraceResult

Work = Callable[[Callable[[Progress], None], Callable[[], bool]], TraceResult]


@dataclass
class Job:
    future: "Future[TraceResult]"
    cancel: threading.Event = field(default_factory=threading.Event)
    progress: dict[str, Any] = field(default_factory=dict)


def initial_progress() -> dict[str, Any]:
    return {"hops_done": 0, "accounts_reached": 0, "events_replayed": 0}


class TraceJobs:
    """The engine's worker threads and the jobs running on them in this process."""

    def __init__(self, workers: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="trace")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def submit(self, trace_id: str, work: Work) -> Job:
        cancel = threading.Event()
        progress = initial_progress()

        def report(p: Progress) -> None:
            progress.update(
                hops_done=p.hops_done,
                accounts_reached=p.accounts_reached,
                events_replayed=p.events_replayed,
            )

        future = self._pool.submit(work, report, cancel.is_set)
        job = Job(future=future, cancel=cancel, progress=progress)
        with self._lock:
            self._jobs[trace_id] = job
        future.add_done_callback(lambda _: self._forget(trace_id))
        return job

    def _forget(self, trace_id: str) -> None:
        with self._lock:
            self._jobs.pop(trace_id, None)

    def get(self, trace_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(trace_id)

    def running(self) -> dict[str, Job]:
        with self._lock:
            return dict(self._jobs)

    def cancel(self, trace_id: str) -> bool:
        job = self.get(trace_id)
        if job is None:
            return False
        job.cancel.set()
        return True

    def shutdown(self) -> None:
        for job in self.running().values():
            job.cancel.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
