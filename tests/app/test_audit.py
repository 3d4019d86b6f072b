"""The audit trail end to end: a real database, real requests, a tampered row."""

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app import migrate
from app.apikey import service as apikey_service
from app.main import create_app
from app.principal import Role
from app.settings import Settings
from tests.conftest import fresh_database
from tests.factories import DE, FR, batch, bearer, tx


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str], dict[str, str]]]:
    with fresh_database(tmp_path) as url:
        migrate.upgrade(url)
        settings = Settings(database_url=url, bootstrap_admin_key=False, trace_warm_ledger=False)
        with TestClient(create_app(settings)) as client:
            with client.app.state.sessionmaker() as session:  # type: ignore[attr-defined]
                _, admin = apikey_service.create_key(
                    session, name="a", role=Role.ADMIN, created_by=None
                )
                _, analyst = apikey_service.create_key(
                    session, name="b", role=Role.ANALYST, created_by=None
                )
            yield client, bearer(admin), bearer(analyst)


def entries(client: TestClient, key: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    r = client.get("/api/v1/audit", headers=key, params={"limit": 1000, **params})
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_requests_are_recorded_with_who_what_and_outcome(live) -> None:
    client, admin, analyst = live
    body = batch(tx("A-1", DE, FR, "10.00"))
    stored = client.post("/api/v1/transactions/batch", json=body, headers=admin)
    client.get(f"/api/v1/accounts/{DE}", headers=analyst)
    client.get("/api/v1/accounts/iban:DE00000000000000000000", headers=analyst)
    client.get("/api/v1/audit", headers=analyst)
    client.get("/api/v1/sources", headers={"Authorization": "Bearer mt_forged"})
    log = list(reversed(entries(client, admin)))
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
    by_key = entries(client, admin, operation="get_account")
    assert {e["operation"] for e in by_key} == {"get_account"}


def test_the_chain_verifies_and_a_tampered_row_is_found(live) -> None:
    client, admin, _ = live
    for i in range(5):
        client.get(f"/api/v1/transactions/T-{i}", headers=admin)
    ok = client.get("/api/v1/audit/verify", headers=admin).json()
    assert ok["valid"] is True
    assert ok["entries"] >= 5
    victim = next(e for e in entries(client, admin) if e["path"] == "/api/v1/transactions/T-2")
    engine = client.app.state.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # The database refuses the application's own role; an intruder would drop the guard.
            with pytest.raises(Exception, match="append-only"), conn.begin_nested():
                conn.execute(
                    text("UPDATE audit_entries SET outcome = 200 WHERE id = :i"),
                    {"i": victim["id"]},
                )
            conn.execute(
                text("ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only")
            )
        conn.execute(
            text("UPDATE audit_entries SET outcome = 200 WHERE id = :i"), {"i": victim["id"]}
        )
    broken = client.get("/api/v1/audit/verify", headers=admin).json()
    assert broken["valid"] is False
    assert broken["first_broken"]["id"] == victim["id"]
    assert "content" in broken["first_broken"]["reason"]
