import time
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.principal import Role
from tests.factories import DE, FR, batch, bearer, make_key, tx


def test_every_api_route_needs_a_key(client: TestClient) -> None:
    for path in (
        "/api/v1/keys",
        "/api/v1/sources",
        f"/api/v1/accounts/{DE}",
        "/api/v1/transactions/T-1",
    ):
        r = client.get(path)
        assert r.status_code == 401, path
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json()["code"] == "unauthorized"


def test_unknown_key_is_refused(client: TestClient) -> None:
    r = client.get("/api/v1/sources", headers=bearer("mt_not-a-real-key"))
    assert r.status_code == 401


def test_created_key_works_until_revoked(client: TestClient, session: Session) -> None:
    admin = bearer(make_key(session, Role.ADMIN))
    created = client.post("/api/v1/keys", json={"name": "ws3", "role": "analyst"}, headers=admin)
    assert created.status_code == 201
    body = created.json()
    assert body["key"].startswith("mt_")
    analyst = bearer(body["key"])
    assert client.get("/api/v1/sources", headers=analyst).status_code == 200
    listed = client.get("/api/v1/keys", headers=admin).json()
    assert body["id"] in [k["id"] for k in listed]
    assert all("key" not in k for k in listed)
    assert client.post(f"/api/v1/keys/{body['id']}/revoke", headers=admin).status_code == 200
    assert client.get("/api/v1/sources", headers=analyst).status_code == 401


def test_expired_key_is_refused(client: TestClient, session: Session) -> None:
    key = make_key(session, Role.ANALYST, expires_at=datetime.now(UTC) + timedelta(milliseconds=1))
    time.sleep(0.01)
    assert client.get("/api/v1/sources", headers=bearer(key)).status_code == 401


@pytest.mark.parametrize(
    ("role", "write", "read", "keys"),
    [
        (Role.ADMIN, 201, 200, 200),
        (Role.SUPERVISOR, 201, 200, 403),
        (Role.INVESTIGATOR, 201, 200, 403),
        (Role.ANALYST, 403, 200, 403),
        (Role.INGEST, 201, 403, 403),
    ],
)
def test_roles_decide_what_a_key_may_do(
    client: TestClient, session: Session, role: Role, write: int, read: int, keys: int
) -> None:
    key = bearer(make_key(session, role))
    r = client.post(
        "/api/v1/transactions/batch", json=batch(tx("R-1", DE, FR, "1.00")), headers=key
    )
    assert r.status_code == write
    assert client.get(f"/api/v1/accounts/{DE}", headers=key).status_code in {read, 404}
    assert client.get("/api/v1/keys", headers=key).status_code == keys


def test_ingest_keys_see_only_their_own_sources(client: TestClient, session: Session) -> None:
    mine, other = bearer(make_key(session, Role.INGEST)), bearer(make_key(session, Role.INGEST))
    doc = client.post(
        "/api/v1/transactions/batch", json=batch(tx("I-1", DE, FR, "1")), headers=mine
    )
    doc_id = doc.json()["source_document_id"]
    assert client.get(f"/api/v1/sources/{doc_id}", headers=mine).status_code == 200
    assert client.get(f"/api/v1/sources/{doc_id}", headers=other).status_code == 404
    assert client.get("/api/v1/sources", headers=other).json()["items"] == []
