"""Search latency: p50/p95 of GET /api/v1/search's query (app.search.service) over a ledger of
N parties and M transactions, on SQLite or PostgreSQL.

    python benchmarks/search.py --parties 100000 --transactions 1000000 [--url URL]

The target (issue 18) is 1M parties and 10M transactions at <= 50 ms p50. Rows are written by
each database's bulk path (COPY on PostgreSQL, executemany on SQLite, as
app.transaction.bulk loads), so the search indexes (triggers on SQLite, GIN indexes on
PostgreSQL) fill as on every write path.
"""

import argparse
import os
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from app import migrate
from app.apikey import service as apikey_service
from app.db import make_engine
from app.party.names import search_text
from app.principal import Principal, Role
from app.search.schemas import SearchKind
from app.search.service import search
from app.settings import sqlite_url
from app.source.models import SourceDocument
from app.transaction.bulk import index_for_search, last_transaction_id, write_frame

FIRST = ["Anna", "Vladimir", "Jürgen", "Maria", "Ahmed", "Elena", "Jan", "Sofia", "Olga", "Ivan"]
LAST = ["Petrov", "Müller", "Berg", "Rossi", "Haddad", "Novak", "Smith", "Kowalski", "Costa"]
WORDS = ["invoice", "loan", "rent", "consulting", "fee", "refund", "salary", "transfer", "gift"]
CHUNK = 100_000
TX_CHUNK = 500_000


def _search_texts(first: pl.Expr, last: pl.Expr, number: pl.Expr) -> pl.Expr:
    """`search_text` of "<first> <last> <number>" for every row, folded once per name pair
    (the number is a word without a sound): what app.party.names stores, without a million
    calls into ICU."""
    pairs = {(f, lt): search_text(f"{f} {lt} 1").split(" 1 ") for f in FIRST for lt in LAST}
    words = {f"{f} {lt}": w for (f, lt), (w, _) in pairs.items()}
    sounds = {f"{f} {lt}": s for (f, lt), (_, s) in pairs.items()}
    both = pl.concat_str([first, last], separator=" ")
    return pl.concat_str(
        [
            both.replace_strict(words, return_dtype=pl.String),
            number.cast(pl.String),
            both.replace_strict(sounds, return_dtype=pl.String),
        ],
        separator=" ",
    )


def _drawn(start: int, stop: int, seed: int, **choices: list[str] | int) -> pl.DataFrame:
    """Row numbers `i` from `start`, and per keyword a random pick of its list (or below it)."""
    rng = np.random.default_rng(seed)
    n = stop - start
    columns: dict[str, np.ndarray] = {"i": np.arange(start, stop, dtype=np.int64)}
    for name, pick in choices.items():
        drawn = rng.integers(0, pick if isinstance(pick, int) else len(pick), n)
        columns[name] = drawn if isinstance(pick, int) else np.array(pick)[drawn]
    return pl.DataFrame(columns)


def _parties(start: int, stop: int, doc: str, now: datetime) -> pl.DataFrame:
    raw = _drawn(start, stop, start, first=FIRST, last=LAST)
    i = pl.col("i")
    return raw.select(
        (i + 1).alias("id"),
        pl.format("person:{}", i).alias("key"),
        pl.lit("person").alias("kind"),
        pl.format("{} {} {}", "first", "last", i).alias("name"),
        pl.lit("{}").alias("identifiers"),
        _search_texts(pl.col("first"), pl.col("last"), i).alias("search_text"),
        pl.lit(doc).alias("source_document_id"),
        pl.lit(now).alias("created_at"),
    )


def _transactions(start: int, stop: int, parties: int, doc: str, now: datetime) -> pl.DataFrame:
    raw = _drawn(start, stop, start + 1, source=parties, one=WORDS, two=WORDS)
    i = pl.col("i")
    return raw.select(
        (i + 1).alias("id"),
        pl.format("TX-{}", i).alias("external_id"),
        # the shared pool's engine id is the external id (app.transaction.models.engine_id_of)
        pl.format("TX-{}", i).alias("engine_id"),
        (pl.col("source") + 1).alias("from_account_id"),
        ((pl.col("source") + 1) % parties + 1).alias("to_account_id"),
        (i + 100).alias("amount_minor"),
        pl.lit("EUR").alias("currency"),
        (pl.lit(now) - pl.duration(minutes=i)).alias("value_time"),
        pl.format("{} {} {}", "one", "two", i % 1000).alias("narrative"),
        pl.lit(doc).alias("source_document_id"),
        i.cast(pl.Int32).alias("source_row"),
    )


def _document(session: Session, now: datetime) -> str:
    doc = uuid.uuid4().hex
    key_id = apikey_service.create_key(session, name="bench", role=Role.INGEST, created_by=None)[
        0
    ].id
    session.execute(
        insert(SourceDocument),
        [
            {
                "id": doc,
                "kind": "bench",
                "reference": "B",
                "received_at": now,
                "uploaded_by": key_id,
                "sha256": "0" * 64,
                "media_type": "application/json",
                "size_bytes": 0,
                "row_count": 0,
                "inserted": 0,
                "already_present": 0,
            }
        ],
    )
    return doc


def _search_indexes(session: Session) -> list[str]:
    """The definitions of PostgreSQL's search indexes (GIN), as the migrations made them."""
    rows = session.execute(
        text(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema()"
            " AND indexname LIKE 'ix_search_%'"
        )
    )
    return [r[0] for r in rows]


def _load(session: Session, parties: int, transactions: int, *, defer: bool = False) -> None:
    """Rows go in by each database's bulk path (COPY; one executemany per chunk), through the
    same triggers and indexes as every load: SQLite's FTS5 triggers for parties and accounts,
    and its transaction index filled once per load (app.transaction.bulk.index_for_search)."""
    now = datetime.now(UTC)
    doc = _document(session, now)
    conn = session.connection()
    deferred = _search_indexes(session) if defer and conn.dialect.name == "postgresql" else []
    for definition in deferred:
        conn.execute(text(f"DROP INDEX {definition.split()[2]}"))
    for start in range(0, parties, CHUNK):
        rows = _parties(start, min(parties, start + CHUNK), doc, now)
        write_frame(conn, "parties", rows)
        write_frame(
            conn,
            "accounts",
            rows.select(
                "id",
                ("acct:" + pl.col("id").cast(pl.String)).alias("key"),
                pl.lit("bank").alias("kind"),
                ("Bank " + (pl.col("id") % 50).cast(pl.String)).alias("institution"),
                "source_document_id",
                "created_at",
            ),
        )
        write_frame(
            conn,
            "account_holders",
            rows.select(
                pl.col("id").alias("account_id"),
                pl.col("id").alias("party_id"),
                pl.lit("holder").alias("role"),
                "source_document_id",
            ),
        )
        print(f"  parties {start + CHUNK:,}", flush=True)
    before = last_transaction_id(conn)
    for start in range(0, transactions, TX_CHUNK):
        stop = min(transactions, start + TX_CHUNK)
        write_frame(conn, "transactions", _transactions(start, stop, parties, doc, now))
        print(f"  transactions {stop:,}", flush=True)
    index_for_search(conn, before)  # as every load does (SQLite)
    for definition in deferred:
        # Built whole from the loaded rows: minutes, where filling 10M rows through the GIN
        # pending list takes most of an hour; the index answers the same queries.
        conn.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
        conn.execute(text(definition))
    if conn.dialect.name == "postgresql":
        # Sequences past the ids written here, as a load through the service leaves them.
        for table in ("parties", "accounts", "transactions"):
            sequence = f"pg_get_serial_sequence('{table}', 'id')"
            conn.execute(text(f"SELECT setval({sequence}, max(id)) FROM {table}"))
    session.commit()
    if conn.dialect.name == "postgresql":
        # As autovacuum would after a big load: merges the GIN indexes' pending lists (which
        # every search otherwise reads through), sets hint bits and gathers statistics.
        with session.get_bind().connect() as vacuum:
            vacuum = vacuum.execution_options(isolation_level="AUTOCOMMIT")
            for table in ("parties", "accounts", "account_holders", "transactions"):
                vacuum.execute(text(f"VACUUM ANALYZE {table}"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--parties", type=int, default=100_000)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--url", help="a database URL (default: a new SQLite file)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--no-load", action="store_true", help="query a database loaded before")
    parser.add_argument(
        "--defer-indexes",
        action="store_true",
        help="PostgreSQL: drop the search indexes for the load and build them after it",
    )
    parser.add_argument("--only", help="run only the queries whose label holds this text")
    args = parser.parse_args()
    url = args.url or sqlite_url(Path(tempfile.mkdtemp()) / "search.db")
    migrate.upgrade(url)
    engine = make_engine(url)
    actor = Principal(id="bench", name="bench", role=Role.ANALYST)
    with Session(engine) as session:
        print(f"database: {url}")
        if not args.no_load:
            started = time.perf_counter()
            _load(session, args.parties, args.transactions, defer=args.defer_indexes)
            print(
                f"loaded in {time.perf_counter() - started:.1f} s "
                f"(load average {os.getloadavg()[0]:.1f})"
            )
        rng = random.Random(11)
        for label, kind, make in (
            ("party by name", SearchKind.PARTY, lambda: f"{rng.choice(LAST)} {rng.choice(FIRST)}"),
            (
                "party, one name",
                SearchKind.PARTY,
                lambda: f"{rng.choice(FIRST)} {rng.randrange(9)}",
            ),
            (
                "account by holder",
                SearchKind.ACCOUNT,
                lambda: f"{rng.choice(LAST)} {rng.choice(FIRST)}",
            ),
            ("account by number", SearchKind.ACCOUNT, lambda: f"{rng.randrange(10, args.parties)}"),
            ("account by key", SearchKind.ACCOUNT, lambda: f"acct:{rng.randrange(args.parties)}"),
            (
                "tx by words",
                SearchKind.TRANSACTION,
                lambda: f"{rng.choice(WORDS)} {rng.randrange(1000)}",
            ),
            ("tx by id", SearchKind.TRANSACTION, lambda: f"TX-{rng.randrange(args.transactions)}"),
        ):
            if args.only and args.only not in label:
                continue
            # A first round untimed: the pages a kind of query reads come into the cache
            # (after a load, or after other work pushed them out, the first round reads disk).
            for _ in range(args.queries):
                search(session, make(), kind, actor=actor, limit=20, cursor=None)
            times = []
            for _ in range(args.queries):
                q = make()
                t = time.perf_counter()
                search(session, q, kind, actor=actor, limit=20, cursor=None)
                times.append((time.perf_counter() - t) * 1000)
            times.sort()
            print(
                f"{label}: p50 {statistics.median(times):.1f} ms, "
                f"p95 {times[int(len(times) * 0.95)]:.1f} ms "
                f"(load average {os.getloadavg()[0]:.1f})",
                flush=True,
            )
    engine.dispose()


if __name__ == "__main__":
    main()
