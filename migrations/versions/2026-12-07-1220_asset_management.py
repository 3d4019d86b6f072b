"""Asset management (Directive (EU) 2024/1260): valuation history and management costs per
asset, interlocutory sales ordered and carried out, and realised proceeds shared between
victims and the state. An asset's valuation as it stands becomes the first entry of its history.

Revision ID: 5d2c8e1a7f40
Revises: 5d1e8a3f7c20
Create Date: 2026-12-07 12:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5d2c8e1a7f40"
down_revision: str | None = "5d1e8a3f7c20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "asset_costs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("asset_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("incurred_on", sa.Date(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("recorded_by", sa.String(length=32), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_asset_costs_asset_id_assets")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["api_keys.id"], name=op.f("fk_asset_costs_recorded_by_api_keys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asset_costs")),
    )
    with op.batch_alter_table("asset_costs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_asset_costs_asset_id"), ["asset_id"], unique=False)

    op.create_table(
        "asset_valuations",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("asset_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("valued_on", sa.Date(), nullable=True),
        sa.Column("method", sa.String(length=100), nullable=True),
        sa.Column("source", sa.String(length=300), nullable=True),
        sa.Column("recorded_by", sa.String(length=32), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_asset_valuations_asset_id_assets")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["api_keys.id"], name=op.f("fk_asset_valuations_recorded_by_api_keys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asset_valuations")),
    )
    with op.batch_alter_table("asset_valuations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_asset_valuations_asset_id"), ["asset_id"], unique=False
        )

    op.create_table(
        "proceeds_shares",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("asset_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("recipient", sa.String(length=10), nullable=False),
        sa.Column("party_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("recorded_by", sa.String(length=32), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_proceeds_shares_asset_id_assets")
        ),
        sa.ForeignKeyConstraint(
            ["party_id"], ["parties.id"], name=op.f("fk_proceeds_shares_party_id_parties")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["api_keys.id"], name=op.f("fk_proceeds_shares_recorded_by_api_keys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proceeds_shares")),
    )
    with op.batch_alter_table("proceeds_shares", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_proceeds_shares_asset_id"), ["asset_id"], unique=False)

    op.create_table(
        "interlocutory_sales",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("asset_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ground", sa.String(length=30), nullable=False),
        sa.Column("order_reference", sa.String(length=200), nullable=False),
        sa.Column("issuing_authority", sa.String(length=300), nullable=False),
        sa.Column("legal_basis", sa.String(length=300), nullable=True),
        sa.Column(
            "jurisdiction",
            sa.String(length=6).with_variant(sa.String(length=2), "sqlite"),
            nullable=True,
        ),
        sa.Column("decision_on", sa.Date(), nullable=False),
        sa.Column("sell_by", sa.Date(), nullable=False),
        sa.Column("sell_by_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("ordered_by", sa.String(length=32), nullable=False),
        sa.Column("ordered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sold_on", sa.Date(), nullable=True),
        sa.Column("price_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=8), nullable=True),
        sa.Column("buyer", sa.String(length=300), nullable=True),
        sa.Column(
            "substitute_asset_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column(
            "measure_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("sold_by", sa.String(length=32), nullable=True),
        sa.Column("sold_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_interlocutory_sales_asset_id_assets")
        ),
        sa.ForeignKeyConstraint(
            ["measure_id"], ["measures.id"], name=op.f("fk_interlocutory_sales_measure_id_measures")
        ),
        sa.ForeignKeyConstraint(
            ["ordered_by"], ["api_keys.id"], name=op.f("fk_interlocutory_sales_ordered_by_api_keys")
        ),
        sa.ForeignKeyConstraint(
            ["sold_by"], ["api_keys.id"], name=op.f("fk_interlocutory_sales_sold_by_api_keys")
        ),
        sa.ForeignKeyConstraint(
            ["substitute_asset_id"],
            ["assets.id"],
            name=op.f("fk_interlocutory_sales_substitute_asset_id_assets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interlocutory_sales")),
    )
    with op.batch_alter_table("interlocutory_sales", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_interlocutory_sales_asset_id"), ["asset_id"], unique=False
        )

    op.execute(
        "INSERT INTO asset_valuations (asset_id, amount_minor, currency, valued_on, method, "
        "recorded_by, recorded_at) SELECT id, value_minor, currency, valued_on, "
        "valuation_method, created_by, created_at FROM assets "
        "WHERE value_minor IS NOT NULL AND currency IS NOT NULL ORDER BY id"
    )


def downgrade() -> None:
    with op.batch_alter_table("interlocutory_sales", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_interlocutory_sales_asset_id"))

    op.drop_table("interlocutory_sales")
    with op.batch_alter_table("proceeds_shares", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proceeds_shares_asset_id"))

    op.drop_table("proceeds_shares")
    with op.batch_alter_table("asset_valuations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_asset_valuations_asset_id"))

    op.drop_table("asset_valuations")
    with op.batch_alter_table("asset_costs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_asset_costs_asset_id"))

    op.drop_table("asset_costs")
