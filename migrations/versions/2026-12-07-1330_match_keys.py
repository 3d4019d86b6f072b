"""Blind convergence: keyed digests of what case-filed documents hold (match_keys), and the
notifications of matches to the cases' leads (match_notifications).

The digests are keyed with a server secret the database never holds, so this migration fills
nothing: `moneytrail convergence reindex` does (every document is in the shared pool until an
admin files it into a case, and shared-pool documents have no rows).

Revision ID: 5b8d3e6f1a47
Revises: 8a2f6c1d9e53
Create Date: 2026-12-07 13:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b8d3e6f1a47"
down_revision: str | None = "8a2f6c1d9e53"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "match_keys",
        sa.Column("source_document_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("case_id", BIG_ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_match_keys_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["source_document_id"],
            ["source_documents.id"],
            name=op.f("fk_match_keys_source_document_id_source_documents"),
        ),
        sa.PrimaryKeyConstraint("source_document_id", "kind", "digest", name=op.f("pk_match_keys")),
    )
    op.create_index(op.f("ix_match_keys_case_id"), "match_keys", ["case_id"], unique=False)
    op.create_index("ix_match_keys_digest_case", "match_keys", ["digest", "case_id"], unique=False)
    op.create_table(
        "match_notifications",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("case_id", BIG_ID, nullable=False),
        sa.Column("other_case_id", BIG_ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC_TIME, nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("note", sa.String(length=2000), nullable=True),
        sa.Column("decided_by", sa.String(length=32), nullable=True),
        sa.Column("decided_at", UTC_TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_match_notifications_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["api_keys.id"],
            name=op.f("fk_match_notifications_decided_by_api_keys"),
        ),
        sa.ForeignKeyConstraint(
            ["other_case_id"],
            ["cases.id"],
            name=op.f("fk_match_notifications_other_case_id_cases"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_notifications")),
        sa.UniqueConstraint(
            "case_id",
            "other_case_id",
            "kind",
            "digest",
            name=op.f("uq_match_notifications_case_id_other_case_id_kind_digest"),
        ),
    )
    op.create_index(
        op.f("ix_match_notifications_case_id"), "match_notifications", ["case_id"], unique=False
    )
    op.create_index(
        op.f("ix_match_notifications_other_case_id"),
        "match_notifications",
        ["other_case_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_match_notifications_other_case_id"), table_name="match_notifications")
    op.drop_index(op.f("ix_match_notifications_case_id"), table_name="match_notifications")
    op.drop_table("match_notifications")
    op.drop_index("ix_match_keys_digest_case", table_name="match_keys")
    op.drop_index(op.f("ix_match_keys_case_id"), table_name="match_keys")
    op.drop_table("match_keys")
