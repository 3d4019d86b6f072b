"""Alembic environment: the URL comes from the caller's Config, else from the settings."""

from typing import Any

from alembic import context
from sqlalchemy import Connection

from app.db import make_engine
from app.migrate import autogenerate_options
from app.models import Base
from app.settings import get_settings

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or get_settings().effective_database_url


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        **autogenerate_options(connection.dialect.name),
    )


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url())
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # Batch mode rebuilds a table (copy, drop, rename): with foreign keys on, dropping a
            # table other rows reference fails. SQLite's own procedure for this turns them off,
            # which only takes effect outside a transaction, then checks them after.
            _sqlite_pragma(conn, "PRAGMA foreign_keys=OFF")
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()
        if sqlite:
            if broken := _sqlite_pragma(conn, "PRAGMA foreign_key_check"):
                raise RuntimeError(f"the migration left broken references: {broken[:5]}")
            _sqlite_pragma(conn, "PRAGMA foreign_keys=ON")
    engine.dispose()


def _sqlite_pragma(conn: Connection, pragma: str) -> list[Any]:
    # On the driver's connection: SQLAlchemy's would begin a transaction first (app.db).
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        return list(cursor.execute(pragma).fetchall())
    finally:
        cursor.close()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
