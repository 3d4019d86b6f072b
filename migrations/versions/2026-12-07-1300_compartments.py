"""Compartments: a source document is filed in the shared pool or in one case's compartment,
and an ingest key may be bound to a case (key_compartments). Existing documents stay in the
shared pool, so nothing becomes invisible to whoever sees it today.

Revision ID: 9c4f2a7e1b35
Revises: 4e7a1c9d2b60
Create Date: 2026-12-07 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9c4f2a7e1b35"
down_revision: str | None = "4e7a1c9d2b60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("source_documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("case_id", BIG_ID, nullable=True))
        batch_op.create_index(batch_op.f("ix_source_documents_case_id"), ["case_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_source_documents_case_id_cases"), "cases", ["case_id"], ["id"]
        )
    op.create_table(
        "key_compartments",
        sa.Column("api_key_id", sa.String(length=32), nullable=False),
        sa.Column("case_id", BIG_ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_keys.id"], name=op.f("fk_key_compartments_api_key_id_api_keys")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_key_compartments_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("api_key_id", name=op.f("pk_key_compartments")),
    )
    op.create_index(
        op.f("ix_key_compartments_case_id"), "key_compartments", ["case_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_key_compartments_case_id"), table_name="key_compartments")
    op.drop_table("key_compartments")
    with op.batch_alter_table("source_documents", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_source_documents_case_id_cases"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_source_documents_case_id"))
        batch_op.drop_column("case_id")
