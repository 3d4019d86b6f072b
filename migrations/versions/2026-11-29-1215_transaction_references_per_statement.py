"""PostgreSQL: check the references of `transactions` once per statement, not once per row.

The three foreign keys of `transactions` (from/to account, source document) made PostgreSQL run
an RI trigger per row and per key: two thirds of the backend's CPU time in a bulk COPY. They are
replaced by triggers the database runs itself, whatever writes the rows (the app, COPY, psql):

* after each INSERT or UPDATE statement, with the statement's new rows as a transition table:
  the accounts and source documents they name are locked FOR KEY SHARE, as the RI triggers
  would lock them, and a row naming one that does not exist fails the statement with
  `foreign_key_violation` (SQLSTATE 23503), naming the constraint, column and value;
* accounts and source documents are evidence and are never deleted: a DELETE, a TRUNCATE or a
  change of `id` is refused. This is stricter than the foreign key (which refused it only while
  a transaction referenced the row), and it holds at every isolation level without looking at
  `transactions`.

SQLite keeps its foreign keys: its checks are cheap, and it has no statement-level triggers.
The models keep the ForeignKey declarations; `app.migrate.autogenerate_options` tells
autogenerate that PostgreSQL enforces these three by the triggers above.

Revision ID: 0b7d3c52e9a1
Revises: c1e84db5e60f
Create Date: 2026-11-29 12:15:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0b7d3c52e9a1"
down_revision: str | None = "c1e84db5e60f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOREIGN_KEYS = (
    ("fk_transactions_from_account_id_accounts", "from_account_id", "accounts"),
    ("fk_transactions_to_account_id_accounts", "to_account_id", "accounts"),
    (
        "fk_transactions_source_document_id_source_documents",
        "source_document_id",
        "source_documents",
    ),
)

# Distinct ids first (about one per ten rows in a ledger), then one locking scan; the anti-join
# that names the culprit runs only when something is missing. A row the lock did not return but
# the anti-join still finds cannot happen while ids never change; should it, the statement
# fails as a retryable serialization failure rather than pass unchecked. work_mem: the distinct
# ids of a million-row COPY fit in memory instead of spilling. Like the RI triggers, it reads
# and locks as the owner of the tables (SECURITY DEFINER), with the search path it was created
# with.
CHECK_REFERENCES = """
CREATE FUNCTION transactions_check_references() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT SET work_mem = '64MB' AS $$
DECLARE
    account_ids bigint[];
    document_ids text[];
    locked bigint;
    missing record;
    constraint_name text;
BEGIN
    SELECT array_agg(d.id) INTO account_ids FROM (
        SELECT DISTINCT v.id FROM new_rows AS n,
        LATERAL (VALUES (n.from_account_id), (n.to_account_id)) AS v (id)) AS d;
    IF account_ids IS NULL THEN  -- the statement wrote no row
        RETURN NULL;
    END IF;
    SELECT count(*) INTO locked FROM (
        SELECT FROM accounts AS a WHERE a.id = ANY (account_ids) FOR KEY SHARE OF a) AS l;
    IF locked < cardinality(account_ids) THEN
        SELECT c.col, c.id INTO missing FROM new_rows AS n,
        LATERAL (VALUES (1, 'from_account_id', n.from_account_id),
                        (2, 'to_account_id', n.to_account_id)) AS c (ord, col, id)
        WHERE NOT EXISTS (SELECT FROM accounts AS a WHERE a.id = c.id)
        ORDER BY c.ord, c.id LIMIT 1;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'accounts named by "transactions" changed while being locked'
                USING ERRCODE = 'serialization_failure';
        END IF;
        constraint_name := 'fk_transactions_' || missing.col || '_accounts';
        RAISE EXCEPTION
            'insert or update on table "transactions" violates foreign key constraint "%"',
            constraint_name
            USING ERRCODE = 'foreign_key_violation', TABLE = 'transactions',
                  COLUMN = missing.col, CONSTRAINT = constraint_name,
                  DETAIL = format('Key (%s)=(%s) is not present in table "accounts".',
                                  missing.col, missing.id);
    END IF;

    SELECT array_agg(d.id) INTO document_ids FROM (
        SELECT DISTINCT n.source_document_id AS id FROM new_rows AS n) AS d;
    SELECT count(*) INTO locked FROM (
        SELECT FROM source_documents AS s WHERE s.id = ANY (document_ids)
        FOR KEY SHARE OF s) AS l;
    IF locked < cardinality(document_ids) THEN
        SELECT d.id INTO missing FROM unnest(document_ids) AS d (id)
        WHERE NOT EXISTS (SELECT FROM source_documents AS s WHERE s.id = d.id)
        ORDER BY d.id LIMIT 1;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'source documents named by "transactions" changed while being locked'
                USING ERRCODE = 'serialization_failure';
        END IF;
        RAISE EXCEPTION
            'insert or update on table "transactions" violates foreign key constraint "%"',
            'fk_transactions_source_document_id_source_documents'
            USING ERRCODE = 'foreign_key_violation', TABLE = 'transactions',
                  COLUMN = 'source_document_id',
                  CONSTRAINT = 'fk_transactions_source_document_id_source_documents',
                  DETAIL = format('Key (source_document_id)=(%s) is not present in table'
                                  ' "source_documents".', missing.id);
    END IF;
    RETURN NULL;
END $$
"""

KEEP_EVIDENCE = """
CREATE FUNCTION evidence_is_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.id = OLD.id THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'the id of a row of "%" never changes', TG_TABLE_NAME
            USING ERRCODE = 'restrict_violation', TABLE = TG_TABLE_NAME, COLUMN = 'id';
    END IF;
    RAISE EXCEPTION '"%" is evidence: its rows are never deleted (%)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation', TABLE = TG_TABLE_NAME;
END $$
"""

# (name, table, timing and event, level); transition tables allow one event per trigger.
TRIGGERS = (
    (
        "transactions_references_insert",
        "transactions",
        "AFTER INSERT",
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
        " EXECUTE FUNCTION transactions_check_references()",
    ),
    (
        "transactions_references_update",
        "transactions",
        "AFTER UPDATE",
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
        " EXECUTE FUNCTION transactions_check_references()",
    ),
    *(
        (
            f"{table}_kept",
            table,
            "BEFORE DELETE OR UPDATE OF id",
            "FOR EACH ROW EXECUTE FUNCTION evidence_is_kept()",
        )
        for table in ("accounts", "source_documents")
    ),
    *(
        (
            f"{table}_not_truncated",
            table,
            "BEFORE TRUNCATE",
            "FOR EACH STATEMENT EXECUTE FUNCTION evidence_is_kept()",
        )
        for table in ("accounts", "source_documents")
    ),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(CHECK_REFERENCES)
    op.execute(KEEP_EVIDENCE)
    for name, table, event, rest in TRIGGERS:
        op.execute(f"CREATE TRIGGER {name} {event} ON {table} {rest}")
    for name, _, _ in FOREIGN_KEYS:
        op.drop_constraint(op.f(name), "transactions", type_="foreignkey")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, column, table in FOREIGN_KEYS:
        op.create_foreign_key(op.f(name), "transactions", table, [column], ["id"])
    for name, table, _, _ in TRIGGERS:
        op.execute(f"DROP TRIGGER {name} ON {table}")
    op.execute("DROP FUNCTION evidence_is_kept()")
    op.execute("DROP FUNCTION transactions_check_references()")
