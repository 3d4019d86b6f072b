"""The search finds what a later document of the row's own compartment stated of an account
(issue 19): a pool account a transaction upload created, named by a later pool account batch,
is found by that name; once an admin refiles the naming document into a case, the pool's
search no longer finds it, while the case's member still reads the name."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.principal import Role
from tests.app.access.compartment_world import CASE_A, source
from tests.factories import DE, FR, batch, bearer, make_key, tx

NAMING = {
    "source": source("POOL-NAMES"),
    "parties": [
        {"key": "person:p17", "kind": "person", "name": "Anna Bergström"},
    ],
    "accounts": [{"key": DE, "name": "Kingfisher Holdings", "institution": "Nordbank"}],
}


@pytest.fixture
def keys(client: TestClient, session: Session) -> dict[str, Any]:
    admin = bearer(make_key(session))
    lead = bearer(make_key(session, Role.INVESTIGATOR, name="lead"))
    pool = bearer(make_key(session, Role.ANALYST, name="pool"))
    case = client.post("/api/v1/cases", json=CASE_A, headers=lead).json()["id"]
    # The pool's transaction upload creates DE (no name); the pool's account batch names it.
    rows = batch(tx("WIRE-1", DE, FR, "10.00"), reference="POOL-TX")
    assert client.post("/api/v1/transactions/batch", json=rows, headers=admin).status_code == 201
    r = client.post("/api/v1/accounts/batch", json=NAMING, headers=admin)
    assert r.status_code == 201, r.text
    return {"admin": admin, "lead": lead, "pool": pool, "case": case, "naming": r.json()}


def _found(client: TestClient, key: dict[str, str], q: str) -> list[str]:
    r = client.get("/api/v1/search", params={"q": q, "kind": "account"}, headers=key)
    assert r.status_code == 200, r.text
    return [h["key"] for h in r.json()["items"]]


def test_the_search_finds_a_name_a_later_pool_document_stated(
    client: TestClient, keys: dict[str, Any]
) -> None:
    for who in ("pool", "admin", "lead"):
        assert _found(client, keys[who], "Kingfisher") == [DE]
        assert _found(client, keys[who], "nordbank") == [DE]


def test_the_name_leaves_the_pools_search_with_its_document_refiled_into_a_case(
    client: TestClient, keys: dict[str, Any]
) -> None:
    document = keys["naming"]["source_document_id"]
    body = {"case_id": keys["case"], "reason": "the court order covers it"}
    r = client.post(f"/api/v1/sources/{document}/compartment", json=body, headers=keys["admin"])
    assert r.status_code == 200, r.text
    assert _found(client, keys["pool"], "Kingfisher") == []
    assert _found(client, keys["pool"], "nordbank") == []
    r = client.get(f"/api/v1/accounts/{DE}", headers=keys["pool"])
    assert (r.json()["name"], r.json()["institution"]) == (None, None)
    # The case's member reads the name (the document's statement), as the admin does.
    for who in ("lead", "admin"):
        r = client.get(f"/api/v1/accounts/{DE}", headers=keys[who])
        assert r.json()["name"] == "Kingfisher Holdings"
    # Refiled back into the pool, the name is the pool's statement again (no longer on the row,
    # so not found by the search: a statement's names are not indexed).
    body = {"case_id": None, "reason": "filed in error"}
    r = client.post(f"/api/v1/sources/{document}/compartment", json=body, headers=keys["admin"])
    assert r.status_code == 200, r.text
    r = client.get(f"/api/v1/accounts/{DE}", headers=keys["pool"])
    assert r.json()["name"] == "Kingfisher Holdings"
