"""Search latency: p50/p95 of GET /api/v1/search's query (app.search.service) over a ledger of
N parties and M transactions, on SQLite or PostgreSQL.

    python benchmarks/search.py --parties 100000 --transactions 1000000 [--url URL]

The target (issue 18) is 1M parties and 10M transactions at <= 50 ms p50. Rows are written by
plain inserts, so the search indexes (triggers on SQLite, GIN indexes on PostgreSQL) fill as on
every write path.
"""

import argparse
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.orm import Session

from app import migrate
from app.account.models import Account, AccountHolder
from app.apikey import service as apikey_service
from app.db import make_engine
from app.party.models import Party
from app.party.names import search_text
from app.principal import Principal, Role
from app.search.schemas import SearchKind
from app.search.service import search
from app.settings import sqlite_url
from app.source.models import SourceDocument
from app.transaction.bulk import index_for_search, last_transaction_id
from app.transaction.models import Transaction

FIRST = ["Anna", "Vladimir", "Jürgen", "Maria", "Ahmed", "Elena", "Jan", "Sofia", "Olga", "Ivan"]
LAST = ["Petrov", "Müller", "Berg", "Rossi", "Haddad", "Novak", "Smith", "Kowalski", "Costa"]
WORDS = ["invoice", "loan", "rent", "consulting", "fee", "refund", "salary", "transfer", "gift"]
CHUNK = 20_000


def _load(session: Session, parties: int, transactions: int) -> None:
    rng = random.Random(7)
    doc = uuid.uuid4().hex
    key_id = apikey_service.create_key(session, name="bench", role=Role.INGEST, created_by=None)[
        0
    ].id
    now = datetime.now(UTC)
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
    for start in range(0, parties, CHUNK):
        rows = []
        for i in range(start, min(parties, start + CHUNK)):
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)} {i}"
            rows.append(
                {
                    "id": i + 1,
                    "key": f"person:{i}",
                    "kind": "person",
                    "name": name,
                    "identifiers": {},
                    "search_text": search_text(name),
                    "source_document_id": doc,
                    "created_at": now,
                }
            )
        session.execute(insert(Party), rows)
        session.execute(
            insert(Account),
            [
                {
                    "id": r["id"],
                    "key": f"acct:{r['id']}",
                    "kind": "bank",
                    "institution": "Bank " + str(r["id"] % 50),
                    "source_document_id": doc,
                    "created_at": now,
                }
                for r in rows
            ],
        )
        session.execute(
            insert(AccountHolder),
            [
                {
                    "account_id": r["id"],
                    "party_id": r["id"],
                    "role": "holder",
                    "source_document_id": doc,
                }
                for r in rows
            ],
        )
    before = last_transaction_id(session.connection())
    for start in range(0, transactions, CHUNK):
        session.execute(
            insert(Transaction),
            [
                {
                    "id": i + 1,
                    "external_id": f"TX-{i}",
                    "from_account_id": (src := rng.randrange(parties) + 1),
                    "to_account_id": src % parties + 1,
                    "amount_minor": 100 + i,
                    "currency": "EUR",
                    "value_time": now - timedelta(minutes=i),
                    "narrative": f"{rng.choice(WORDS)} {rng.choice(WORDS)} {i % 1000}",
                    "source_document_id": doc,
                    "source_row": i,
                }
                for i in range(start, min(transactions, start + CHUNK))
            ],
        )
    index_for_search(session.connection(), before)  # as every load does (SQLite)
    session.commit()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--parties", type=int, default=100_000)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--url", help="a database URL (default: a new SQLite file)")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--no-load", action="store_true", help="query a database loaded before")
    args = parser.parse_args()
    url = args.url or sqlite_url(Path(tempfile.mkdtemp()) / "search.db")
    migrate.upgrade(url)
    engine = make_engine(url)
    actor = Principal(id="bench", name="bench", role=Role.ANALYST)
    with Session(engine) as session:
        print(f"database: {url}")
        if not args.no_load:
            started = time.perf_counter()
            _load(session, args.parties, args.transactions)
            print(f"loaded in {time.perf_counter() - started:.1f} s")
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
            times = []
            for _ in range(args.queries):
                q = make()
                t = time.perf_counter()
                search(session, q, kind, actor=actor, limit=20, cursor=None)
                times.append((time.perf_counter() - t) * 1000)
            times.sort()
            print(
                f"{label}: p50 {statistics.median(times):.1f} ms, "
                f"p95 {times[int(len(times) * 0.95)]:.1f} ms"
            )
    engine.dispose()


if __name__ == "__main__":
    main()
