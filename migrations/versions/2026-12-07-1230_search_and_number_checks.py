"""Search indexes over parties, accounts and transactions; the flag of an account number that
failed its scheme's check.

PostgreSQL: full-text (GIN over `to_tsvector('simple', ...)`) for party names and transaction
ids and narratives; trigram (pg_trgm, where the server has it) for substrings of account keys,
names and institutions. SQLite: FTS5 tables over the same columns (external content), kept by
triggers inside the writing transaction. Names are folded in Python into `parties.search_text`
(app.party.names); existing parties are folded here.

Revision ID: c5d1a7e93f20
Revises: 5d2c8e1a7f40
Create Date: 2026-12-07 12:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.party.names import search_text

revision: str = "c5d1a7e93f20"
down_revision: str | None = "5d2c8e1a7f40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACCOUNT_TEXT = "lower(key || ' ' || coalesce(name, '') || ' ' || coalesce(institution, ''))"
# Words only: PostgreSQL's parser would read "INV-2026-0042" as 'inv', '-2026', '-0042'.
TRANSACTION_TEXT = (
    "to_tsvector('simple', regexp_replace(external_id || ' ' || coalesce(narrative, ''),"
    " '[^[:alnum:]]+', ' ', 'g'))"
)
PARTY_TEXT = "to_tsvector('simple', coalesce(search_text, ''))"
# SQLite: each FTS5 table mirrors columns of its table (content=...), kept by these triggers.
FTS = {
    "search_parties": ("parties", ("search_text",), "unicode61 remove_diacritics 2"),
    "search_accounts": ("accounts", ("key", "name", "institution"), "trigram"),
    "search_transactions": (
        "transactions",
        ("external_id", "narrative"),
        "unicode61 remove_diacritics 2",
    ),
}


def _sqlite_up() -> None:
    for fts, (table, columns, tokenizer) in FTS.items():
        cols = ", ".join(columns)
        new = ", ".join(f"new.{c}" for c in columns)
        old = ", ".join(f"old.{c}" for c in columns)
        op.execute(
            f"CREATE VIRTUAL TABLE {fts} USING fts5({cols}, content='{table}', "
            f"content_rowid='id', tokenize='{tokenizer}')"
        )
        remove = f"INSERT INTO {fts}({fts}, rowid, {cols}) VALUES ('delete', old.id, {old});"
        add = f"INSERT INTO {fts}(rowid, {cols}) VALUES (new.id, {new});"
        if table != "transactions":
            # Transactions are indexed per load, by app.transaction.bulk.index_for_search.
            op.execute(f"CREATE TRIGGER {fts}_ai AFTER INSERT ON {table} BEGIN {add} END")
        op.execute(f"CREATE TRIGGER {fts}_ad AFTER DELETE ON {table} BEGIN {remove} END")
        op.execute(
            f"CREATE TRIGGER {fts}_au AFTER UPDATE OF {cols} ON {table} BEGIN {remove} {add} END"
        )
        op.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")


def _postgresql_up() -> None:
    bind = op.get_bind()
    trigram = bind.execute(
        sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
    ).first()
    op.execute(f"CREATE INDEX ix_search_parties ON parties USING gin ({PARTY_TEXT})")
    op.execute(
        f"CREATE INDEX ix_search_transactions ON transactions USING gin ({TRANSACTION_TEXT})"
    )
    if trigram is not None:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            f"CREATE INDEX ix_search_accounts ON accounts USING gin ({ACCOUNT_TEXT} gin_trgm_ops)"
        )
    # Without pg_trgm the account search still answers (LIKE), by a scan.


def _fold_parties() -> None:
    bind = op.get_bind()
    parties = sa.table("parties", sa.column("id"), sa.column("name"), sa.column("search_text"))
    rows = bind.execute(sa.select(parties.c.id, parties.c.name)).all()
    update = (
        sa.update(parties)
        .where(parties.c.id == sa.bindparam("pid"))
        .values(search_text=sa.bindparam("text"))
    )
    for start in range(0, len(rows), 5000):
        chunk = rows[start : start + 5000]
        bind.execute(update, [{"pid": r.id, "text": search_text(r.name)} for r in chunk])


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("number_flag", sa.String(length=30), nullable=True))
        batch_op.create_index(batch_op.f("ix_accounts_number_flag"), ["number_flag"], unique=False)
    with op.batch_alter_table("parties", schema=None) as batch_op:
        batch_op.add_column(sa.Column("search_text", sa.String(length=4000), nullable=True))
    _fold_parties()
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_up()
    else:
        _sqlite_up()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for index in ("ix_search_accounts", "ix_search_transactions", "ix_search_parties"):
            op.execute(f"DROP INDEX IF EXISTS {index}")
    else:
        for fts in FTS:
            for suffix in ("ai", "ad", "au"):
                op.execute(f"DROP TRIGGER IF EXISTS {fts}_{suffix}")
            op.execute(f"DROP TABLE IF EXISTS {fts}")
    with op.batch_alter_table("parties", schema=None) as batch_op:
        batch_op.drop_column("search_text")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounts_number_flag"))
        batch_op.drop_column("number_flag")
