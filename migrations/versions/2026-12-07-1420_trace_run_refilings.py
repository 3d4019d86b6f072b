"""How many refilings the ledger a trace ran over had seen (trace_runs.refilings): a stored
trace names its transactions by the engine ids of that ledger, and a refiling since renames
rows; counting the refilings the ledger was read after tells which of them came later, where
the run's start time cannot (a refiling may commit between the ledger's read and the run's
start).

Existing runs get null and are resolved by their start time, as before.

Revision ID: 0b6d4f2e8a19
Revises: 5d8e2b7c41f3
Create Date: 2026-12-07 14:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0b6d4f2e8a19"
down_revision: str | None = "5d8e2b7c41f3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("trace_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("refilings", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("trace_runs", schema=None) as batch_op:
        batch_op.drop_column("refilings")
