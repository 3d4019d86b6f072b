"""Compartment changes: an admin's refiling of a source document into another compartment
(a case's, or the shared pool), kept with its reason so that no move is silent.

Revision ID: 5d1e8b3c7a42
Revises: 9c4f2a7e1b35
Create Date: 2026-12-07 13:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5d1e8b3c7a42"
down_revision: str | None = "9c4f2a7e1b35"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "compartment_changes",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("source_document_id", sa.String(length=32), nullable=False),
        sa.Column("from_case_id", BIG_ID, nullable=True),
        sa.Column("to_case_id", BIG_ID, nullable=True),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("changed_by", sa.String(length=32), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["changed_by"], ["api_keys.id"], name=op.f("fk_compartment_changes_changed_by_api_keys")
        ),
        sa.ForeignKeyConstraint(
            ["from_case_id"], ["cases.id"], name=op.f("fk_compartment_changes_from_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["source_document_id"],
            ["source_documents.id"],
            name=op.f("fk_compartment_changes_source_document_id_source_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["to_case_id"], ["cases.id"], name=op.f("fk_compartment_changes_to_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compartment_changes")),
    )
    op.create_index(
        op.f("ix_compartment_changes_source_document_id"),
        "compartment_changes",
        ["source_document_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_compartment_changes_source_document_id"), table_name="compartment_changes"
    )
    op.drop_table("compartment_changes")
