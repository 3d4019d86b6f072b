"""Trace compartments: the cases whose compartments a trace read, so that whoever may not see
one of them does not see the trace. Existing traces read the shared pool alone (every document
was in it), so they stay visible as they are.

Revision ID: 8a2f6c1d9e53
Revises: 5d1e8b3c7a42
Create Date: 2026-12-07 13:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8a2f6c1d9e53"
down_revision: str | None = "5d1e8b3c7a42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "trace_run_compartments",
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("case_id", BIG_ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["trace_id"],
            ["trace_runs.id"],
            name=op.f("fk_trace_run_compartments_trace_id_trace_runs"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_trace_run_compartments_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("trace_id", "case_id", name=op.f("pk_trace_run_compartments")),
    )


def downgrade() -> None:
    op.drop_table("trace_run_compartments")
