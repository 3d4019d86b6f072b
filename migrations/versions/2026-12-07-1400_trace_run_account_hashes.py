"""The accounts each stored trace reached, by a 64-bit hash of the key (trace_run_accounts):
written in one statement per trace instead of a row of text per account and two text indexes
(about 2.8 s per 100k reached accounts). A refiling into a case asks only whether a run reached
one of the document's accounts: a hash answers that (a collision hides a run from a few more
callers, never shows one).

The rows by key are dropped, not converted: a run without rows is indexed from its stored
accounts frame when a refiling first meets it (as runs stored before f2f334ab30d4 are), so
both directions leave every run findable.

Revision ID: a7c41e9d2b60
Revises: f2f334ab30d4
Create Date: 2026-12-07 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a7c41e9d2b60"
down_revision: str | None = "f2f334ab30d4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _table(column: sa.Column[object]) -> None:
    op.create_table(
        "trace_run_accounts",
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        column,
        sa.ForeignKeyConstraint(
            ["trace_id"], ["trace_runs.id"], name=op.f("fk_trace_run_accounts_trace_id_trace_runs")
        ),
        sa.PrimaryKeyConstraint("trace_id", column.name, name=op.f("pk_trace_run_accounts")),
    )
    op.create_index(
        op.f(f"ix_trace_run_accounts_{column.name}"), "trace_run_accounts", [column.name]
    )


def _drop(column: str) -> None:
    op.drop_index(op.f(f"ix_trace_run_accounts_{column}"), table_name="trace_run_accounts")
    op.drop_table("trace_run_accounts")


def upgrade() -> None:
    _drop("account_key")
    _table(sa.Column("account_hash", sa.BigInteger(), nullable=False))


def downgrade() -> None:
    _drop("account_hash")
    _table(sa.Column("account_key", sa.String(length=300), nullable=False))
