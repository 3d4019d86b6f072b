import heapq
import itertools
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import psycopg
from fastapi import Request
from sqlalchemy import (
    BigInteger,
    Connection,
    DateTime,
    Dialect,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import (
    DeclarativeBase,
    InstrumentedAttribute,
    ORMExecuteState,
    Session,
    mapped_column,
    sessionmaker,
)
from sqlalchemy.types import TypeDecorator
from starlette.concurrency import run_in_threadpool

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite's rowid alias must be spelled INTEGER, PostgreSQL wants BIGINT for a ledger that grows.
BigId = BigInteger().with_variant(Integer(), "sqlite")
# A table's own id (`id: Mapped[IdKey]`): its primary key, numbered by the database.
IdKey = Annotated[int, mapped_column(BigId, primary_key=True, autoincrement=True)]
# ISO 3166-1 or 3166-2 ("DE", "DE-BY", "PT-20"). SQLite keeps the length it was created with
# (2): it never enforces one, and widening it there would mean rebuilding tables that others
# reference, which a populated database refuses while foreign keys are on.
Jurisdiction = String(6).with_variant(String(2), "sqlite")

WRITE_LOCK = "moneytrail_write_lock"
# `Session.info` key of the ASGI scope of the request a session serves (see app.audit).
REQUEST_SCOPE = "request_scope"

# SQLAlchemy's own storage format for SQLite datetimes; bulk loaders write the same text so that
# values sort and compare identically whichever path stored them.
SQLITE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def table_of(model: type[Base]) -> Table:
    """The Core table of a mapped class, for statements that need no ORM objects: rows written
    once and never loaded back, columns read on every request (cheaper than a one-row insert
    through the unit of work or an ORM load)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


# Values bound in one `IN (...)`: well under SQLite's limit of bound parameters, and a plan
# PostgreSQL still makes quickly.
IN_CHUNK = 500
K = TypeVar("K", int, str)
V = TypeVar("V", int, str, tuple[int, int])
M = TypeVar("M", bound=Base)


def in_chunks(values: Iterable[V]) -> Iterator[list[V]]:
    """The distinct values in order, in slices of at most `IN_CHUNK` for one `IN (...)` each."""
    wanted = sorted(set(values))
    for start in range(0, len(wanted), IN_CHUNK):
        yield wanted[start : start + IN_CHUNK]


def by_key(
    session: Session, model: type[M], column: InstrumentedAttribute[K], keys: Iterable[K]
) -> dict[K, M]:
    """The `model` rows whose `column` holds one of `keys`, by that value; a key with no row is
    absent."""
    found: dict[K, M] = {}
    for chunk in in_chunks(keys):
        rows = session.scalars(select(model).where(column.in_(chunk)))
        found.update((getattr(row, column.key), row) for row in rows)
    return found


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware instant, stored as UTC on every database and read back aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: give a timezone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sqlite_pragmas(lock_wait_ms: int) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={lock_wait_ms}")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.close()

    return on_connect


def is_lock_timeout(exc: BaseException) -> bool:
    """The database gave up waiting for a lock: SQLite's busy timeout, PostgreSQL's
    lock_timeout. The request may well succeed later, so it is not the server's fault.

    The chain of causes is searched: an error raised while the response starts (the audit
    entry's write) reaches the last handler wrapped in Starlette's own RuntimeError.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        orig = getattr(current, "orig", current)
        if isinstance(orig, sqlite3.OperationalError) and (
            "database is locked" in str(orig) or "database table is locked" in str(orig)
        ):
            return True
        if isinstance(orig, psycopg.errors.LockNotAvailable):
            return True
        current = current.__cause__ or current.__context__
    return False


# Execution options of a writer's connection (SQLite): how many seconds of head start it gets
# in this process's queue for the write lock (`WriteQueue`), and how long it waits there.
WRITE_HEAD_START = "moneytrail_write_head_start"
WRITE_LOCK_WAIT = "moneytrail_write_lock_wait"
# Head starts, in seconds: a read's audit entry goes before a request's write, which goes before
# a slice of a long load; a slice that has waited longer than a later request's head start goes
# first, so under a steady stream of small writes the load still makes progress.
AUDIT_HEAD_START = 0.4
REQUEST_HEAD_START = 0.2
BULK_HEAD_START = 0.0
_QUEUE_POLL_SECONDS = 0.1


class WriteQueue:
    """This process's threads waiting for one engine's SQLite write lock, let in by turn.

    SQLite's busy handler polls (sleeping up to 100 ms between tries) and lets in whichever
    waiter happens to poll first: during a long load in slices a read's audit batch waited
    behind several other writers (up to 1.4 s, against slices of 0.6 s). Here the lock passes
    the moment it is given back, to the waiter whose wait, counted with its head start, is the
    longest. Other processes on the same file are still met by SQLite's busy handler.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._holder: Any = None
        self._begun = False
        self._waiting: list[tuple[float, int]] = []
        self._tickets = itertools.count()

    def waiting(self) -> int:
        return len(self._waiting)

    def acquire(self, owner: Any, *, head_start: float, timeout: float) -> bool:
        """Wait for the turn of `owner` (a DBAPI connection); False after `timeout` seconds."""
        now = time.monotonic()
        ticket = (now - head_start, next(self._tickets))
        deadline = now + timeout
        with self._cond:
            heapq.heappush(self._waiting, ticket)
            try:
                while self._holder is not None or self._waiting[0] != ticket:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self._cond.wait(min(left, _QUEUE_POLL_SECONDS))
                    self._drop_stale_holder()
                self._holder, self._begun = owner, False
                return True
            finally:
                self._waiting.remove(ticket)
                heapq.heapify(self._waiting)
                self._cond.notify_all()

    def begun(self, owner: Any) -> None:
        with self._cond:
            if self._holder is owner:
                self._begun = True

    def release(self, owner: Any) -> None:
        with self._cond:
            if self._holder is owner:
                self._holder = None
                self._cond.notify_all()

    def _drop_stale_holder(self) -> None:
        # A transaction that ended out of sight of the release hooks (a connection closed
        # without a rollback) must not keep the turn: its connection is no longer in one.
        if self._holder is None or not self._begun:
            return
        try:
            ended = not self._holder.in_transaction
        except sqlite3.ProgrammingError:  # closed
            ended = True
        if ended:
            self._holder = None


def writers_waiting(engine: Engine) -> int:
    """This process's threads queueing for `engine`'s SQLite write lock."""
    queue = engine.dialect.__dict__.get(_QUEUE)
    return queue.waiting() if queue is not None else 0


_QUEUE = "moneytrail_write_queue"


def _sqlite_begin(lock_wait_seconds: float) -> Callable[[Connection], None]:
    def on_begin(conn: Connection) -> None:
        # A deferred transaction that reads, then writes, fails at once (SQLITE_BUSY_SNAPSHOT,
        # no waiting) when another connection wrote in between; writers therefore take the
        # write lock up front, and queue for it (`WriteQueue`).
        options = conn.get_execution_options()
        if not options.get(WRITE_LOCK, False):
            conn.exec_driver_sql("BEGIN")
            return
        queue: WriteQueue = conn.dialect.__dict__[_QUEUE]
        owner = conn.connection.dbapi_connection
        wait = options.get(WRITE_LOCK_WAIT, lock_wait_seconds)
        head_start = options.get(WRITE_HEAD_START, REQUEST_HEAD_START)
        if not queue.acquire(owner, head_start=head_start, timeout=wait):
            # What SQLite answers when its own wait runs out (`is_lock_timeout`: a 503).
            raise sqlite3.OperationalError(
                f"database is locked: this process's writers held it past {wait} s"
            )
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            queue.release(owner)
            raise
        queue.begun(owner)

    return on_begin


def _release_turn_after(dialect: Dialect, queue: WriteQueue, name: str) -> None:
    """Wrap the dialect's `do_commit` or `do_rollback` (which the pool's reset on return calls
    too) so that the write lock's turn passes once the transaction has really ended."""
    end = getattr(dialect, name)

    def ended(dbapi_connection: Any) -> None:
        try:
            end(dbapi_connection)
        finally:
            queue.release(getattr(dbapi_connection, "dbapi_connection", dbapi_connection))

    setattr(dialect, name, ended)


def _queue_writers(engine: Engine, lock_wait_seconds: float) -> None:
    queue = WriteQueue()
    setattr(engine.dialect, _QUEUE, queue)
    _release_turn_after(engine.dialect, queue, "do_commit")
    _release_turn_after(engine.dialect, queue, "do_rollback")

    def gone(dbapi_connection: Any, *_args: Any) -> None:
        queue.release(dbapi_connection)

    event.listen(engine, "begin", _sqlite_begin(lock_wait_seconds))
    event.listen(engine.pool, "close", gone)
    event.listen(engine.pool, "invalidate", gone)


def make_engine(url: str, *, lock_wait_seconds: float = 30.0, **kwargs: Any) -> Engine:
    """An engine whose sessions wait at most `lock_wait_seconds` for a lock, then fail with an
    error `is_lock_timeout` recognises."""
    lock_wait_ms = max(1, round(lock_wait_seconds * 1000))
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # pysqlite's own transaction handling breaks SAVEPOINT and transactional DDL; SQLAlchemy
        # documents taking it over: no implicit BEGIN from the driver, an explicit one from us.
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "isolation_level": None}, **kwargs
        )
        event.listen(engine, "connect", _sqlite_pragmas(lock_wait_ms))
        _queue_writers(engine, lock_wait_seconds)
        return engine
    options = f"-c lock_timeout={lock_wait_ms}"
    engine = create_engine(url, connect_args={"options": options}, **kwargs)
    event.listen(engine, "checkin", _note_checkin)
    event.listen(engine, "checkout", _ping_if_idle(engine.dialect))
    return engine


# A pooled connection that went back less than this long ago is handed out unchecked: on a busy
# service that is every checkout, and `pool_pre_ping`'s round trip on each was a measurable part
# of a cheap read (issue 23). One idle longer (a restarted server, a dropped link) is pinged
# first and replaced if dead, as `pool_pre_ping` would.
PING_AFTER_IDLE_SECONDS = 1.0
_CHECKED_IN = "checked_in_at"


def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
    record.info[_CHECKED_IN] = time.monotonic()


def _ping_if_idle(dialect: Dialect) -> Callable[[Any, Any, Any], None]:
    def on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_CHECKED_IN)
        if since is not None and time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)  # the ping `pool_pre_ping` makes
        except Exception as exc:
            # The pool drops this connection and checks out (or opens) another, up to 3 times.
            raise DisconnectionError() from exc

    return on_checkout


def make_sessionmaker(
    engine: Engine, *, writer: bool = False, head_start: float = REQUEST_HEAD_START
) -> sessionmaker[Session]:
    """Sessions on `engine`; `writer` ones take SQLite's write lock when they begin, queueing
    for it in this process with `head_start` seconds (`WriteQueue`)."""
    bind = (
        engine.execution_options(**{WRITE_LOCK: True, WRITE_HEAD_START: head_start})
        if writer
        else engine
    )
    return sessionmaker(bind, expire_on_commit=False)


def make_request_readers(engine: Engine) -> sessionmaker[Session]:
    """The sessions of requests that only read (GET, HEAD, OPTIONS); they refuse to write.

    On PostgreSQL they run in autocommit. Under its READ COMMITTED each statement of a
    transaction sees a snapshot of its own anyway, so the BEGIN and ROLLBACK around a read's
    statements changed nothing it sees and cost two round trips: about half of an account
    read's time in the database (1.1 -> 0.6 ms, issue 23). Without a transaction a write
    would not be all or nothing, hence the refusal (`WriteInRead`), which also keeps a
    read from changing evidence by a modified object's autoflush. On SQLite a read's
    transaction is one snapshot across its statements and costs no round trip: kept.
    """
    bind = engine
    if engine.dialect.name == "postgresql":
        bind = engine.execution_options(isolation_level="AUTOCOMMIT")
    readers = sessionmaker(bind, expire_on_commit=False)
    event.listen(readers, "before_flush", _refuse_flush)
    event.listen(readers, "do_orm_execute", _refuse_dml)
    return readers


class WriteInRead(RuntimeError):
    """A request that only reads tried to write: a defect of the code, answered 500."""


def _refuse_flush(session: Session, _context: Any, _instances: Any) -> None:
    if session.new or session.deleted or any(session.is_modified(o) for o in session.dirty):
        raise WriteInRead("a read request's session was asked to write")


def _refuse_dml(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        raise WriteInRead("a read request's session was asked to write")


@contextmanager
def reading(session: Session) -> Iterator[None]:
    """Reads on a writer session that hold no write lock, neither while they run nor after.

    On SQLite a writer session takes the database's one write lock when it begins, and keeps it
    to its commit: reads that precede slow work (an API key looked up before a file is parsed,
    a ledger loaded before the engine runs) would hold every other writer off meanwhile. These
    run in a plain read transaction instead, which ends with the block; the writes that follow
    begin a transaction of their own, which queues for the lock then. Objects read inside are
    expired when the block ends.
    """
    bind = session.get_bind()
    if (
        session.in_transaction()
        or bind.dialect.name != "sqlite"
        # A reader session's transactions never take the lock: nothing to step around, and
        # its connection is kept for the request's own reads.
        or not bind.get_execution_options().get(WRITE_LOCK, False)
    ):
        yield
        return
    session.connection(execution_options={WRITE_LOCK: False})
    try:
        yield
    finally:
        session.rollback()


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_session(request: Request) -> AsyncIterator[Session]:
    # Async, to spare each request one or two worker-thread round trips: making a session does
    # no I/O (it connects on first use, in the endpoint's thread), nor does closing one that
    # holds no transaction (committed, or never used). Closing one that does rolls back.
    state = request.app.state
    safe = request.method in _SAFE_METHODS
    sessions = state.request_readers if safe else state.writer_sessions
    session = sessions()
    session.info[REQUEST_SCOPE] = request.scope  # so a commit can carry the request's audit entry
    try:
        yield session
    finally:
        if session.in_transaction() and not safe:
            await run_in_threadpool(session.close)  # I/O: off the event loop
        else:
            # A read's transaction ends with a ROLLBACK that waits for no lock: a quicker
            # statement than the hand-off to a worker thread and back that it would cost.
            session.close()
