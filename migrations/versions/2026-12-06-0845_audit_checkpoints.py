"""Signed audit checkpoints; SQLite, too, refuses to change or remove audit rows.

`audit_checkpoints` keeps each signed (length, head hash) of the chain (app.audit.checkpoints).
Both audit tables are append-only on both databases: PostgreSQL by statement triggers (as the
entries already were), SQLite by row triggers that abort an UPDATE or DELETE. A batch
migration that rebuilds either table on SQLite must create its triggers again.

Revision ID: acd15384980a
Revises: 5e2a9c7d41b8
Create Date: 2026-12-06 08:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "acd15384980a"
down_revision: str | None = "5e2a9c7d41b8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PG_CHECKPOINTS_APPEND_ONLY = """
CREATE FUNCTION audit_checkpoints_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_checkpoints is append-only: % refused', TG_OP;
END $$;
CREATE TRIGGER audit_checkpoints_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_checkpoints_append_only();
"""


def _sqlite_guards(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {verb} refused'); END"
        for verb in ("UPDATE", "DELETE")
    ]


def upgrade() -> None:
    op.create_table(
        "audit_checkpoints",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entries", sa.BigInteger(), nullable=False),
        sa.Column("head_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("public_key", sa.String(length=44), nullable=False),
        sa.Column("signature", sa.String(length=88), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoints")),
        sa.UniqueConstraint("entries", name=op.f("uq_audit_checkpoints_entries")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_CHECKPOINTS_APPEND_ONLY)
    else:
        for statement in [*_sqlite_guards("audit_entries"), *_sqlite_guards("audit_checkpoints")]:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_checkpoints_append_only ON audit_checkpoints")
        op.execute("DROP FUNCTION audit_checkpoints_append_only()")
    else:
        for table in ("audit_entries", "audit_checkpoints"):
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER {table}_no_{verb}")
    op.drop_table("audit_checkpoints")
