"""The sessions of requests that only read: on PostgreSQL without a transaction around their
statements (READ COMMITTED gives each statement its own snapshot anyway), on SQLite one
snapshot across them; on both, no write gets through."""

from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import Engine, func, insert, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from app.apikey.models import ApiKey
from app.db import WriteInRead, make_engine, make_request_readers
from tests.factories import make_key


@pytest.fixture
def engine(isolated_database: str) -> Iterator[Engine]:
    engine = make_engine(isolated_database)
    yield engine
    engine.dispose()


def _names(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.scalars(select(ApiKey.name).order_by(ApiKey.name)))


def test_a_read_requests_session_refuses_every_write(engine: Engine) -> None:
    with Session(engine) as session:
        make_key(session, name="stored")
    readers = make_request_readers(engine)

    with readers() as session:
        key = session.scalars(select(ApiKey)).one()
        key.name = "changed for display"
        # The autoflush of a modified object before the next statement is a write too.
        with pytest.raises(WriteInRead):
            session.scalar(select(func.count()).select_from(ApiKey))
    with readers() as session:
        with pytest.raises(WriteInRead):
            session.execute(update(ApiKey).values(name="updated"))
        with pytest.raises(WriteInRead):
            session.execute(insert(ApiKey), [{"id": "x" * 32}])
    with readers() as session:
        copy = session.scalars(select(ApiKey)).one()
        session.add(ApiKey(**{c: getattr(copy, c) for c in ("role", "key_hash")}, name="new"))
        with pytest.raises(WriteInRead):
            session.flush()
    assert _names(engine) == ["stored"]

    with readers() as session:  # reading, and reading what it loaded, is what it is for
        key = session.scalars(select(ApiKey)).one()
        key.name = key.name  # no net change: nothing to write
        assert session.scalar(select(func.count()).select_from(ApiKey)) == 1


def test_reads_on_postgresql_run_without_a_transaction_and_on_sqlite_in_one_snapshot(
    engine: Engine,
) -> None:
    readers: sessionmaker[Session] = make_request_readers(engine)
    if engine.dialect.name == "postgresql":
        with readers() as session:
            # In a transaction now() is its start, the same for every statement.
            first = session.scalar(text("SELECT clock_timestamp()"))
            later = session.scalar(text("SELECT now()"))
            assert isinstance(first, datetime)
            assert isinstance(later, datetime)
            assert later > first
        return
    with Session(engine) as session:
        make_key(session, name="first")
    with readers() as session:
        assert session.scalars(select(ApiKey.name)).all() == ["first"]
        with Session(engine) as other:
            make_key(other, name="second")  # committed meanwhile
        # The read's snapshot: what it read first and what it reads next agree.
        assert session.scalars(select(ApiKey.name)).all() == ["first"]
    assert _names(engine) == ["first", "second"]
