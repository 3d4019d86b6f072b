"""Bulk loading of validated rows, all inside the caller's transaction.

Accounts first seen in the batch are created first (their keys staged in a temporary table),
and the batch's account ids are resolved in Polars. The rows then go straight into
`transactions` with the database's own bulk path (COPY on PostgreSQL, one INSERT over the rows
as JSON on SQLite) under a savepoint. If an external id is already stored, that attempt is
rolled back and the batch takes the staged path instead: it is copied into a temporary table,
rows whose external id is already stored are compared field by field, and only new rows are
inserted.
"""

import io
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl
import psycopg
from psycopg.copy import QueuedLibpqWriter
from sqlalchemy import Connection, bindparam, column, func, select, table, text
from sqlalchemy.orm import Session

from app.account.keys import account_attributes
from app.account.models import Account, visible_accounts
from app.db import SQLITE_TIME_FORMAT, UTCDateTime
from app.source.statements import filing_view
from app.transaction import duplicates
from app.transaction.ingest import OPTIONAL
from app.transaction.models import suffix_of

STAGED = (
    "row_no",
    "external_id",
    "engine_id",
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
ACCOUNT_COLUMNS = ("key", "kind", "iban", "number", "chain", "address", "name", "number_flag")
_COPY_SLICE_ROWS = 50_000
_JSON_SLICE_ROWS = 50_000
# What a bulk write takes besides times: types whose text (COPY's CSV) and JSON (SQLite's path)
# read back as the very value given; a float is never money, and would not round-trip exactly.
_EXACT = (
    pl.String,
    pl.Int64,
    pl.Int32,
    pl.Int16,
    pl.Int8,
    pl.UInt32,
    pl.UInt16,
    pl.UInt8,
    pl.Boolean,
    pl.Null,
)
# A page cache that holds the indexes a big batch writes all over (SQLite's default is 2 MiB);
# set for the load only, then put back. benchmarks/ingest.py gives its raw path the same.
SQLITE_BULK_CACHE_KIB = 256 * 1024
SQLITE_BULK_PRAGMAS = (f"PRAGMA cache_size=-{SQLITE_BULK_CACHE_KIB}",)
_TIMES = {"value_time", "created_at"}
_PG_TIME = "%Y-%m-%d %H:%M:%S%.6f+00"
# SQLAlchemy's storage format, so that bulk-loaded times sort and compare like ORM-written ones.
_SQLITE_TIME = SQLITE_TIME_FORMAT.replace(".%f", "%.6f")
_ENGINE_ID_UNIQUE = "uq_transactions_engine_id"
_SQLITE_ENGINE_ID_TAKEN = "UNIQUE constraint failed: transactions.engine_id"

_DDL = {
    "postgresql": {
        "staging_transactions": "CREATE TEMP TABLE staging_transactions (row_no bigint,"
        " external_id text, engine_id text, from_key text, to_key text, amount_minor bigint,"
        " currency text, value_time timestamptz, sequence bigint, channel text, narrative text,"
        " counterparty_name text, counterparty_account text) ON COMMIT DROP",
        "staging_accounts": "CREATE TEMP TABLE staging_accounts (key text, kind text, iban text,"
        " number text, chain text, address text, name text, number_flag text) ON COMMIT DROP",
        "staging_matches": "CREATE TEMP TABLE staging_matches (engine_id text,"
        " original_id bigint) ON COMMIT DROP",
    },
    "sqlite": {
        "staging_transactions": "CREATE TEMP TABLE staging_transactions (row_no INTEGER,"
        " external_id TEXT, engine_id TEXT, from_key TEXT, to_key TEXT, amount_minor INTEGER,"
        " currency TEXT, value_time TEXT, sequence INTEGER, channel TEXT, narrative TEXT,"
        " counterparty_name TEXT, counterparty_account TEXT)",
        "staging_accounts": "CREATE TEMP TABLE staging_accounts (key TEXT, kind TEXT, iban TEXT,"
        " number TEXT, chain TEXT, address TEXT, name TEXT, number_flag TEXT)",
        "staging_matches": "CREATE TEMP TABLE staging_matches (engine_id TEXT,"
        " original_id INTEGER)",
    },
}

_CREATE_ACCOUNTS = """
INSERT INTO accounts
  (key, kind, iban, number, chain, address, name, number_flag, source_document_id, created_at)
SELECT s.key, s.kind, s.iban, s.number, s.chain, s.address, s.name, s.number_flag, :doc, :now
FROM staging_accounts s WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.key = s.key)
"""
_ACCOUNT_IDS = "SELECT s.key, a.id FROM staging_accounts s JOIN accounts a ON a.key = s.key"
_ANY_FILED = "SELECT 1 FROM source_documents WHERE case_id IS NOT NULL LIMIT 1"
# The temporary table of the batch's accounts (`_DDL`), for the statements built in SQLAlchemy.
_STAGED_ACCOUNTS = table("staging_accounts", column("key"))
# A stored row with the same external id in the same compartment (the same engine id: see
# app.transaction.models.engine_id_of) must be the same record (rows of other compartments are
# never read: what one compartment stores decides nothing about another's load): a field it
# states with another value than the stored one (or that the stored row lacks) would be
# silently changed or silently dropped evidence, so the batch is refused. An optional field the
# re-sent row leaves out contradicts nothing (a lossy export, e.g. FtM, coming back): the stored
# value stands.
# Each entry is (field as the API names it, stored column, staged column).
COMPARED = (
    ("from_account", "fa.key", "s.from_key"),
    ("to_account", "ta.key", "s.to_key"),
    ("amount", "t.amount_minor", "s.amount_minor"),
    ("currency", "t.currency", "s.currency"),
    ("value_time", "t.value_time", "s.value_time"),
    ("sequence", "t.sequence", "s.sequence"),
    *((name, f"t.{name}", f"s.{name}") for name in OPTIONAL[1:]),
)
_STATED_BY_THE_SOURCE = {"sequence", *OPTIONAL}
# Null-safe inequality: PostgreSQL's IS DISTINCT FROM is SQLite's IS NOT.
_DISTINCT = {"postgresql": "IS DISTINCT FROM", "sqlite": "IS NOT"}


def _conflicts_sql(dialect: str) -> str:
    differs = [
        f"({staged} IS NOT NULL AND {stored} {_DISTINCT[dialect]} {staged})"
        if name in _STATED_BY_THE_SOURCE
        else f"({stored} {_DISTINCT[dialect]} {staged})"
        for name, stored, staged in COMPARED
    ]
    flags = ", ".join(f"CASE WHEN {d} THEN 1 ELSE 0 END" for d in differs)
    return f"""
SELECT s.row_no, s.external_id, {flags} FROM staging_transactions s
JOIN transactions t ON t.engine_id = s.engine_id
JOIN accounts fa ON fa.id = t.from_account_id
JOIN accounts ta ON ta.id = t.to_account_id
WHERE {" OR ".join(differs)}
ORDER BY s.row_no LIMIT :limit
"""


_INSERT_NEW = """
INSERT INTO transactions (external_id, engine_id, from_account_id, to_account_id,
    amount_minor, currency, value_time, sequence, channel, narrative, counterparty_name,
    counterparty_account, source_document_id, source_row)
SELECT s.external_id, s.engine_id, fa.id, ta.id, s.amount_minor, s.currency, s.value_time,
    s.sequence, s.channel, s.narrative, s.counterparty_name, s.counterparty_account, :doc, s.row_no
FROM staging_transactions s
JOIN accounts fa ON fa.key = s.from_key
JOIN accounts ta ON ta.key = s.to_key
WHERE NOT EXISTS (SELECT 1 FROM transactions t WHERE t.engine_id = s.engine_id)
"""


@dataclass(frozen=True, slots=True)
class Conflict:
    """A row whose external id is stored with other content, and the fields that differ."""

    row_no: int
    external_id: str
    fields: list[str]


@dataclass(frozen=True, slots=True)
class LoadCounts:
    inserted: int
    already_present: int
    accounts_created: int


def _copy_frame(conn: Connection, table: str, frame: pl.DataFrame) -> None:
    """COPY `frame` into `table`, a slice at a time: the server parses one slice while the next
    is written as CSV, and the whole batch is never held as one CSV text."""
    raw: Any = conn.connection.dbapi_connection
    columns = ", ".join(frame.columns)
    statement = f"COPY {table} ({columns}) FROM STDIN (FORMAT csv)"
    with raw.cursor() as cur, cur.copy(statement, writer=QueuedLibpqWriter(cur)) as copy:
        for part in frame.iter_slices(_COPY_SLICE_ROWS):
            buffer = io.BytesIO()
            part.write_csv(buffer, include_header=False)
            copy.write(buffer.getvalue())


def _insert_json_frame(conn: Connection, table: str, frame: pl.DataFrame) -> None:
    """INSERT `frame` into `table` as one statement per slice over the slice as JSON.

    Not an executemany: the driver lets go of Python's GIL for every row it steps and must win
    it back for the next, and while another thread computes (a trace, a parser) each win waits
    for that thread's switch interval: 100,000 rows took 81 s beside one busy thread instead of
    0.9 s (0.8 s as JSON, beside it or not). Polars writes the JSON without the GIL, SQLite
    reads it in one step.
    """
    columns = ", ".join(frame.columns)
    values = ", ".join(f"json_extract(value, '$.{name}')" for name in frame.columns)
    statement = f"INSERT INTO {table} ({columns}) SELECT {values} FROM json_each(?)"
    raw: Any = conn.connection.dbapi_connection
    cur = raw.cursor()
    try:
        for part in frame.iter_slices(_JSON_SLICE_ROWS):
            cur.execute(statement, (part.write_json(),))
    finally:
        cur.close()


def write_frame(conn: Connection, table: str, frame: pl.DataFrame) -> None:
    """Append `frame` to `table` by the database's bulk path, times as the dialect stores them."""
    unexpected = {
        name: dtype
        for name, dtype in frame.schema.items()
        if dtype not in _EXACT and name not in _TIMES
    }
    if unexpected:
        raise TypeError(f"no exact bulk form for {unexpected}")
    if conn.dialect.name == "postgresql":
        frame = frame.with_columns(pl.col(_TIMES & set(frame.columns)).dt.strftime(_PG_TIME))
        _copy_frame(conn, table, frame)
    else:
        frame = frame.with_columns(pl.col(_TIMES & set(frame.columns)).dt.strftime(_SQLITE_TIME))
        _insert_json_frame(conn, table, frame)


def _create_table(conn: Connection, name: str) -> None:
    conn.execute(text(f"DROP TABLE IF EXISTS {name}"))
    conn.execute(text(_DDL[conn.dialect.name][name]))


def _unstage(conn: Connection) -> None:
    # Temporary tables live as long as the connection, which the pool hands on to others.
    conn.execute(text("DROP TABLE IF EXISTS staging_transactions"))
    conn.execute(text("DROP TABLE IF EXISTS staging_accounts"))
    conn.execute(text("DROP TABLE IF EXISTS staging_matches"))


def _known_in_scope(conn: Connection, case_id: int | None) -> int | None:
    """How many of the staged accounts the load's compartment scope knew; None when no
    document is filed in a case (every account is known to every scope: the insert counts)."""
    if conn.execute(text(_ANY_FILED)).first() is None:
        return None
    # The account domain's own need-to-know test (`visible_accounts`) for the load's scope, the
    # shared pool and the load's case: an account first seen in a case the loader may not see
    # is new to them.
    known = (
        select(func.count())
        .select_from(_STAGED_ACCOUNTS.join(Account, Account.key == _STAGED_ACCOUNTS.c.key))
        .where(visible_accounts(filing_view(case_id)))
    )
    return int(conn.execute(known).scalar_one())


def _keys_named(rows: pl.DataFrame) -> pl.Series:
    return pl.concat([rows["from_key"], rows["to_key"]]).unique().rename("key")


def accounts_named(rows: pl.DataFrame) -> pl.DataFrame:
    """The `accounts` columns of every account `rows` name, as a new account would get them.

    Worked out in Python per key (the number checks), so a load in slices works them out once,
    before it takes any lock, and hands each slice its part (`load_transactions(accounts=)`).
    """
    return account_attributes(_keys_named(rows).sort()).select(ACCOUNT_COLUMNS)


def _ensure_accounts(
    conn: Connection, accounts: pl.DataFrame, source_document_id: str, case_id: int | None
) -> tuple[pl.DataFrame, int]:
    """Create the accounts first seen here (`accounts`: the batch's, `accounts_named`); returns
    the batch's (key, id) pairs and how many are new to the load's compartment scope (a
    compartment's load learns nothing of another's accounts by the count)."""
    _create_table(conn, "staging_accounts")
    write_frame(conn, "staging_accounts", accounts)
    known = _known_in_scope(conn, case_id)
    sql = _CREATE_ACCOUNTS
    if conn.dialect.name == "postgresql":
        # Two batches naming the same new account at once: the second finds it made.
        sql += " ON CONFLICT (key) DO NOTHING"
    create = text(sql).bindparams(bindparam("now", type_=UTCDateTime()))
    created = conn.execute(create, {"doc": source_document_id, "now": datetime.now(UTC)}).rowcount
    if known is not None:
        created = accounts.height - known
    return _read_frame(conn, _ACCOUNT_IDS, pl.Schema({"key": pl.String, "id": pl.Int64})), created


def _read_frame(conn: Connection, query: str, schema: pl.Schema) -> pl.DataFrame:
    """The result of `query` as a frame; on PostgreSQL by COPY, not a Python object per row."""
    raw: Any = conn.connection.dbapi_connection
    if conn.dialect.name != "postgresql":
        # The driver's tuples straight into the frame: SQLAlchemy's row handling took a quarter
        # of duplicate detection's time on a restating load.
        cur = raw.cursor()
        try:
            return pl.DataFrame(cur.execute(query).fetchall(), schema=schema, orient="row")
        finally:
            cur.close()
    buffer = io.BytesIO()
    with raw.cursor() as cur, cur.copy(f"COPY ({query}) TO STDOUT (FORMAT csv)") as copy:
        for data in copy:
            buffer.write(data)
    if not buffer.tell():
        return pl.DataFrame(schema=schema)
    buffer.seek(0)
    return pl.read_csv(buffer, has_header=False, schema=schema)


def _insert_all(session: Session, table: pl.DataFrame) -> bool:
    """Insert every row straight into `transactions`; False, and nothing kept, if any is stored.

    The common case (new rows only) then costs one bulk write, as the database's own loader
    would; a batch repeating a stored external id falls back to the staged comparison.
    """
    try:
        with session.begin_nested():
            write_frame(session.connection(), "transactions", table)
    except psycopg.errors.UniqueViolation as exc:
        if exc.diag.constraint_name != _ENGINE_ID_UNIQUE:
            raise
        return False
    except sqlite3.IntegrityError as exc:
        if str(exc) != _SQLITE_ENGINE_ID_TAKEN:
            raise
        return False
    return True


def _insert_new(
    conn: Connection, rows: pl.DataFrame, *, source_document_id: str, conflict_limit: int
) -> tuple[int, list[Conflict]]:
    """Stage the batch, report rows that change stored ones, else insert the unknown ones."""
    _create_table(conn, "staging_transactions")
    write_frame(conn, "staging_transactions", rows.select(STAGED))
    found = conn.execute(text(_conflicts_sql(conn.dialect.name)), {"limit": conflict_limit})
    conflicts = [
        Conflict(
            int(r[0]), str(r[1]), [f for (f, _, _), d in zip(COMPARED, r[2:], strict=True) if d]
        )
        for r in found
    ]
    if conflicts:
        return 0, conflicts
    insert = _INSERT_NEW
    if conn.dialect.name == "postgresql":
        insert += " ON CONFLICT (engine_id) DO NOTHING"
    return conn.execute(text(insert), {"doc": source_document_id}).rowcount, []


def _record_matches(conn: Connection, matches: pl.DataFrame, source_document_id: str) -> None:
    """Store the probable duplicates found for the batch, in one statement."""
    _create_table(conn, "staging_matches")
    write_frame(conn, "staging_matches", matches)
    record = text(duplicates.RECORD).bindparams(bindparam("now", type_=UTCDateTime()))
    conn.execute(record, duplicates.record_params(source_document_id))


def _as_stored(rows: pl.DataFrame, ids: pl.DataFrame, source_document_id: str) -> pl.DataFrame:
    """The batch as `transactions` rows; optional columns null throughout are left to default."""
    present = [c for c in OPTIONAL if rows[c].null_count() < rows.height]

    def account_id(key: str) -> pl.Expr:
        return pl.col(key).replace_strict(ids["key"], ids["id"], return_dtype=pl.Int64)

    return rows.select(
        "external_id",
        "engine_id",
        account_id("from_key").alias("from_account_id"),
        account_id("to_key").alias("to_account_id"),
        "amount_minor",
        "currency",
        "value_time",
        *present,
        pl.lit(source_document_id).alias("source_document_id"),
        pl.col("row_no").alias("source_row"),
    )


@contextmanager
def _bulk_settings(conn: Connection) -> Iterator[None]:
    if conn.dialect.name != "sqlite":
        yield
        return
    previous = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
    for pragma in SQLITE_BULK_PRAGMAS:
        conn.exec_driver_sql(pragma)
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size={int(previous)}")


def load_transactions(
    session: Session,
    rows: pl.DataFrame,
    *,
    source_document_id: str,
    conflict_limit: int,
    duplicate_tolerance: int | None = None,
    accounts: pl.DataFrame | None = None,
) -> tuple[LoadCounts, list[Conflict]]:
    """Insert `rows`; returns counts and any rows conflicting with stored ones.

    With a `duplicate_tolerance` (seconds), rows matching a stored row of another source
    document are flagged as probable duplicates (app.transaction.duplicates). `accounts`:
    `accounts_named` of a frame `rows` is part of (worked out here when not given).
    """
    if accounts is None:
        accounts = accounts_named(rows)
    else:
        accounts = accounts.join(_keys_named(rows).to_frame(), on="key", how="semi")
    conn = session.connection()
    case_id = case_of_document(conn, source_document_id)
    rows = with_engine_ids(rows, case_id)
    with _bulk_settings(conn):
        return _load(
            session,
            rows,
            accounts,
            (source_document_id, case_id),
            conflict_limit,
            duplicate_tolerance,
        )


def case_of_document(conn: Connection, document_id: str) -> int | None:
    """The case a source document is filed in (None: the shared pool)."""
    found = conn.execute(
        text("SELECT case_id FROM source_documents WHERE id = :doc"), {"doc": document_id}
    ).scalar()
    return None if found is None else int(found)


def with_engine_ids(rows: pl.DataFrame, case_id: int | None) -> pl.DataFrame:
    """`rows` with the engine id each takes when filed in `case_id` (`engine_id_of`)."""
    qualified = pl.col("external_id") + pl.lit(suffix_of(case_id))
    return rows.with_columns(qualified.alias("engine_id"))


def last_transaction_id(conn: Connection) -> int:
    return int(conn.execute(text("SELECT coalesce(max(id), 0) FROM transactions")).scalar_one())


def index_for_search(conn: Connection, after_id: int) -> None:
    """Add the transactions stored after `after_id` to SQLite's search index, in the load's
    own transaction. One INSERT ... SELECT costs a third of a trigger per row, and a big load
    holds SQLite's one write lock meanwhile. (PostgreSQL's GIN index fills by itself.)"""
    if conn.dialect.name == "sqlite":
        conn.execute(
            text(
                "INSERT INTO search_transactions(rowid, external_id, narrative)"
                " SELECT id, external_id, narrative FROM transactions WHERE id > :after"
            ),
            {"after": after_id},
        )


def _load(
    session: Session,
    rows: pl.DataFrame,
    accounts: pl.DataFrame,
    filed: tuple[str, int | None],
    conflict_limit: int,
    duplicate_tolerance: int | None,
) -> tuple[LoadCounts, list[Conflict]]:
    """`filed`: the source document and the case it is filed in (None: the shared pool)."""
    source_document_id, case_id = filed
    conn = session.connection()
    # SQLite has one writer at a time, and this is it: ids past this one are this load's.
    before = last_transaction_id(conn) if conn.dialect.name == "sqlite" else 0
    try:
        ids, created = _ensure_accounts(conn, accounts, source_document_id, case_id)
        table = _as_stored(rows, ids, source_document_id)
        # Looked for before the rows go in: the stored rows read are then other documents'.
        matches = None
        conflicts: list[Conflict] = []
        if duplicate_tolerance is not None:
            matches = duplicates.find(
                conn,
                table,
                document_id=source_document_id,
                tolerance_seconds=duplicate_tolerance,
                read=_read_frame,
            )
        if _insert_all(session, table):
            inserted = rows.height
        else:
            inserted, conflicts = _insert_new(
                conn, rows, source_document_id=source_document_id, conflict_limit=conflict_limit
            )
        if not conflicts:
            index_for_search(conn, before)
        if matches is not None and matches.height and inserted and not conflicts:
            _record_matches(conn, matches, source_document_id)
    finally:
        _unstage(conn)
    if conflicts:
        return LoadCounts(0, 0, 0), conflicts
    return LoadCounts(inserted, rows.height - inserted, created), []
