"""Trace jobs: the engine runs on worker threads; a request waits briefly, then hands off.

Progress is kept in memory for polling; cancellation is a flag the engine polls between hops
and replay chunks, so a cancelled job stops within one chunk of work.
"""

import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from tracing import Progress, TraceResult

Work = Callable[[Callable[[Progress], None], Callable[[], bool]], TraceResult]
P = ParamSpec("P")
T = TypeVar("T")


@dataclass
class Job:
    future: "Future[TraceResult]"
    cancel: threading.Event = field(default_factory=threading.Event)
    progress: dict[str, Any] = field(default_factory=dict)


class TraceJobs:
    def __init__(self, workers: int, *, keep_results: int = 32) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="trace")
        # Side work of storing results, kept apart so that it never queues behind an engine run.
        self._helpers = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="trace-store")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._results: OrderedDict[str, TraceResult] = OrderedDict()
        self._keep = keep_results

    def submit(self, trace_id: str, work: Work) -> Job:
        cancel = threading.Event()
        progress: dict[str, Any] = {"hops_done": 0, "accounts_reached": 0, "events_replayed": 0}

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

    def offload(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> "Future[T]":
        return self._helpers.submit(fn, *args, **kwargs)

    def _forget(self, trace_id: str) -> None:
        with self._lock:
            self._jobs.pop(trace_id, None)

    def get(self, trace_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(trace_id)

    def cancel(self, trace_id: str) -> bool:
        job = self.get(trace_id)
        if job is None:
            return False
        job.cancel.set()
        return True

    def remember(self, trace_id: str, result: TraceResult) -> None:
        with self._lock:
            self._results[trace_id] = result
            self._results.move_to_end(trace_id)
            while len(self._results) > self._keep:
                self._results.popitem(last=False)

    def recall(self, trace_id: str) -> TraceResult | None:
        with self._lock:
            return self._results.get(trace_id)

    def shutdown(self) -> None:
        for job in list(self._jobs.values()):
            job.cancel.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._helpers.shutdown(wait=True)
