"""Run the Alembic migrations from code (the CLI, the tests), with no alembic.ini."""

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# The models declare these foreign keys, and SQLite has them. PostgreSQL enforces them with
# triggers that check each statement's rows at once instead of each row (migration
# 2026-11-29-1215_transaction_references_per_statement: per-row RI checks were most of a bulk
# load's cost, see benchmarks/INGEST_RESULTS.md), so autogenerate must not compare them there.
# tests/app/ledger/test_references.py proves the database still refuses what the foreign keys
# refused.
CHECKED_BY_TRIGGER_ON_POSTGRESQL = frozenset(
    {
        "fk_transactions_from_account_id_accounts",
        "fk_transactions_to_account_id_accounts",
        "fk_transactions_source_document_id_source_documents",
    }
)

# The search indexes are the database's own kind on each (app.search): PostgreSQL expression
# indexes, SQLite FTS5 tables with their shadow tables; the models cannot state them.
SEARCH_INDEX_PREFIXES = ("search_", "ix_search_")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option(
        "file_template",
        "%%(year)d-%%(month).2d-%%(day).2d-%%(hour).2d%%(minute).2d_%%(slug)s",
    )
    # ConfigParser interpolation would read a '%' in a password as a placeholder.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def autogenerate_options(dialect: str) -> dict[str, Any]:
    """How autogenerate compares the models with a database of `dialect` (env.py, the tests)."""

    # Alembic calls this hook with positional arguments, `reflected` among them.
    def include_object(
        obj: object,
        name: str | None,
        type_: str,
        reflected: bool,  # noqa: FBT001
        compare_to: object,
    ) -> bool:
        return not (
            dialect == "postgresql"
            and type_ == "foreign_key_constraint"
            and name in CHECKED_BY_TRIGGER_ON_POSTGRESQL
        )

    def include_name(name: str | None, type_: str, parent_names: object) -> bool:
        return type_ not in ("table", "index") or not (name or "").startswith(SEARCH_INDEX_PREFIXES)

    return {"compare_type": True, "include_object": include_object, "include_name": include_name}
