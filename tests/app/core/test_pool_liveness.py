"""A pooled PostgreSQL connection that died while it sat in the pool (a restarted server, a
dropped link) is replaced before a request gets it; one just handed back is not pinged again."""

import pytest
from sqlalchemy import make_url, text

from app import db
from app.db import make_engine


def _terminate(url: str, pid: int) -> None:
    other = make_engine(url)
    with other.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    other.dispose()


def test_a_connection_killed_in_the_pool_is_replaced_once_it_was_idle(
    isolated_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if make_url(isolated_database).get_backend_name() != "postgresql":
        pytest.skip("SQLite has no server whose connections can die")
    engine = make_engine(isolated_database, pool_size=1, max_overflow=0)
    try:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        _terminate(isolated_database, pid)

        # Handed back a moment ago: not pinged, so the dead connection is what a caller gets.
        monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 3600.0)
        with pytest.raises(Exception, match=r"terminat|closed|server"), engine.connect() as conn:
            conn.execute(text("SELECT 1"))

        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        _terminate(isolated_database, pid)
        # Idle past the bound: pinged, found dead, replaced; the caller never sees it.
        monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
    finally:
        engine.dispose()
