"""Which details a statement also wrote on its record's row (account_statements.on_row,
party_statements.on_row): a document filed in the compartment of the row's creating document
writes the fields it adds on the row as well, for the search, and an admin's refiling of
either document takes them back off the row (docs/compartments.md).

Existing statements get null: none of them wrote on a row (since 1a70685 none did); rows
written before that keep what was written on them. Downgrading drops the column and leaves
the rows as they are (what was written on them stays, as before 1a70685).

Revision ID: 5d8e2b7c41f3
Revises: a7c41e9d2b60
Create Date: 2026-12-07 14:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5d8e2b7c41f3"
down_revision: str | None = "a7c41e9d2b60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("account_statements", "party_statements")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("on_row", sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("on_row")
