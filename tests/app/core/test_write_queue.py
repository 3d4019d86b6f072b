"""Writers of one process take SQLite's write lock by turn (issue 23: no request waits for
another's long work).

SQLite's busy handler lets in whichever waiter polls first; during a long load in slices a
read's audit batch waited behind several other writers. `app.db.WriteQueue` hands the lock on,
when it is given back, to the waiter whose wait counted with its head start is the longest:
a read's audit batch, then a request's write, then a slice of a long load. These tests hold the
lock from one connection, queue writers of each kind on others, and watch who gets in first.
They use a SQLite file of their own whichever database the suite runs on: the queue is
SQLite's alone.
"""

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from app.db import (
    AUDIT_HEAD_START,
    BULK_HEAD_START,
    REQUEST_HEAD_START,
    WRITE_HEAD_START,
    WRITE_LOCK,
    is_lock_timeout,
    make_engine,
    writers_waiting,
)

# Longer than any test here takes: a writer that waits for it has not been let in by turn.
LOCK_WAIT_SECONDS = 30.0


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'queue.db'}", lock_wait_seconds=LOCK_WAIT_SECONDS)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE log (who TEXT)"))
    yield engine
    engine.dispose()


def _writer(engine: Engine, head_start: float) -> Engine:
    return engine.execution_options(**{WRITE_LOCK: True, WRITE_HEAD_START: head_start})


def _write(engine: Engine, head_start: float, who: str, order: list[str]) -> None:
    with _writer(engine, head_start).begin() as conn:
        order.append(who)
        conn.execute(text("INSERT INTO log VALUES (:who)"), {"who": who})


def _queue_up(engine: Engine, count: int, start: Callable[[], None]) -> None:
    """Run `start`, then wait until `count` writers are queued behind the holder."""
    start()
    deadline = time.monotonic() + 10
    while writers_waiting(engine) < count:
        assert time.monotonic() < deadline, "the writers never queued"
        time.sleep(0.005)


def _logged(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT who FROM log ORDER BY rowid"))]


def test_the_audit_batch_goes_before_requests_and_requests_before_a_load(engine) -> None:
    order: list[str] = []
    threads: list[threading.Thread] = []

    def spawn(head_start: float, who: str) -> Callable[[], None]:
        def start() -> None:
            t = threading.Thread(target=_write, args=(engine, head_start, who, order))
            threads.append(t)
            t.start()

        return start

    with _writer(engine, REQUEST_HEAD_START).begin() as holder:
        holder.execute(text("INSERT INTO log VALUES ('holder')"))
        # Queued in the opposite order of their turns, each a little after the one before.
        _queue_up(engine, 1, spawn(BULK_HEAD_START, "slice"))
        _queue_up(engine, 2, spawn(REQUEST_HEAD_START, "request"))
        _queue_up(engine, 3, spawn(AUDIT_HEAD_START, "audit"))
    for t in threads:
        t.join(timeout=LOCK_WAIT_SECONDS)
    assert order == ["audit", "request", "slice"]
    assert _logged(engine) == ["holder", "audit", "request", "slice"]


def test_a_slice_that_waited_longer_than_a_head_start_goes_first(engine) -> None:
    order: list[str] = []
    with _writer(engine, REQUEST_HEAD_START).begin() as holder:
        holder.execute(text("INSERT INTO log VALUES ('holder')"))
        slice_ = threading.Thread(target=_write, args=(engine, BULK_HEAD_START, "slice", order))
        _queue_up(engine, 1, slice_.start)
        time.sleep(REQUEST_HEAD_START + 0.1)  # the slice has now waited past the head start
        request = threading.Thread(
            target=_write, args=(engine, REQUEST_HEAD_START, "request", order)
        )
        _queue_up(engine, 2, request.start)
    slice_.join(timeout=LOCK_WAIT_SECONDS)
    request.join(timeout=LOCK_WAIT_SECONDS)
    assert order == ["slice", "request"]


def test_a_connection_given_back_mid_transaction_passes_the_turn(engine) -> None:
    conn = _writer(engine, REQUEST_HEAD_START).connect()
    conn.begin()
    conn.execute(text("INSERT INTO log VALUES ('abandoned')"))
    conn.close()  # the pool rolls it back on return
    started = time.monotonic()
    _write(engine, REQUEST_HEAD_START, "next", [])
    assert time.monotonic() - started < LOCK_WAIT_SECONDS / 2
    assert _logged(engine) == ["next"]


def test_a_transaction_ended_out_of_sight_does_not_keep_the_turn(engine) -> None:
    conn = _writer(engine, REQUEST_HEAD_START).connect()
    conn.begin()
    # Ended on the driver's connection itself: none of the engine's hooks sees it.
    conn.connection.dbapi_connection.execute("COMMIT")  # type: ignore[union-attr]
    order: list[str] = []
    other = threading.Thread(target=_write, args=(engine, REQUEST_HEAD_START, "next", order))
    started = time.monotonic()
    other.start()
    other.join(timeout=LOCK_WAIT_SECONDS)
    assert order == ["next"]
    assert time.monotonic() - started < LOCK_WAIT_SECONDS / 2
    conn.close()


def test_a_writer_that_waits_past_the_lock_wait_gets_what_sqlite_gives(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'short.db'}", lock_wait_seconds=0.2)
    try:
        with _writer(engine, REQUEST_HEAD_START).begin() as holder:
            holder.execute(text("CREATE TABLE log (who TEXT)"))
            failed: list[BaseException] = []

            def late() -> None:
                try:
                    _write(engine, AUDIT_HEAD_START, "late", [])
                except Exception as exc:
                    failed.append(exc)

            waiter = threading.Thread(target=late)
            waiter.start()
            waiter.join(timeout=LOCK_WAIT_SECONDS)
        assert len(failed) == 1
        assert is_lock_timeout(failed[0])  # answered 503 database_busy, as SQLite's own wait
    finally:
        engine.dispose()
