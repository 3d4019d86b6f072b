"""Freezing proposals: the holdings of a trace proposed in a case, each the asset it became, with
the claimants' shares of it (nullable) for later restitution.

Revision ID: 5d1e8a3f7c20
Revises: 7b3e91c4d2a8
Create Date: 2026-12-07 12:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5d1e8a3f7c20"
down_revision: str | None = "7b3e91c4d2a8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "freezing_proposals",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("case_id", BIG_ID, nullable=False),
        sa.Column("account_key", sa.String(length=300), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("asset_id", BIG_ID, nullable=False),
        sa.Column("held_minor", sa.BigInteger(), nullable=False),
        sa.Column("claimant_shares", sa.JSON(), nullable=True),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_freezing_proposals_asset_id_assets")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_freezing_proposals_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["api_keys.id"],
            name=op.f("fk_freezing_proposals_created_by_api_keys"),
        ),
        sa.ForeignKeyConstraint(
            ["trace_id"], ["trace_runs.id"], name=op.f("fk_freezing_proposals_trace_id_trace_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_freezing_proposals")),
        sa.UniqueConstraint(
            "trace_id",
            "case_id",
            "account_key",
            "currency",
            name=op.f("uq_freezing_proposals_trace_id_case_id_account_key_currency"),
        ),
    )
    with op.batch_alter_table("freezing_proposals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_freezing_proposals_asset_id"), ["asset_id"])
        batch_op.create_index(batch_op.f("ix_freezing_proposals_case_id"), ["case_id"])
        batch_op.create_index(batch_op.f("ix_freezing_proposals_trace_id"), ["trace_id"])


def downgrade() -> None:
    with op.batch_alter_table("freezing_proposals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_freezing_proposals_trace_id"))
        batch_op.drop_index(batch_op.f("ix_freezing_proposals_case_id"))
        batch_op.drop_index(batch_op.f("ix_freezing_proposals_asset_id"))
    op.drop_table("freezing_proposals")
