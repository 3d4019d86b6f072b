"""The accounts each stored trace reached (trace_run_accounts), so that refiling a document
into a case finds the traces that read it in one statement rather than by reading the accounts
frame of every trace finished since.

Runs stored before this migration are indexed when a refiling first meets them: their frames
are Arrow IPC, read by the application, not by a migration.

Revision ID: f2f334ab30d4
Revises: 82e3eb9b21c6
Create Date: 2026-12-07 13:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f2f334ab30d4"
down_revision: str | None = "82e3eb9b21c6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "trace_run_accounts",
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("account_key", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["trace_id"], ["trace_runs.id"], name=op.f("fk_trace_run_accounts_trace_id_trace_runs")
        ),
        sa.PrimaryKeyConstraint("trace_id", "account_key", name=op.f("pk_trace_run_accounts")),
    )
    op.create_index(
        op.f("ix_trace_run_accounts_account_key"), "trace_run_accounts", ["account_key"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_trace_run_accounts_account_key"), table_name="trace_run_accounts")
    op.drop_table("trace_run_accounts")
