from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app import migrate
from app.db import make_engine
from app.models import Base
from tests.conftest import fresh_database


def test_upgrade_downgrade_upgrade_leaves_the_models_schema(tmp_path: Path) -> None:
    with fresh_database(tmp_path) as url:
        migrate.upgrade(url)
        migrate.downgrade(url, "base")
        engine = make_engine(url)
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
        migrate.upgrade(url)
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(
                    conn, opts=migrate.autogenerate_options(conn.dialect.name)
                ),
                Base.metadata,
            )
            assert diff == [], f"models and migrations disagree: {diff}"
            assert {"transactions", "accounts", "source_documents"} <= set(
                inspect(conn).get_table_names()
            )
        engine.dispose()
