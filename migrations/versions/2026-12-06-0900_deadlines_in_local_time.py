"""Deadlines in local time and regional calendars: ISO 3166-2 jurisdictions (`DE-BY`), the time
zone an order states, and the instant a renewal is due.

SQLite never enforces a VARCHAR length and keeps its 2 (app.db.Jurisdiction): widening it would
rebuild tables others reference, which a populated database refuses with foreign keys on.

Revision ID: 5d2f8a61c3e7
Revises: acd15384980a
Create Date: 2026-12-06 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5d2f8a61c3e7"
down_revision: str | None = "acd15384980a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WIDENED = ("cases", "assets", "measures")


def upgrade() -> None:
    with op.batch_alter_table("measures", schema=None) as batch_op:
        batch_op.add_column(sa.Column("renew_by_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("time_zone", sa.String(length=64), nullable=True))
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("renew_by_at", sa.DateTime(timezone=True), nullable=True))
    if op.get_bind().dialect.name != "sqlite":
        for table in WIDENED:
            op.alter_column(
                table,
                "jurisdiction",
                type_=sa.String(length=6),
                existing_type=sa.String(length=2),
                existing_nullable=table != "cases",
            )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        for table in WIDENED:
            # A subdivision narrows to its country: the calendar falls back to the national one.
            op.execute(sa.text(f"UPDATE {table} SET jurisdiction = substr(jurisdiction, 1, 2)"))
            op.alter_column(
                table,
                "jurisdiction",
                type_=sa.String(length=2),
                existing_type=sa.String(length=6),
                existing_nullable=table != "cases",
            )
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.drop_column("renew_by_at")
    with op.batch_alter_table("measures", schema=None) as batch_op:
        batch_op.drop_column("time_zone")
        batch_op.drop_column("renew_by_at")
