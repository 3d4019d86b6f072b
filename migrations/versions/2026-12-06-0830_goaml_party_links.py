"""goAML party links: directors of entities, and two names under one identifier.

Revision ID: 5e2a9c7d41b8
Revises: 0b7d3c52e9a1
Create Date: 2026-12-06 08:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e2a9c7d41b8"
down_revision: str | None = "0b7d3c52e9a1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    party_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "goaml_party_links",
        sa.Column("source_document_id", sa.String(length=32), nullable=False),
        sa.Column("party_id", party_id, nullable=False),
        sa.Column("related_party_id", party_id, nullable=False),
        sa.Column("relation", sa.String(length=30), nullable=False),
        sa.Column("role", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["party_id"], ["parties.id"], name=op.f("fk_goaml_party_links_party_id_parties")
        ),
        sa.ForeignKeyConstraint(
            ["related_party_id"],
            ["parties.id"],
            name=op.f("fk_goaml_party_links_related_party_id_parties"),
        ),
        sa.ForeignKeyConstraint(
            ["source_document_id"],
            ["source_documents.id"],
            name=op.f("fk_goaml_party_links_source_document_id_source_documents"),
        ),
        sa.PrimaryKeyConstraint(
            "source_document_id",
            "party_id",
            "related_party_id",
            "relation",
            name=op.f("pk_goaml_party_links"),
        ),
    )
    with op.batch_alter_table("goaml_party_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_goaml_party_links_party_id"), ["party_id"])
        batch_op.create_index(
            batch_op.f("ix_goaml_party_links_related_party_id"), ["related_party_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("goaml_party_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_goaml_party_links_related_party_id"))
        batch_op.drop_index(batch_op.f("ix_goaml_party_links_party_id"))
    op.drop_table("goaml_party_links")
