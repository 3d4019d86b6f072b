"""Group commit for the audit entries of requests that commit no change of their own.

Requests hand their entry to one writer thread and wait on a future. The writer takes every
entry waiting when it wakes (at most `max_batch`), chains them after the current head in one
transaction, commits once and only then resolves their futures: a request answers once its
entry is durable, and waits for nothing but the batch its entry is in (and the one being
written when it arrived). See docs/audit-group-commit.md.
"""

import asyncio
import queue
import threading
from concurrent.futures import Future
from typing import Any

import structlog
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from app.audit import service
from app.db import AUDIT_HEAD_START, WRITE_HEAD_START

log = structlog.get_logger("app.audit")
_STOP = object()

Pending = tuple[dict[str, Any], "Future[None]"]


class GroupWriter:
    """The production audit sink: called (blocking) or awaited (`write`) with one entry."""

    def __init__(self, sessions: sessionmaker[Session], *, max_batch: int = 256) -> None:
        # The writer sessions' bind: on SQLite its transactions take the write lock at BEGIN.
        bind = sessions.kw["bind"]
        assert isinstance(bind, Engine)
        # Each read's answer waits for its entry: the batch goes first in the queue for the lock.
        self._bind = bind.execution_options(**{WRITE_HEAD_START: AUDIT_HEAD_START})
        # Kept from batch to batch (no pool checkout, no liveness ping per batch); opened on
        # first use in the writer's thread and dropped after a failed batch.
        self._connection: Connection | None = None
        self._max_batch = max(1, max_batch)
        self._queue: queue.SimpleQueue[Pending | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.batches = 0  # batches committed, for tests and logs

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="audit-group-writer", daemon=True
                )
                self._thread.start()

    def stop(self) -> None:
        """Write what is queued, then end the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join()

    def submit(self, fields: dict[str, Any]) -> "Future[None]":
        done: Future[None] = Future()
        if self._thread is None:
            self.start()  # a sink used outside the app's lifespan (a script, a test)
        self._queue.put((fields, done))
        return done

    def __call__(self, fields: dict[str, Any]) -> None:
        self.submit(fields).result()

    async def write(self, fields: dict[str, Any]) -> None:
        await asyncio.wrap_future(self.submit(fields))

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            batch: list[Pending] = []
            item = first
            while True:
                if item is _STOP:
                    stopping = True
                else:
                    batch.append(item)  # type: ignore[arg-type]
                if stopping or len(batch) >= self._max_batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._commit(batch)
        # Entries that arrived while stopping are written too, one batch at a time.
        rest: list[Pending] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                rest.append(item)  # type: ignore[arg-type]
        for start in range(0, len(rest), self._max_batch):
            self._commit(rest[start : start + self._max_batch])
        self._disconnect()

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:
                log.warning("audit_writer_close_failed", exc_info=True)

    def _commit(self, batch: list[Pending]) -> None:
        try:
            if self._connection is None:
                self._connection = self._bind.connect()
            service.append_batch(self._connection, [fields for fields, _ in batch])
        except Exception as exc:
            log.exception("audit_batch_failed", entries=len(batch))
            self._disconnect()  # a broken connection is not reused; the next batch reconnects
            for _, done in batch:
                done.set_exception(exc)
            return
        self.batches += 1
        for _, done in batch:
            done.set_result(None)
