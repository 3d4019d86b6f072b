"""Trace runs: immutable records of engine runs, with their parameters and results.

Revision ID: 4a4c2a539626
Revises: 542f98eb09c5
Create Date: 2026-11-29 09:28:09.870068
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4a4c2a539626"
down_revision: str | None = "542f98eb09c5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "trace_runs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("rerun_of", sa.String(length=32), nullable=True),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=True),
        sa.Column("engine_version", sa.String(length=40), nullable=True),
        sa.Column("ledger_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("ledger_transactions", sa.BigInteger(), nullable=True),
        sa.Column("progress", sa.JSON(), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("result_sha256", sa.String(length=64), nullable=True),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_trace_runs_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["api_keys.id"], name=op.f("fk_trace_runs_created_by_api_keys")
        ),
        sa.ForeignKeyConstraint(
            ["rerun_of"], ["trace_runs.id"], name=op.f("fk_trace_runs_rerun_of_trace_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trace_runs")),
    )
    with op.batch_alter_table("trace_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_trace_runs_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_trace_runs_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_trace_runs_created_by"), ["created_by"], unique=False)

    op.create_table(
        "trace_result_frames",
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["trace_id"], ["trace_runs.id"], name=op.f("fk_trace_result_frames_trace_id_trace_runs")
        ),
        sa.PrimaryKeyConstraint("trace_id", "name", name=op.f("pk_trace_result_frames")),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Results run to megabytes; LZ4 stores them several times faster than the default pglz.
        op.execute("ALTER TABLE trace_runs ALTER COLUMN result SET COMPRESSION lz4")
        op.execute("ALTER TABLE trace_result_frames ALTER COLUMN data SET COMPRESSION lz4")


def downgrade() -> None:
    op.drop_table("trace_result_frames")
    with op.batch_alter_table("trace_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trace_runs_created_by"))
        batch_op.drop_index(batch_op.f("ix_trace_runs_created_at"))
        batch_op.drop_index(batch_op.f("ix_trace_runs_case_id"))

    op.drop_table("trace_runs")
