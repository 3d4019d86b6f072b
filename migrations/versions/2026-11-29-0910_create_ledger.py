"""Create the ledger: API keys, source documents, parties, accounts, transactions.

Revision ID: 6ef86627ff6a
Revises:
Create Date: 2026-11-29 09:10:03.380198
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6ef86627ff6a"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_table(
        "source_documents",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uploaded_by", sa.String(length=32), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("inserted", sa.BigInteger(), nullable=False),
        sa.Column("already_present", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["uploaded_by"], ["api_keys.id"], name=op.f("fk_source_documents_uploaded_by_api_keys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_documents")),
    )
    with op.batch_alter_table("source_documents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_source_documents_received_at"), ["received_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_source_documents_reference"), ["reference"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_source_documents_sha256"), ["sha256"], unique=False)

    op.create_table(
        "accounts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=True),
        sa.Column("iban", sa.String(length=34), nullable=True),
        sa.Column("bic", sa.String(length=11), nullable=True),
        sa.Column("number", sa.String(length=100), nullable=True),
        sa.Column("institution", sa.String(length=300), nullable=True),
        sa.Column("chain", sa.String(length=30), nullable=True),
        sa.Column("address", sa.String(length=200), nullable=True),
        sa.Column("currency", sa.String(length=8), nullable=True),
        sa.Column("source_document_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_document_id"],
            ["source_documents.id"],
            name=op.f("fk_accounts_source_document_id_source_documents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("key", name=op.f("uq_accounts_key")),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_accounts_iban"), ["iban"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_accounts_source_document_id"), ["source_document_id"], unique=False
        )

    op.create_table(
        "parties",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("identifiers", sa.JSON(), nullable=False),
        sa.Column("source_document_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_document_id"],
            ["source_documents.id"],
            name=op.f("fk_parties_source_document_id_source_documents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parties")),
        sa.UniqueConstraint("key", name=op.f("uq_parties_key")),
    )
    with op.batch_alter_table("parties", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_parties_source_document_id"), ["source_document_id"], unique=False
        )

    op.create_table(
        "account_holders",
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("party_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=False),
        sa.Column("source_document_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_account_holders_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["party_id"], ["parties.id"], name=op.f("fk_account_holders_party_id_parties")
        ),
        sa.ForeignKeyConstraint(
            ["source_document_id"],
            ["source_documents.id"],
            name=op.f("fk_account_holders_source_document_id_source_documents"),
        ),
        sa.PrimaryKeyConstraint("account_id", "party_id", "role", name=op.f("pk_account_holders")),
    )
    with op.batch_alter_table("account_holders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_account_holders_party_id"), ["party_id"], unique=False)

    op.create_table(
        "transactions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column(
            "from_account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "to_account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("value_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=True),
        sa.Column("channel", sa.String(length=50), nullable=True),
        sa.Column("narrative", sa.String(length=2000), nullable=True),
        sa.Column("counterparty_name", sa.String(length=500), nullable=True),
        sa.Column("counterparty_account", sa.String(length=300), nullable=True),
        sa.Column("source_document_id", sa.String(length=32), nullable=False),
        sa.Column("source_row", sa.Integer(), nullable=False),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_transactions_amount_positive")),
        sa.CheckConstraint(
            "from_account_id <> to_account_id", name=op.f("ck_transactions_distinct_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["from_account_id"],
            ["accounts.id"],
            name=op.f("fk_transactions_from_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["source_document_id"],
            ["source_documents.id"],
            name=op.f("fk_transactions_source_document_id_source_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["to_account_id"], ["accounts.id"], name=op.f("fk_transactions_to_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transactions")),
        sa.UniqueConstraint("external_id", name=op.f("uq_transactions_external_id")),
    )
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_transactions_from_time", ["from_account_id", "value_time"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_transactions_source_document_id"), ["source_document_id"], unique=False
        )
        batch_op.create_index(
            "ix_transactions_to_time", ["to_account_id", "value_time"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.drop_index("ix_transactions_to_time")
        batch_op.drop_index(batch_op.f("ix_transactions_source_document_id"))
        batch_op.drop_index("ix_transactions_from_time")

    op.drop_table("transactions")
    with op.batch_alter_table("account_holders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_holders_party_id"))

    op.drop_table("account_holders")
    with op.batch_alter_table("parties", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_parties_source_document_id"))

    op.drop_table("parties")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounts_source_document_id"))
        batch_op.drop_index(batch_op.f("ix_accounts_iban"))

    op.drop_table("accounts")
    with op.batch_alter_table("source_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_source_documents_sha256"))
        batch_op.drop_index(batch_op.f("ix_source_documents_reference"))
        batch_op.drop_index(batch_op.f("ix_source_documents_received_at"))

    op.drop_table("source_documents")
    op.drop_table("api_keys")
