"""The trace runtime: everything tracing holds while the service runs, made once per process.

One object, built in the lifespan and handed to routes as a dependency: the warm ledger, the
engine's worker threads, a helper pool for storing results, the bounded caches (results, the
external accounts of a ledger), the writer sessions jobs store into, and the settings. Caches
that depend on the data are keyed by the ledger's fingerprint.

With several worker processes, a job runs in the process that started it; `JobSync` carries
its progress and a heartbeat to the database and brings cancellation requests made through
another process back to the job, so any process can answer for any job.
"""

import os
import socket
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, ParamSpec, TypeVar

import structlog
from fastapi import Depends, Request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app.compartments import Compartments
from app.settings import Settings
from app.trace.caches import BoundedCache
from app.trace.filing import Filing, Reading, cached_mask
from app.trace.jobs import TraceJobs
from app.trace.ledger_cache import LedgerCache
from app.trace.repository import TraceRepository
from tracing import Ledger, Mask, TraceResult

log = structlog.get_logger("app.trace")
P = ParamSpec("P")
T = TypeVar("T")


def _runner_id() -> str:
    # Host and pid say whether the process is gone (same host); the token tells a reused pid.
    return f"{socket.gethostname()[:30]}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


def _external_keys(ledger: Ledger) -> frozenset[str]:
    keys = ledger.account_keys
    is_external = keys.str.starts_with("ext:") | keys.str.starts_with("cash:")
    return frozenset(keys.filter(is_external).to_list())


def _keys_size(keys: frozenset[str]) -> int:
    # A str of n ASCII characters takes 49 + n bytes; a set slot about 16 more.
    return sum(65 + len(k) for k in keys)


# What a rule holds per (account, currency): the report's rules side by side.
Held = dict[tuple[str, str], Decimal | None]


def _held_size(held: Held) -> int:
    # Two keys' strs (49 + n bytes each), a tuple (56), a Decimal (104) and a dict slot (~100).
    return sum(360 + len(a) + len(c) for a, c in held)


# The roles in the network of a trace's accounts: app.trace.roles.account_roles.
Roles = list[dict[str, Any]]


def _roles_size(found: Roles) -> int:
    # A row's dict and keys (~400 bytes), and per role its dict and figures (~600 bytes).
    return sum(400 + len(r["account"]) + 600 * len(r["roles"]) for r in found)


@dataclass
class TraceRuntime:
    settings: Settings
    sessions: sessionmaker[Session]
    writer_sessions: sessionmaker[Session]
    ledgers: LedgerCache
    jobs: TraceJobs
    results: BoundedCache[str, TraceResult]
    externals: BoundedCache[str, frozenset[str]]
    runner: str = field(default_factory=_runner_id)
    # Side work of storing results, kept apart so that it never queues behind an engine run.
    helpers: ThreadPoolExecutor = field(init=False)
    sync: "JobSync" = field(init=False)
    comparisons: BoundedCache[tuple[str, str, str], Held] = field(init=False)
    roles: BoundedCache[tuple[str, str], Roles] = field(init=False)
    masks: BoundedCache[tuple[str, str, str], Mask] = field(init=False)
    # Per finished engine run, until its result is stored: what it read from.
    reads: dict[str, Reading] = field(default_factory=dict)

    def __post_init__(self) -> None:
        workers = self.settings.trace_workers
        self.helpers = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="trace-store")
        self.sync = JobSync(self)
        self.comparisons = BoundedCache(
            max_items=self.settings.trace_comparison_cache_items,
            max_bytes=self.settings.trace_comparison_cache_bytes,
        )
        # Bounded like the comparisons: both are derived from a finished trace, per trace.
        self.roles = BoundedCache(
            max_items=self.settings.trace_comparison_cache_items,
            max_bytes=self.settings.trace_comparison_cache_bytes,
        )
        self.masks = BoundedCache(
            max_items=self.settings.trace_mask_cache_items,
            max_bytes=self.settings.trace_mask_cache_bytes,
        )

    @classmethod
    def build(
        cls, settings: Settings, sessions: sessionmaker[Session], writers: sessionmaker[Session]
    ) -> "TraceRuntime":
        return cls(
            settings=settings,
            sessions=sessions,
            writer_sessions=writers,
            ledgers=LedgerCache.for_settings(settings),
            jobs=TraceJobs(settings.trace_workers),
            results=BoundedCache(
                max_items=settings.trace_result_cache_items,
                max_bytes=settings.trace_result_cache_bytes,
            ),
            externals=BoundedCache(
                max_items=settings.trace_external_cache_items,
                max_bytes=settings.trace_external_cache_bytes,
            ),
        )

    def ledger(self, session: Session) -> Ledger:
        """The current ledger; results that keep an older one alive are let go."""
        ledger = self.ledgers.current(session)
        self.results.unpin(ledger.fingerprint)
        return ledger

    def filed_ledger(self, session: Session) -> tuple[Ledger, Filing]:
        """The current ledger and its transactions' compartments (app.trace.filing)."""
        ledger, filing = self.ledgers.current_filed(session)
        self.results.unpin(ledger.fingerprint)
        self.masks.unpin(ledger.fingerprint)
        return ledger, filing

    def mask_for(self, ledger: Ledger, filing: Filing, compartments: Compartments) -> Mask | None:
        """What `compartments` may trace over (`app.trace.filing.cached_mask`)."""
        return cached_mask(self.masks, ledger, filing, compartments)

    def external_stops(self, ledger: Ledger) -> frozenset[str]:
        """The `ext:`/`cash:` keys of a ledger: scanned once per ledger, not once per trace."""
        return self.externals.get_or_make(
            ledger.fingerprint, lambda: _external_keys(ledger), _keys_size
        )

    def held_by_rule(
        self,
        trace_id: str,
        ledger: Ledger,
        rule: str,
        compute: Callable[[], Held],
        *,
        mask: Mask | None = None,
    ) -> Held:
        """What `rule` holds for a trace on a ledger: computed once per (trace, ledger and
        mask, rule)."""
        view = ledger.fingerprint if mask is None else f"{ledger.fingerprint}/{mask.digest}"
        return self.comparisons.get_or_make((trace_id, view, rule), compute, _held_size)

    def roles_of(self, trace_id: str, thresholds: str, compute: Callable[[], Roles]) -> Roles:
        """The roles of a finished trace's accounts under `thresholds` (their canonical JSON):
        computed once per (trace, thresholds), not on every page, chart, report or export."""
        return self.roles.get_or_make((trace_id, thresholds), compute, _roles_size)

    def offload(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> "Future[T]":
        return self.helpers.submit(fn, *args, **kwargs)

    def remember(self, trace_id: str, result: TraceResult, *, size: int, pins: str | None) -> None:
        self.results.put(trace_id, result, size=size, pins=pins)

    def recall(self, trace_id: str) -> TraceResult | None:
        return self.results.get(trace_id)

    def is_alive(self, runner: str | None, heartbeat_at: datetime | None, now: datetime) -> bool:
        """Whether the process that runs a job still does (its heartbeat is recent)."""
        if runner is None or heartbeat_at is None:
            return False
        if runner == self.runner:
            return True
        host, _, rest = runner.partition("/")
        pid = rest.partition("/")[0]
        if host == socket.gethostname()[:30] and pid.isdigit() and not _pid_alive(int(pid)):
            return False
        return heartbeat_at >= now - timedelta(seconds=self.settings.trace_job_stale_seconds)

    def shutdown(self) -> None:
        self.sync.stop()
        self.jobs.shutdown()
        self.helpers.shutdown(wait=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive, and not ours to judge
        return True
    return True


class JobSync:
    """Every `trace_job_poll_seconds`, while this process runs jobs: their progress and a
    heartbeat go to the database, and cancellations asked for elsewhere come back."""

    def __init__(self, runtime: TraceRuntime) -> None:
        self._runtime = runtime
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="trace-sync", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        interval = max(self._runtime.settings.trace_job_poll_seconds, 0.05)
        while not self._stop.wait(interval):
            try:
                self.sync_once()
            except SQLAlchemyError:
                log.warning("trace_job_sync_failed", exc_info=True)

    def sync_once(self) -> None:
        running = self._runtime.jobs.running()
        if not running:
            return
        now = datetime.now(UTC)
        with self._runtime.writer_sessions() as session:
            repository = TraceRepository(session)
            progress = {tid: dict(job.progress) for tid, job in running.items()}
            repository.heartbeat(progress, now=now)
            session.commit()
            for trace_id in repository.cancel_requested(list(running)):
                running[trace_id].cancel.set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


async def get_trace_runtime(request: Request) -> TraceRuntime:
    runtime = request.app.state.trace_runtime
    assert isinstance(runtime, TraceRuntime)
    return runtime


TraceRuntimeDep = Annotated[TraceRuntime, Depends(get_trace_runtime)]
