"""What duplicate detection costs a load, where it has work to do.

`benchmarks.ingest` loads one document into an empty ledger, where detection finds no other
document and stops at one look-up. This measures the other case: a first document of N rows
(the synthetic ledger) is stored, then a second document restating half of its transfers under
new external ids (every one a probable duplicate) plus N/2 new ones is loaded through
`app.transaction.bulk.load_transactions`, with detection (the default tolerance, one day) and
without it, into fresh databases. The clock covers the second load and its commit only.
``--empty`` loads the one document into an empty ledger instead (the ingest benchmark's case).

Usage (PostgreSQL at 127.0.0.1:5432, user postgres, trust auth)::

    .venv/bin/python -m benchmarks.duplicates --rows 100000 --db sqlite,postgresql
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import psycopg

from app import migrate
from app.account.numbers import AccountCheck
from app.apikey import service as apikey_service
from app.db import make_engine, make_sessionmaker
from app.principal import Role
from app.source.models import SourceDocument
from app.transaction.bulk import load_transactions
from app.transaction.ingest import validate_transactions
from benchmarks.synthetic import generate_ledger

TOLERANCE = 86_400


@contextlib.contextmanager
def fresh_database(kind: str, folder: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{folder / f'{uuid.uuid4().hex}.db'}"
        return
    name = f"bench_dup_{uuid.uuid4().hex[:12]}"
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def _document(session: object, key_id: str, reference: str) -> str:
    document = SourceDocument(
        id=uuid.uuid4().hex,
        kind="bank_statement",
        reference=reference,
        received_at=datetime.now(UTC),
        uploaded_by=key_id,
        sha256="0" * 64,
        media_type="text/csv",
        size_bytes=0,
        row_count=0,
        inserted=0,
        already_present=0,
    )
    session.add(document)  # type: ignore[attr-defined]
    session.flush()  # type: ignore[attr-defined]
    return document.id


def _validated(frame: pl.DataFrame) -> pl.DataFrame:
    text = frame.with_columns(
        pl.col("amount").cast(pl.String),
        pl.col("value_time").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        pl.col("sequence").cast(pl.String),
    )
    # The synthetic IBANs carry made-up check digits: stored and flagged, as a real statement's
    # malformed foreign numbers are.
    return validate_transactions(
        text, timezone=None, max_errors=10, account_check=AccountCheck.WARN
    )


def one_run(kind: str, rows: int, *, detect: bool, folder: Path, empty: bool = False) -> float:
    ledger = generate_ledger(rows)
    first = _validated(ledger)
    half = ledger.head(rows // 2).with_columns(pl.format("B-{}", "external_id"))
    fresh = generate_ledger(rows // 2, seed=7).with_columns(pl.format("N-{}", "external_id"))
    second = first if empty else _validated(pl.concat([half, fresh]))
    with fresh_database(kind, folder) as url:
        migrate.upgrade(url)
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        try:
            with sessions() as session:
                key, _ = apikey_service.create_key(
                    session, name="bench", role=Role.INGEST, created_by=None
                )
                if not empty:
                    doc = _document(session, key.id, "A")
                    load_transactions(session, first, source_document_id=doc, conflict_limit=10)
                doc = _document(session, key.id, "B")
                session.commit()
                started = time.perf_counter()
                counts, _ = load_transactions(
                    session,
                    second,
                    source_document_id=doc,
                    conflict_limit=10,
                    duplicate_tolerance=TOLERANCE if detect else None,
                )
                session.commit()
                elapsed = time.perf_counter() - started
                assert counts.inserted == second.height
        finally:
            engine.dispose()
    return elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--empty",
        action="store_true",
        help="one document into an empty ledger (benchmarks.ingest's case), no first document",
    )
    args = parser.parse_args(argv)
    if args.empty:
        print(f"one document of {args.rows} rows into an empty ledger")
    else:
        print(f"second document: {args.rows} rows, half of them restating the first document's")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.db.split(","):
            runs: dict[bool, list[float]] = {False: [], True: []}
            # alternating (ABBA): the first load of a process pays for its imports and caches
            for i in range(args.repeat):
                for detect in (False, True) if i % 2 == 0 else (True, False):
                    runs[detect].append(
                        one_run(kind, args.rows, detect=detect, folder=Path(tmp), empty=args.empty)
                    )
            off, on = statistics.median(runs[False]), statistics.median(runs[True])
            print(
                f"{kind:10} without detection {off:6.2f} s ({args.rows / off:9,.0f} rows/s)"
                f"  with {on:6.2f} s ({args.rows / on:9,.0f} rows/s)  +{(on / off - 1):.0%}"
            )


if __name__ == "__main__":
    main()
