"""Engine ids: each transaction's name in the engine, chosen once when it is stored.

A row of the shared pool is named by its external id, as before; a row filed in a case by its
external id qualified with the case (`<external id>@case:<case id>`), so that the same external
id may be stored once per compartment without one compartment's rows ever deciding what another
stores (docs/engine-ids.md). `engine_id` is unique, and external ids holding the mark are
refused at ingest, so a unique engine id is a unique (compartment, external id).

Existing rows keep their external id as engine id, except those filed in a case (only since
compartments came, earlier today's migration), which take the qualified form.

Revision ID: 3c9e7a2d5f18
Revises: 5b8d3e6f1a47
Create Date: 2026-12-07 13:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3c9e7a2d5f18"
down_revision: str | None = "5b8d3e6f1a47"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MARK = "@case:"
_QUALIFIED = """
UPDATE transactions SET engine_id = external_id || coalesce(
    (SELECT '@case:' || CAST(d.case_id AS VARCHAR(20)) FROM source_documents d
     WHERE d.id = transactions.source_document_id AND d.case_id IS NOT NULL), '')
"""
# SQLite rebuilds the table to drop the unique constraint; these triggers die with it.
_SQLITE_TRIGGERS = (
    "CREATE TRIGGER search_transactions_ad AFTER DELETE ON transactions BEGIN INSERT INTO"
    " search_transactions(search_transactions, rowid, external_id, narrative) VALUES"
    " ('delete', old.id, old.external_id, old.narrative); END",
    "CREATE TRIGGER search_transactions_au AFTER UPDATE OF external_id, narrative ON transactions"
    " BEGIN INSERT INTO search_transactions(search_transactions, rowid, external_id, narrative)"
    " VALUES ('delete', old.id, old.external_id, old.narrative); INSERT INTO"
    " search_transactions(rowid, external_id, narrative) VALUES (new.id, new.external_id,"
    " new.narrative); END",
)


def _refuse_marked_pool_rows() -> None:
    # A pool row whose external id holds the mark could take a case row's engine id.
    found = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT t.external_id FROM transactions t JOIN source_documents d"
                " ON d.id = t.source_document_id WHERE d.case_id IS NULL"
                " AND t.external_id LIKE :marked LIMIT 5"
            ),
            {"marked": f"%{MARK}%"},
        )
        .scalars()
        .all()
    )
    if found:
        raise RuntimeError(
            f"external ids holding the reserved form {MARK!r} are stored in the shared pool"
            f" ({', '.join(found)}): rename them before upgrading"
        )


def upgrade() -> None:
    _refuse_marked_pool_rows()
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.add_column("transactions", sa.Column("engine_id", sa.String(length=240), nullable=True))
    op.execute(_QUALIFIED)
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.alter_column("engine_id", existing_type=sa.String(length=240), nullable=False)
        batch_op.drop_constraint(batch_op.f("uq_transactions_external_id"), type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_transactions_engine_id"), ["engine_id"])
        batch_op.create_index(
            batch_op.f("ix_transactions_external_id"), ["external_id"], unique=False
        )
    if sqlite:
        for trigger in _SQLITE_TRIGGERS:
            op.execute(trigger)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transactions_external_id"))
        batch_op.drop_constraint(batch_op.f("uq_transactions_engine_id"), type_="unique")
        # Fails, as it should, while an external id is stored in two compartments.
        batch_op.create_unique_constraint(
            batch_op.f("uq_transactions_external_id"), ["external_id"]
        )
        batch_op.drop_column("engine_id")
    if sqlite:
        for trigger in _SQLITE_TRIGGERS:
            op.execute(trigger)
