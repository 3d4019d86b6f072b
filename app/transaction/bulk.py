"""Bulk loading of validated rows: stage them, then let the database join, check and insert.

PostgreSQL is fed with COPY, SQLite with one executemany, both into a temporary staging table;
accounts first seen in the batch are created, rows whose external id is already stored are
compared field by field, and only new rows are inserted, all inside the caller's transaction.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl
from sqlalchemy import Connection, bindparam, text
from sqlalchemy.orm import Session

from app.account.keys import account_attributes
from app.db import SQLITE_TIME_FORMAT, UTCDateTime

STAGED = (
    "row_no",
    "external_id",
    "from_key",
    "to_key",
    "amount_minor",
    "currency",
    "value_time",
    "sequence",
    "channel",
    "narrative",
    "counterparty_name",
    "counterparty_account",
)
ACCOUNT_COLUMNS = ("key", "kind", "iban", "number", "chain", "address", "name")
_COPY_CHUNK = 8 * 1024 * 1024

_DDL = {
    "postgresql": (
        "CREATE TEMP TABLE staging_transactions (row_no bigint, external_id text, from_key text,"
        " to_key text, amount_minor bigint, currency text, value_time timestamptz,"
        " sequence bigint, channel text, narrative text, counterparty_name text,"
        " counterparty_account text) ON COMMIT DROP",
        "CREATE TEMP TABLE staging_accounts (key text, kind text, iban text, number text,"
        " chain text, address text, name text) ON COMMIT DROP",
    ),
    "sqlite": (
        "CREATE TEMP TABLE staging_transactions (row_no INTEGER, external_id TEXT, from_key TEXT,"
        " to_key TEXT, amount_minor INTEGER, currency TEXT, value_time TEXT, sequence INTEGER,"
        " channel TEXT, narrative TEXT, counterparty_name TEXT, counterparty_account TEXT)",
        "CREATE TEMP TABLE staging_accounts (key TEXT, kind TEXT, iban TEXT, number TEXT,"
        " chain TEXT, address TEXT, name TEXT)",
    ),
}

_CREATE_ACCOUNTS = """
INSERT INTO accounts (key, kind, iban, number, chain, address, name, source_document_id, created_at)
SELECT s.key, s.kind, s.iban, s.number, s.chain, s.address, s.name, :doc, :now
FROM staging_accounts s WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.key = s.key)
"""
# A stored row with the same external id must be the same record; anything else would be a
# silent change of evidence, so the batch is refused instead.
_CONFLICTS = """
SELECT s.row_no, s.external_id FROM staging_transactions s
JOIN transactions t ON t.external_id = s.external_id
JOIN accounts fa ON fa.id = t.from_account_id
JOIN accounts ta ON ta.id = t.to_account_id
WHERE fa.key <> s.from_key OR ta.key <> s.to_key OR t.amount_minor <> s.amount_minor
   OR t.currency <> s.currency OR t.value_time <> s.value_time
   OR COALESCE(t.sequence, -1) <> COALESCE(s.sequence, -1)
ORDER BY s.row_no LIMIT :limit
"""
_INSERT_NEW = """
INSERT INTO transactions (external_id, from_account_id, to_account_id, amount_minor, currency,
    value_time, sequence, channel, narrative, counterparty_name, counterparty_account,
    source_document_id, source_row)
SELECT s.external_id, fa.id, ta.id, s.amount_minor, s.currency, s.value_time, s.sequence,
    s.channel, s.narrative, s.counterparty_name, s.counterparty_account, :doc, s.row_no
FROM staging_transactions s
JOIN accounts fa ON fa.key = s.from_key
JOIN accounts ta ON ta.key = s.to_key
WHERE NOT EXISTS (SELECT 1 FROM transactions t WHERE t.external_id = s.external_id)
"""


@dataclass(frozen=True, slots=True)
class LoadCounts:
    inserted: int
    already_present: int
    accounts_created: int


def _copy_frame(conn: Connection, table: str, frame: pl.DataFrame) -> None:
    raw: Any = conn.connection.dbapi_connection
    columns = ", ".join(frame.columns)
    payload = frame.write_csv(include_header=False).encode()
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT csv)") as copy:
        for start in range(0, len(payload), _COPY_CHUNK):
            copy.write(payload[start : start + _COPY_CHUNK])


def _executemany_frame(conn: Connection, table: str, frame: pl.DataFrame) -> None:
    raw: Any = conn.connection.dbapi_connection
    marks = ", ".join("?" * frame.width)
    cur = raw.cursor()
    try:
        cur.executemany(f"INSERT INTO {table} VALUES ({marks})", frame.iter_rows())
    finally:
        cur.close()


def _stage(conn: Connection, rows: pl.DataFrame, accounts: pl.DataFrame) -> None:
    dialect = conn.dialect.name
    _unstage(conn)
    for ddl in _DDL[dialect]:
        conn.execute(text(ddl))
    if dialect == "postgresql":
        rows = rows.with_columns(pl.col("value_time").dt.strftime("%Y-%m-%d %H:%M:%S%.6f+00"))
        _copy_frame(conn, "staging_transactions", rows)
        _copy_frame(conn, "staging_accounts", accounts)
    else:
        rows = rows.with_columns(
            pl.col("value_time").dt.strftime(SQLITE_TIME_FORMAT.replace(".%f", "%.6f"))
        )
        _executemany_frame(conn, "staging_transactions", rows)
        _executemany_frame(conn, "staging_accounts", accounts)


def _unstage(conn: Connection) -> None:
    # Temporary tables live as long as the connection, which the pool hands on to others.
    conn.execute(text("DROP TABLE IF EXISTS staging_transactions"))
    conn.execute(text("DROP TABLE IF EXISTS staging_accounts"))


def load_transactions(
    session: Session,
    rows: pl.DataFrame,
    *,
    source_document_id: str,
    conflict_limit: int,
) -> tuple[LoadCounts, list[tuple[int, str]]]:
    """Stage and insert `rows`; returns counts and any rows conflicting with stored ones."""
    conn = session.connection()
    keys = pl.concat([rows["from_key"], rows["to_key"]]).unique().sort()
    accounts = account_attributes(keys).select(ACCOUNT_COLUMNS)
    _stage(conn, rows.select(STAGED), accounts)
    try:
        conflicts = [
            (int(r[0]), str(r[1]))
            for r in conn.execute(text(_CONFLICTS), {"limit": conflict_limit})
        ]
        if conflicts:
            return LoadCounts(0, 0, 0), conflicts
        create = text(_CREATE_ACCOUNTS).bindparams(bindparam("now", type_=UTCDateTime()))
        created = conn.execute(
            create, {"doc": source_document_id, "now": datetime.now(UTC)}
        ).rowcount
        insert = _INSERT_NEW
        if conn.dialect.name == "postgresql":
            insert += " ON CONFLICT (external_id) DO NOTHING"
        inserted = conn.execute(text(insert), {"doc": source_document_id}).rowcount
    finally:
        _unstage(conn)
    return LoadCounts(inserted, rows.height - inserted, created), []
