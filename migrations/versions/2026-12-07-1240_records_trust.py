"""Trusting records: probable duplicates between source documents and their decisions, the
records the engine no longer reads (ledger exclusions), corrections of transactions and of
account details, and people's decisions that two parties are one.

Revision ID: 4e7a1c9d2b60
Revises: c5d1a7e93f20
Create Date: 2026-12-07 12:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4e7a1c9d2b60"
down_revision: str | None = "c5d1a7e93f20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)


def _id() -> sa.Column[int]:
    return sa.Column("id", BIG_ID, autoincrement=True, nullable=False)


def upgrade() -> None:
    op.create_table(
        "duplicate_matches",
        _id(),
        sa.Column("transaction_id", BIG_ID, nullable=False),
        sa.Column("original_id", BIG_ID, nullable=False),
        sa.Column("detected_at", TIME, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=32), nullable=True),
        sa.Column("decided_at", TIME, nullable=True),
        sa.Column("reason", sa.String(length=2000), nullable=True),
        sa.CheckConstraint(
            "transaction_id <> original_id", name=op.f("ck_duplicate_matches_distinct_records")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["api_keys.id"], name=op.f("fk_duplicate_matches_decided_by_api_keys")
        ),
        sa.ForeignKeyConstraint(
            ["original_id"],
            ["transactions.id"],
            name=op.f("fk_duplicate_matches_original_id_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name=op.f("fk_duplicate_matches_transaction_id_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duplicate_matches")),
        sa.UniqueConstraint(
            "transaction_id",
            "original_id",
            name=op.f("uq_duplicate_matches_transaction_id_original_id"),
        ),
    )
    for column in ("transaction_id", "original_id", "state"):
        op.create_index(
            op.f(f"ix_duplicate_matches_{column}"), "duplicate_matches", [column], unique=False
        )
    op.create_table(
        "ledger_exclusions",
        _id(),
        sa.Column("transaction_id", BIG_ID, nullable=False),
        sa.Column("cause", sa.String(length=16), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name=op.f("fk_ledger_exclusions_transaction_id_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_exclusions")),
        sa.UniqueConstraint("transaction_id", name=op.f("uq_ledger_exclusions_transaction_id")),
    )
    op.create_table(
        "transaction_corrections",
        _id(),
        sa.Column("transaction_id", BIG_ID, nullable=False),
        sa.Column("replacement_id", BIG_ID, nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("source_document_id", sa.String(length=32), nullable=False),
        sa.Column("corrected_by", sa.String(length=32), nullable=False),
        sa.Column("corrected_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["corrected_by"],
            ["api_keys.id"],
            name=op.f("fk_transaction_corrections_corrected_by_api_keys"),
        ),
        sa.ForeignKeyConstraint(
            ["replacement_id"],
            ["transactions.id"],
            name=op.f("fk_transaction_corrections_replacement_id_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["source_document_id"],
            ["source_documents.id"],
            name=op.f("fk_transaction_corrections_source_document_id_source_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name=op.f("fk_transaction_corrections_transaction_id_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transaction_corrections")),
        sa.UniqueConstraint(
            "replacement_id", name=op.f("uq_transaction_corrections_replacement_id")
        ),
        sa.UniqueConstraint(
            "transaction_id", name=op.f("uq_transaction_corrections_transaction_id")
        ),
    )
    op.create_table(
        "account_corrections",
        _id(),
        sa.Column("account_id", BIG_ID, nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("source_document_id", sa.String(length=32), nullable=False),
        sa.Column("corrected_by", sa.String(length=32), nullable=False),
        sa.Column("corrected_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_account_corrections_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["corrected_by"],
            ["api_keys.id"],
            name=op.f("fk_account_corrections_corrected_by_api_keys"),
        ),
        sa.ForeignKeyConstraint(
            ["source_document_id"],
            ["source_documents.id"],
            name=op.f("fk_account_corrections_source_document_id_source_documents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_corrections")),
    )
    op.create_index(
        op.f("ix_account_corrections_account_id"),
        "account_corrections",
        ["account_id"],
        unique=False,
    )
    op.create_table(
        "party_link_events",
        _id(),
        sa.Column("party_id", BIG_ID, nullable=False),
        sa.Column("other_party_id", BIG_ID, nullable=False),
        sa.Column("linked", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("actor_id", sa.String(length=32), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.CheckConstraint(
            "party_id < other_party_id", name=op.f("ck_party_link_events_ordered_pair")
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["api_keys.id"], name=op.f("fk_party_link_events_actor_id_api_keys")
        ),
        sa.ForeignKeyConstraint(
            ["other_party_id"],
            ["parties.id"],
            name=op.f("fk_party_link_events_other_party_id_parties"),
        ),
        sa.ForeignKeyConstraint(
            ["party_id"], ["parties.id"], name=op.f("fk_party_link_events_party_id_parties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_link_events")),
    )
    op.create_index(
        "ix_party_link_events_pair",
        "party_link_events",
        ["party_id", "other_party_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_party_link_events_other_party_id"),
        "party_link_events",
        ["other_party_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_party_link_events_other_party_id"), table_name="party_link_events")
    op.drop_index("ix_party_link_events_pair", table_name="party_link_events")
    op.drop_table("party_link_events")
    op.drop_index(op.f("ix_account_corrections_account_id"), table_name="account_corrections")
    op.drop_table("account_corrections")
    op.drop_table("transaction_corrections")
    op.drop_table("ledger_exclusions")
    for column in ("state", "original_id", "transaction_id"):
        op.drop_index(op.f(f"ix_duplicate_matches_{column}"), table_name="duplicate_matches")
    op.drop_table("duplicate_matches")
