"""goAML reports and transaction details beside the ledger.

Revision ID: c1e84db5e60f
Revises: 7bd5063c9603
Create Date: 2026-11-29 09:43:06.738088
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c1e84db5e60f"
down_revision: str | None = "7bd5063c9603"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "goaml_reports",
        sa.Column("source_document_id", sa.String(length=32), nullable=False),
        sa.Column("rentity_id", sa.String(length=50), nullable=False),
        sa.Column("rentity_branch", sa.String(length=255), nullable=True),
        sa.Column("submission_code", sa.String(length=20), nullable=False),
        sa.Column("report_code", sa.String(length=20), nullable=False),
        sa.Column("entity_reference", sa.String(length=255), nullable=True),
        sa.Column("fiu_ref_number", sa.String(length=255), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("currency_code_local", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("action", sa.Text(), nullable=True),
        sa.Column("indicators", sa.JSON(), nullable=False),
        sa.Column("profile", sa.String(length=50), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_document_id"],
            ["source_documents.id"],
            name=op.f("fk_goaml_reports_source_document_id_source_documents"),
        ),
        sa.PrimaryKeyConstraint("source_document_id", name=op.f("pk_goaml_reports")),
    )
    with op.batch_alter_table("goaml_reports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_goaml_reports_entity_reference"), ["entity_reference"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_goaml_reports_fiu_ref_number"), ["fiu_ref_number"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_goaml_reports_rentity_id"), ["rentity_id"], unique=False
        )

    op.create_table(
        "goaml_transactions",
        sa.Column(
            "transaction_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("source_document_id", sa.String(length=32), nullable=False),
        sa.Column("transactionnumber", sa.String(length=100), nullable=False),
        sa.Column("internal_ref_number", sa.String(length=255), nullable=True),
        sa.Column("transmode_code", sa.String(length=20), nullable=False),
        sa.Column("transaction_location", sa.String(length=255), nullable=True),
        sa.Column("value_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("from_funds_code", sa.String(length=20), nullable=True),
        sa.Column("to_funds_code", sa.String(length=20), nullable=True),
        sa.Column("from_my_client", sa.Boolean(), nullable=False),
        sa.Column("to_my_client", sa.Boolean(), nullable=False),
        sa.Column(
            "conductor_party_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("foreign_currency", sa.JSON(), nullable=False),
        sa.Column("parties", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conductor_party_id"],
            ["parties.id"],
            name=op.f("fk_goaml_transactions_conductor_party_id_parties"),
        ),
        sa.ForeignKeyConstraint(
            ["source_document_id"],
            ["source_documents.id"],
            name=op.f("fk_goaml_transactions_source_document_id_source_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name=op.f("fk_goaml_transactions_transaction_id_transactions"),
        ),
        sa.PrimaryKeyConstraint("transaction_id", name=op.f("pk_goaml_transactions")),
    )
    with op.batch_alter_table("goaml_transactions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_goaml_transactions_conductor_party_id"),
            ["conductor_party_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_goaml_transactions_source_document_id"),
            ["source_document_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("goaml_transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_goaml_transactions_source_document_id"))
        batch_op.drop_index(batch_op.f("ix_goaml_transactions_conductor_party_id"))

    op.drop_table("goaml_transactions")
    with op.batch_alter_table("goaml_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_goaml_reports_rentity_id"))
        batch_op.drop_index(batch_op.f("ix_goaml_reports_fiu_ref_number"))
        batch_op.drop_index(batch_op.f("ix_goaml_reports_entity_reference"))

    op.drop_table("goaml_reports")
