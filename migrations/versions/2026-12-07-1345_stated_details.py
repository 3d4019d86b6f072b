"""Details per document: what a document in another compartment than the one that created an
account or party stated of it (account_statements, party_statements), and holder links kept
per stating document (account_holders' key gains source_document_id), so that a load's outcome
and what each compartment reads depend only on the documents it holds (issue 19).

Existing rows keep their meaning: each account, party and link was stated by its document.

Revision ID: 82e3eb9b21c6
Revises: 3c9e7a2d5f18
Create Date: 2026-12-07 13:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "82e3eb9b21c6"
down_revision: str | None = "3c9e7a2d5f18"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
HOLDER_KEY = ["account_id", "party_id", "role"]


def _statements(table: str, record: str, records: str) -> None:
    op.create_table(
        table,
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column(f"{record}_id", BIG_ID, nullable=False),
        sa.Column("source_document_id", sa.String(length=32), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            [f"{record}_id"], [f"{records}.id"], name=op.f(f"fk_{table}_{record}_id_{records}")
        ),
        sa.ForeignKeyConstraint(
            ["source_document_id"],
            ["source_documents.id"],
            name=op.f(f"fk_{table}_source_document_id_source_documents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    )
    op.create_index(op.f(f"ix_{table}_{record}_id"), table, [f"{record}_id"], unique=False)
    op.create_index(
        op.f(f"ix_{table}_source_document_id"), table, ["source_document_id"], unique=False
    )


def upgrade() -> None:
    _statements("account_statements", "account", "accounts")
    _statements("party_statements", "party", "parties")
    with op.batch_alter_table("account_holders", schema=None) as batch_op:
        batch_op.drop_constraint("pk_account_holders", type_="primary")
        batch_op.create_primary_key("pk_account_holders", [*HOLDER_KEY, "source_document_id"])


def downgrade() -> None:
    # A link stated by two documents keeps its first statement.
    op.execute(
        "DELETE FROM account_holders WHERE EXISTS (SELECT 1 FROM account_holders o"
        " WHERE o.account_id = account_holders.account_id"
        " AND o.party_id = account_holders.party_id AND o.role = account_holders.role"
        " AND o.source_document_id < account_holders.source_document_id)"
    )
    with op.batch_alter_table("account_holders", schema=None) as batch_op:
        batch_op.drop_constraint("pk_account_holders", type_="primary")
        batch_op.create_primary_key("pk_account_holders", HOLDER_KEY)
    for table, record in (("party_statements", "party"), ("account_statements", "account")):
        op.drop_index(op.f(f"ix_{table}_source_document_id"), table_name=table)
        op.drop_index(op.f(f"ix_{table}_{record}_id"), table_name=table)
        op.drop_table(table)
