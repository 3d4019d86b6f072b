"""No request waits for another's long work (issue 23; issue 13, item 6).

A big upload on SQLite is stored in committed slices under a staging document and published by
one short flip, so that reads (whose audit entries need the write lock) and small writes get in
between two slices instead of waiting for the whole load; on PostgreSQL the load is one
transaction that holds nothing they need. Either way no read sees the load before it is whole.
"""

import re
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.db import make_engine, make_sessionmaker
from app.principal import Principal, Role
from app.source import service as source_service
from app.source.schemas import SourceIn
from app.source.service import Upload
from app.transaction import staged
from app.transaction.ingest import validate_transactions
from tests.factories import DE, FR, batch, tx
from tests.isolated import BATCH, bulk_transactions, count, lock_waiting_app

# Enough rows that one transaction holding them all outlasts LOCK_WAIT_SECONDS several times.
ROWS = 150_000
LOCK_WAIT_SECONDS = 1.0
FIRST = "BIG-0000000"


def _app(database: str, tmp_path: Path) -> Any:
    return lock_waiting_app(database, tmp_path, lock_wait_seconds=LOCK_WAIT_SECONDS)


def test_reads_and_small_writes_are_answered_while_a_big_upload_is_stored(
    isolated_database, isolated_key, tmp_path, monkeypatch
) -> None:
    # Smaller slices than in production, so that many fall within the test's upload.
    monkeypatch.setattr(staged, "SLICE_ROWS", 5_000)
    path = tmp_path / "big.csv"
    bulk_transactions(ROWS, ids="BIG-", accounts="acct:big-").write_csv(path)
    app = _app(isolated_database, tmp_path)
    with TestClient(app, raise_server_exceptions=False) as client:
        first = client.post(BATCH, json=batch(tx("S-0", DE, FR, "9.00")), headers=isolated_key)
        assert first.status_code == 201, first.text
        # The first trace compiles the engine's kernels: done before the clock matters.
        warm = client.post("/api/v1/traces", headers=isolated_key, json=_seeded("S-0"))
        assert warm.status_code == 201, warm.text
        answers: dict[str, int] = {}

        def upload() -> None:
            with path.open("rb") as f:
                r = client.post(
                    "/api/v1/transactions/upload",
                    headers=isolated_key,
                    files={"file": ("big.csv", f)},
                    data={"kind": "bank_statement", "reference": "BIG-1"},
                )
            answers["upload"] = r.status_code

        loader = threading.Thread(target=upload)
        loader.start()
        seen: list[tuple[str, int]] = []
        rounds = 0
        while loader.is_alive():
            rounds += 1
            seen.append(("cases", client.get("/api/v1/cases", headers=isolated_key).status_code))
            small = batch(tx(f"S-{rounds}", DE, FR, "1.00"), reference=f"SMALL-{rounds}")
            seen.append(("batch", client.post(BATCH, json=small, headers=isolated_key).status_code))
            # Not one row of the upload is readable before the upload is answered.
            seen.append(
                ("staged row", client.get(f"{TX}/{FIRST}", headers=isolated_key).status_code)
            )
            trace = client.post("/api/v1/traces", headers=isolated_key, json=_seeded("S-0"))
            seen.append(("trace", trace.status_code))
        loader.join()
        assert answers["upload"] == 201
        assert rounds >= 3, "the upload ended before the other requests could overlap it"
        expected = {"cases": 200, "batch": 201, "trace": 201}
        assert [(w, status) for w, status in seen if expected.get(w, status) != status] == []
        # Absent until published, then there (the answer may still be on its way).
        staged_row = "".join(str(status) for w, status in seen if w == "staged row")
        assert re.fullmatch("(404)+(200)*", staged_row), staged_row
        # Published whole: readable, and in the ledger the engine was kept warm on meanwhile.
        assert client.get(f"{TX}/{FIRST}", headers=isolated_key).status_code == 200
        trace = client.post("/api/v1/traces", headers=isolated_key, json=_seeded(FIRST))
        assert trace.status_code == 201, trace.text
    assert count(isolated_database, "transactions") == ROWS + rounds + 1
    assert count(isolated_database, "source_documents WHERE state <> 'committed'") == 0


TX = "/api/v1/transactions"


def _seeded(external_id: str) -> dict[str, Any]:
    return {"seeds": [{"transaction": external_id}], "rule": "fifo"}


def test_an_interrupted_staged_load_is_invisible_and_removed_at_start(
    isolated_database, isolated_key, tmp_path, monkeypatch
) -> None:
    """The state a process killed between two slices leaves: rows, accounts and a staging
    document of a loader that no longer runs. Nothing of it is readable; a start removes it."""
    monkeypatch.setattr(staged, "SLICE_ROWS", 1_000)
    engine = make_engine(isolated_database)
    sessions = make_sessionmaker(engine, writer=True)
    rows = validate_transactions(
        bulk_transactions(5_000, ids="BIG-", accounts="acct:big-"), timezone=None, max_errors=10
    )
    with sessions() as session:
        actor_id = session.execute(text("SELECT id FROM api_keys")).scalar_one()
        document = source_service.record_source(
            session,
            SourceIn(kind="bank_statement", reference="HALF"),
            Upload("0" * 64, 1, "text/csv"),
            rows=rows.height,
            actor=Principal(id=actor_id, name="test", role=Role.ADMIN),
            loader="gone:999999999",
        )
        session.commit()
        # PostgreSQL loads in one transaction: a kill there leaves the staging document alone.
        stored = 3_000 if isolated_database.startswith("sqlite") else 0
        staged.load(session, session, rows.head(stored), document_id=document.id, conflict_limit=10)
    engine.dispose()
    assert count(isolated_database, "transactions") == stored
    # The loader runs on another host as far as this start can tell: its load is left alone.
    with TestClient(_app(isolated_database, tmp_path), raise_server_exceptions=False) as client:
        assert client.get(f"{TX}/{FIRST}", headers=isolated_key).status_code == 404
        assert client.get("/api/v1/sources", headers=isolated_key).json()["items"] == []
        account = client.get("/api/v1/accounts/acct:big-1", headers=isolated_key)
        if stored:  # an account appears with its slice, with no transaction until published
            assert account.status_code == 200, account.text
            assert account.json()["totals"] == [], account.json()
        trace = client.post("/api/v1/traces", headers=isolated_key, json=_seeded(FIRST))
        assert trace.json()["code"] == "unknown_seed", trace.text
    assert count(isolated_database, "transactions") == stored
    # Started again on the loader's host, whose process is gone: the load is removed.
    monkeypatch.setattr(staged.socket, "gethostname", lambda: "gone")
    with TestClient(_app(isolated_database, tmp_path), raise_server_exceptions=False) as client:
        assert client.get("/api/v1/accounts/acct:big-1", headers=isolated_key).status_code == 404
    for table in ("transactions", "accounts"):
        assert count(isolated_database, table) == 0, table
    # The document stays as the record that a file was received, and is listed nowhere.
    assert count(isolated_database, "source_documents WHERE state = 'abandoned'") == 1


def test_sqlite_runs_in_wal_mode_for_every_connection(isolated_database) -> None:
    """Readers never wait for a writer only in WAL mode; the mode lives in the file, so a
    connection that sets nothing (a backup tool, the CLI's raw reads) finds it too."""
    if not isolated_database.startswith("sqlite"):
        pytest.skip("WAL is SQLite's journal")
    engine = make_engine(isolated_database)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() > 0
    engine.dispose()
    plain = sqlite3.connect(make_url(isolated_database).database or "")
    try:
        assert plain.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        plain.close()
