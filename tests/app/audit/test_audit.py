"""The audit trail end to end: a real database, real requests, a tampered row."""

import hashlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.audit import service as audit_service
from app.audit.chain import FIELDS
from app.audit.repository import AuditRepository
from app.audit.writer import GroupWriter
from app.source import service as source_service
from app.transaction import service as transaction_service
from tests.app.auditing import AUDIT_TABLES, Live, intruder, live_app
from tests.factories import DE, FR, batch, tx


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    # JSON bodies over 64 KiB are refused on their declared length.
    with live_app(tmp_path, upload_max_bytes=1024, json_body_max_bytes=64 * 1024) as app:
        yield app


def test_requests_are_recorded_with_who_what_and_outcome(live: Live) -> None:
    client, admin, analyst = live.client, live.admin, live.analyst
    body = batch(tx("A-1", DE, FR, "10.00"))
    stored = client.post("/api/v1/transactions/batch", json=body, headers=admin)
    client.get(f"/api/v1/accounts/{DE}", headers=analyst)
    client.get("/api/v1/accounts/iban:DE00000000000000000000", headers=analyst)
    client.get("/api/v1/audit", headers=analyst)
    client.get("/api/v1/sources", headers={"Authorization": "Bearer mt_forged"})
    log = live.entries()
    write = next(e for e in log if e["operation"] == "create_transaction_batch")
    assert (write["method"], write["outcome"], write["role"]) == ("POST", 201, "admin")
    assert write["request_id"] == stored.headers["x-request-id"]
    assert write["body_sha256"] == hashlib.sha256(stored.request.content).hexdigest()
    reads = [e for e in log if e["operation"] == "get_account"]
    assert [(e["outcome"], e["resource"]) for e in reads] == [
        (200, f"account={DE}"),
        (404, "account=iban:DE00000000000000000000"),
    ]
    assert any(e["operation"] == "list_audit_entries" and e["outcome"] == 403 for e in log)
    assert any(e["outcome"] == 401 and e["key_id"] is None for e in log)
    by_key = live.entries(operation="get_account")
    assert {e["operation"] for e in by_key} == {"get_account"}


def test_a_body_refused_on_its_declared_length_is_audited(live: Live) -> None:
    too_big = b"x" * (64 * 1024 + 1)
    r = live.client.post("/api/v1/transactions/batch", content=too_big, headers=live.admin)
    assert r.status_code == 413
    (entry,) = [e for e in live.entries() if e["request_id"] == r.headers["x-request-id"]]
    assert (entry["outcome"], entry["method"]) == (413, "POST")
    assert entry["path"] == "/api/v1/transactions/batch"
    assert live.verify()["valid"] is True


def test_a_request_answered_500_is_audited(live: Live, monkeypatch) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("a defect")

    monkeypatch.setattr(source_service, "page_sources", broken)
    r = live.client.get("/api/v1/sources", headers=live.analyst)
    assert r.status_code == 500
    (entry,) = [e for e in live.entries() if e["request_id"] == r.headers["x-request-id"]]
    assert (entry["operation"], entry["outcome"], entry["role"]) == (
        "list_source_documents",
        500,
        "analyst",
    )


def test_requests_outside_the_api_and_unroutable_ones_are_audited(live: Live) -> None:
    r = live.client.get("/wp-login.php", headers=live.analyst)
    nul = live.client.get("/api/v1/transactions/NUL%00X", headers=live.analyst)
    assert r.status_code == 404
    log = {e["request_id"]: e for e in live.entries()}
    assert log[r.headers["x-request-id"]]["operation"] == "unmatched"
    # A NUL in the path is kept, escaped, where PostgreSQL could not store it raw.
    assert log[nul.headers["x-request-id"]]["path"] == "/api/v1/transactions/NUL\\x00X"
    live.client.get("/healthz")
    live.client.get("/openapi.json")
    assert not [e for e in live.entries() if e["path"] in ("/healthz", "/openapi.json")]


def test_a_change_commits_with_its_entry(live: Live) -> None:
    """A process that dies once the data is committed, before it answers: the entry is there."""

    def dies(_fields: object) -> None:
        raise RuntimeError("killed before the answer")

    live.client.app.state.audit_sink = dies  # type: ignore[attr-defined]
    body = batch(tx("K-1", DE, FR, "10.00"), reference="KILL-1")
    r = live.client.post("/api/v1/transactions/batch", json=body, headers=live.admin)
    live.client.app.state.audit_sink = audit_service.database_sink(  # type: ignore[attr-defined]
        live.client.app.state.writer_sessions  # type: ignore[attr-defined]
    )
    with live.engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM transactions")).scalar_one()
        ids = conn.execute(
            text("SELECT request_id FROM audit_entries WHERE operation = :o"),
            {"o": "create_transaction_batch"},
        ).scalars()
        assert stored == 1
        assert list(ids) == [r.headers["x-request-id"]]
    assert live.verify()["valid"] is True


def test_a_failure_after_the_commit_leaves_both_entries(live: Live, monkeypatch) -> None:
    ingest = transaction_service.ingest_batch

    def commits_then_fails(*args: object, **kwargs: object) -> None:
        ingest(*args, **kwargs)  # type: ignore[arg-type]
        raise RuntimeError("after the commit")

    monkeypatch.setattr(transaction_service, "ingest_batch", commits_then_fails)
    body = batch(tx("F-1", DE, FR, "10.00"), reference="FAIL-1")
    r = live.client.post("/api/v1/transactions/batch", json=body, headers=live.admin)
    assert r.status_code == 500
    mine = [e for e in live.entries() if e["request_id"] == r.headers["x-request-id"]]
    # What was committed (the route's 201), then what the client was answered.
    assert [e["outcome"] for e in mine] == [201, 500]


def test_a_refused_write_leaves_one_entry_and_no_data(live: Live) -> None:
    body = batch(tx("D-1", DE, FR, "not money"))
    r = live.client.post("/api/v1/transactions/batch", json=body, headers=live.admin)
    assert r.status_code == 422, r.text
    mine = [e for e in live.entries() if e["request_id"] == r.headers["x-request-id"]]
    assert [e["outcome"] for e in mine] == [422]


def test_concurrent_writers_never_fork_the_chain(live: Live) -> None:
    answers: list[str] = []

    def write(n: int) -> None:
        for i in range(5):
            body = batch(tx(f"C-{n}-{i}", DE, FR, "1.00"), reference=f"C-{n}-{i}")
            r = live.client.post("/api/v1/transactions/batch", json=body, headers=live.admin)
            answers.append(f"{r.status_code} {r.headers['x-request-id']}")
            live.client.get("/api/v1/sources", headers=live.analyst)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a.split()[0] for a in answers) == ["201"] * 20
    result = live.verify()
    assert result["valid"] is True
    ids = [e["request_id"] for e in live.entries(operation="create_transaction_batch")]
    assert sorted(ids) == sorted(a.split()[1] for a in answers)


@pytest.mark.parametrize("table", AUDIT_TABLES)
def test_the_audit_tables_refuse_update_and_delete(live: Live, table: str) -> None:
    live.client.get("/api/v1/sources", headers=live.admin)
    audit_service.take_checkpoint(
        live.client.app.state.writer_sessions,  # type: ignore[attr-defined]
        live.client.app.state.audit_signer,  # type: ignore[attr-defined]
    )
    for statement in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}"):
        with pytest.raises(Exception, match="append-only"), live.engine.begin() as conn:
            conn.execute(text(statement))


def test_the_chain_verifies_and_a_tampered_row_is_found(live: Live) -> None:
    for i in range(5):
        live.client.get(f"/api/v1/transactions/T-{i}", headers=live.admin)
    ok = live.verify()
    assert ok["valid"] is True
    assert ok["entries"] >= 5
    victim = next(e for e in live.entries() if e["path"] == "/api/v1/transactions/T-2")
    with intruder(live.engine) as conn:
        conn.execute(
            text("UPDATE audit_entries SET outcome = 200 WHERE id = :i"), {"i": victim["id"]}
        )
    broken = live.verify()
    assert broken["valid"] is False
    assert broken["first_broken"]["id"] == victim["id"]
    assert "content" in broken["first_broken"]["reason"]


def test_reads_waiting_together_are_committed_as_one_batch(live: Live, monkeypatch) -> None:
    state = live.client.app.state  # type: ignore[attr-defined]
    writer = GroupWriter(state.writer_sessions, max_batch=100)
    first_batch_started, release = threading.Event(), threading.Event()
    append_batch = audit_service.append_batch
    sizes: list[int] = []

    def held_first(connection: object, entries: list[dict[str, object]]) -> None:
        sizes.append(len(entries))
        if len(sizes) == 1:
            first_batch_started.set()
            release.wait(30)
        append_batch(connection, entries)  # type: ignore[arg-type]

    monkeypatch.setattr(audit_service, "append_batch", held_first)
    template = dict.fromkeys(FIELDS) | {
        "at": datetime.now(UTC),
        "operation": "get_account",
        "method": "GET",
        "path": "/api/v1/accounts/x",
        "outcome": 200,
    }
    first = writer.submit({**template, "request_id": "group-0"})
    assert first_batch_started.wait(30)
    waiting = [writer.submit({**template, "request_id": f"group-{i}"}) for i in range(1, 21)]
    # None of them is durable yet, so none is answered: they wait for the batch in flight.
    assert not any(f.done() for f in [first, *waiting])
    release.set()
    for f in [first, *waiting]:
        f.result(timeout=30)
    writer.stop()
    assert sizes == [1, 20]
    assert writer.batches == 2
    ids = [e["request_id"] for e in live.entries(operation="get_account")]
    assert ids == [f"group-{i}" for i in range(21)]
    assert live.verify()["valid"] is True


def test_a_failed_batch_fails_each_of_its_requests(live: Live, monkeypatch) -> None:
    def broken(*_args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(audit_service, "append_batch", broken)
    writer = GroupWriter(live.client.app.state.writer_sessions)  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError, match="disk full"):
        writer(dict.fromkeys(FIELDS))
    writer.stop()


def test_the_chain_is_read_in_order_across_chunks(session: Session) -> None:
    """The replay reads entries a chunk at a time, each after the last id of the one before."""
    fields = dict.fromkeys(FIELDS)
    entries = [
        {**fields, "at": datetime.now(UTC), "operation": f"op{i}", "method": "GET", "path": "/x"}
        | {"outcome": 200, "request_id": f"r{i}"}
        for i in range(5)
    ]
    audit_service.append_all_in(session, entries)
    found = [e.operation for e in AuditRepository(session).in_order(chunk=2)]
    assert found[-5:] == [f"op{i}" for i in range(5)]
    assert found == [e.operation for e in AuditRepository(session).in_order(chunk=1000)]
