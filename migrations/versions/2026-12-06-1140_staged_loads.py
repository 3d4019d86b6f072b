"""Staged loads: a source document is `staging` while its rows are loaded in slices, and only
its final flip to `committed` makes them part of the ledger; `loader` names the process loading
it, so that a restart can tell an abandoned load from another worker's live one.

Revision ID: 7b3e91c4d2a8
Revises: 7b3e9c2d4f10
Create Date: 2026-12-06 11:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7b3e91c4d2a8"
down_revision: str | None = "7b3e9c2d4f10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("source_documents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("state", sa.String(length=16), server_default="committed", nullable=False)
        )
        batch_op.add_column(sa.Column("loader", sa.String(length=100), nullable=True))
        batch_op.create_index(batch_op.f("ix_source_documents_state"), ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("source_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_source_documents_state"))
        batch_op.drop_column("loader")
        batch_op.drop_column("state")
