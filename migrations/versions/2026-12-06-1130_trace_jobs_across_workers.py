"""Trace jobs across worker processes: the process running a job, its heartbeat, and a
cancellation asked for through any process (the runner polls it between hops).

Revision ID: 7b3e9c2d4f10
Revises: 5d2f8a61c3e7
Create Date: 2026-12-06 11:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7b3e9c2d4f10"
down_revision: str | None = "5d2f8a61c3e7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("trace_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("runner", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("cancel_requested_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("trace_runs", schema=None) as batch_op:
        batch_op.drop_column("cancel_requested_at")
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("runner")
