"""Cases, members, subjects; assets with owners and links; measures (legal status events).

Revision ID: 542f98eb09c5
Revises: 6ef86627ff6a
Create Date: 2026-11-29 09:24:23.861156
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "542f98eb09c5"
down_revision: str | None = "6ef86627ff6a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("jurisdiction", sa.String(length=2), nullable=False),
        sa.Column("predicate_offences", sa.JSON(), nullable=False),
        sa.Column("lead_agency", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("recovery_basis", sa.String(length=30), nullable=True),
        sa.Column("discontinuation_reason", sa.String(length=30), nullable=True),
        sa.Column(
            "parent_case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["api_keys.id"], name=op.f("fk_cases_created_by_api_keys")
        ),
        sa.ForeignKeyConstraint(
            ["parent_case_id"], ["cases.id"], name=op.f("fk_cases_parent_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("reference", name=op.f("uq_cases_reference")),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cases_parent_case_id"), ["parent_case_id"], unique=False
        )

    op.create_table(
        "case_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=True),
        sa.Column("actor_id", sa.String(length=32), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["api_keys.id"], name=op.f("fk_case_events_actor_id_api_keys")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_events_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
    )
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_events_case_id"), ["case_id"], unique=False)

    op.create_table(
        "case_members",
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("api_key_id", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("added_by", sa.String(length=32), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["added_by"], ["api_keys.id"], name=op.f("fk_case_members_added_by_api_keys")
        ),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_keys.id"], name=op.f("fk_case_members_api_key_id_api_keys")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_members_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("case_id", "api_key_id", name=op.f("pk_case_members")),
    )
    with op.batch_alter_table("case_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_case_members_api_key_id"), ["api_key_id"], unique=False
        )

    op.create_table(
        "assets",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("type", sa.String(length=30), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=False),
        sa.Column("jurisdiction", sa.String(length=2), nullable=True),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("registry_id", sa.String(length=200), nullable=True),
        sa.Column("address", sa.String(length=500), nullable=True),
        sa.Column("vin", sa.String(length=17), nullable=True),
        sa.Column("registration", sa.String(length=50), nullable=True),
        sa.Column("name", sa.String(length=300), nullable=True),
        sa.Column("company_name", sa.String(length=300), nullable=True),
        sa.Column("share_basis_points", sa.Integer(), nullable=True),
        sa.Column("chain", sa.String(length=30), nullable=True),
        sa.Column("wallet_address", sa.String(length=200), nullable=True),
        sa.Column("holding_asset", sa.String(length=8), nullable=True),
        sa.Column("holding_minor", sa.BigInteger(), nullable=True),
        sa.Column("value_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=8), nullable=True),
        sa.Column("valued_on", sa.Date(), nullable=True),
        sa.Column("valuation_method", sa.String(length=100), nullable=True),
        sa.Column("restrained_minor", sa.BigInteger(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expiry_on", sa.Date(), nullable=True),
        sa.Column("renew_by", sa.Date(), nullable=True),
        sa.Column(
            "replaces_asset_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_assets_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_assets_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["api_keys.id"], name=op.f("fk_assets_created_by_api_keys")
        ),
        sa.ForeignKeyConstraint(
            ["replaces_asset_id"], ["assets.id"], name=op.f("fk_assets_replaces_asset_id_assets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assets")),
    )
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assets_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_assets_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_assets_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_assets_status"), ["status"], unique=False)

    op.create_table(
        "case_subjects",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("party_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("role", sa.String(length=30), nullable=False),
        sa.Column("note", sa.String(length=2000), nullable=True),
        sa.Column("added_by", sa.String(length=32), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(party_id IS NULL) <> (account_id IS NULL)",
            name=op.f("ck_case_subjects_party_xor_account"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_case_subjects_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["added_by"], ["api_keys.id"], name=op.f("fk_case_subjects_added_by_api_keys")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_subjects_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["party_id"], ["parties.id"], name=op.f("fk_case_subjects_party_id_parties")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_subjects")),
    )
    with op.batch_alter_table("case_subjects", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_case_subjects_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_case_subjects_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_subjects_party_id"), ["party_id"], unique=False)

    op.create_table(
        "asset_links",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("asset_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "transaction_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("trace_id", sa.String(length=64), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_asset_links_asset_id_assets")
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name=op.f("fk_asset_links_transaction_id_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asset_links")),
    )
    with op.batch_alter_table("asset_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_asset_links_asset_id"), ["asset_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_asset_links_transaction_id"), ["transaction_id"], unique=False
        )

    op.create_table(
        "asset_owners",
        sa.Column("asset_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("party_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("share_basis_points", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_asset_owners_asset_id_assets")
        ),
        sa.ForeignKeyConstraint(
            ["party_id"], ["parties.id"], name=op.f("fk_asset_owners_party_id_parties")
        ),
        sa.PrimaryKeyConstraint("asset_id", "party_id", name=op.f("pk_asset_owners")),
    )
    with op.batch_alter_table("asset_owners", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_asset_owners_party_id"), ["party_id"], unique=False)

    op.create_table(
        "measures",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("asset_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(length=30), nullable=True),
        sa.Column("to_status", sa.String(length=30), nullable=False),
        sa.Column("measure_type", sa.String(length=40), nullable=True),
        sa.Column("order_reference", sa.String(length=200), nullable=True),
        sa.Column("issuing_authority", sa.String(length=300), nullable=True),
        sa.Column("executing_authority", sa.String(length=300), nullable=True),
        sa.Column("legal_basis", sa.String(length=300), nullable=True),
        sa.Column("jurisdiction", sa.String(length=2), nullable=True),
        sa.Column("decision_on", sa.Date(), nullable=True),
        sa.Column("effective_on", sa.Date(), nullable=True),
        sa.Column("notified_on", sa.Date(), nullable=True),
        sa.Column("duration_value", sa.Integer(), nullable=True),
        sa.Column("duration_unit", sa.String(length=20), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expiry_on", sa.Date(), nullable=True),
        sa.Column("renew_by", sa.Date(), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=8), nullable=True),
        sa.Column("value_based", sa.Boolean(), nullable=False),
        sa.Column("basis", sa.String(length=30), nullable=True),
        sa.Column("disposal_kind", sa.String(length=30), nullable=True),
        sa.Column("release_reason", sa.String(length=40), nullable=True),
        sa.Column("custodian", sa.String(length=300), nullable=True),
        sa.Column("note", sa.String(length=2000), nullable=True),
        sa.Column("actor_id", sa.String(length=32), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["api_keys.id"], name=op.f("fk_measures_actor_id_api_keys")
        ),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_measures_asset_id_assets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_measures")),
        sa.UniqueConstraint("asset_id", "seq", name=op.f("uq_measures_asset_id_seq")),
    )
    with op.batch_alter_table("measures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_measures_asset_id"), ["asset_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("measures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_measures_asset_id"))

    op.drop_table("measures")
    with op.batch_alter_table("asset_owners", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_asset_owners_party_id"))

    op.drop_table("asset_owners")
    with op.batch_alter_table("asset_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_asset_links_transaction_id"))
        batch_op.drop_index(batch_op.f("ix_asset_links_asset_id"))

    op.drop_table("asset_links")
    with op.batch_alter_table("case_subjects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_subjects_party_id"))
        batch_op.drop_index(batch_op.f("ix_case_subjects_case_id"))
        batch_op.drop_index(batch_op.f("ix_case_subjects_account_id"))

    op.drop_table("case_subjects")
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assets_status"))
        batch_op.drop_index(batch_op.f("ix_assets_expires_at"))
        batch_op.drop_index(batch_op.f("ix_assets_case_id"))
        batch_op.drop_index(batch_op.f("ix_assets_account_id"))

    op.drop_table("assets")
    with op.batch_alter_table("case_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_members_api_key_id"))

    op.drop_table("case_members")
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_events_case_id"))

    op.drop_table("case_events")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cases_parent_case_id"))

    op.drop_table("cases")
