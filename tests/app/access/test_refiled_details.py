"""Details follow the document that stated them, after a refiling too (issue 19, review of the
refiling): a document that created an account or party row is refiled, and what OTHER documents
of its old compartment stated of that row stays with them, in their compartment.

Case A: doc1 creates account DE (its currency) and party p17 (her name and identity number),
doc2 states the account's name and institution and the party's country and tax number. An
admin refiles doc1 to the shared pool: a reader of the pool alone reads doc1's details and
nothing of doc2's; a member of A reads both. And the other way: the pool's doc1 created the
row, the pool's doc2 stated details of it, doc1 goes into case A.
"""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.principal import Role
from tests.app.casework import Api, criminal_case
from tests.app.convergence.test_blind_convergence import Person
from tests.factories import DE, bearer, make_key

P17 = "person:p17"
DOC1 = {
    "parties": [
        {"key": P17, "kind": "person", "name": "Anna Bergström", "identifiers": {"id": "L01"}}
    ],
    "accounts": [{"key": DE, "currency": "EUR", "holders": [{"party": P17}]}],
}
DOC2 = {
    "parties": [
        {
            "key": P17,
            "kind": "person",
            "name": "Anna Bergström",
            "country": "SE",
            "identifiers": {"tax": "T77"},
        }
    ],
    "accounts": [{"key": DE, "name": "Kingfisher Holdings", "institution": "Nordbank"}],
}
DOC2_SECRETS = ("Kingfisher", "Nordbank", "T77", '"SE"')


def _batch(case_id: int | None, reference: str, records: dict[str, Any]) -> dict[str, Any]:
    source = {"kind": "bank_production", "reference": reference, "case_id": case_id}
    return {"source": source, **records}


@pytest.fixture
def people(client: TestClient, session: Session) -> dict[str, Any]:
    lead_a, pool_only = (
        Person(client, session, role, name)
        for role, name in ((Role.INVESTIGATOR, "Lead of A"), (Role.ANALYST, "On no case"))
    )
    a = lead_a.api.post("/api/v1/cases", criminal_case("CASE-A"))["id"]
    admin = Api(client, bearer(make_key(session)))
    return {"a": a, "lead_a": lead_a.api, "pool": pool_only.api, "admin": admin}


def _load(api: Api, case_id: int | None, reference: str, records: dict[str, Any]) -> str:
    document: str = api.post("/api/v1/accounts/batch", _batch(case_id, reference, records))[
        "source_document_id"
    ]
    return document


def _refile(admin: Api, document: str, case_id: int | None) -> None:
    body = {"case_id": case_id, "reason": "the court order covers it"}
    admin.post(f"/api/v1/sources/{document}/compartment", body, status=200)


def _seen(api: Api) -> tuple[dict[str, Any], dict[str, Any]]:
    account = api.get(f"/api/v1/accounts/{DE}")
    party = api.get(f"/api/v1/parties/{P17}")
    return (
        {f: account[f] for f in ("name", "institution", "currency")},
        {f: party[f] for f in ("name", "country", "identifiers")},
    )


BOTH = (
    {"name": "Kingfisher Holdings", "institution": "Nordbank", "currency": "EUR"},
    {"name": "Anna Bergström", "country": "SE", "identifiers": {"id": "L01", "tax": "T77"}},
)


def test_a_creating_document_refiled_to_the_pool_leaves_the_others_details_in_the_case(
    people: dict[str, Any],
) -> None:
    lead_a, pool, a = people["lead_a"], people["pool"], people["a"]
    doc1 = _load(lead_a, a, "PO-1", DOC1)
    _load(lead_a, a, "PO-2", DOC2)
    assert _seen(lead_a) == BOTH
    _refile(people["admin"], doc1, None)
    # The pool's reader reads what doc1 stated, nothing doc2 (still in A) stated.
    assert _seen(pool) == (
        {"name": None, "institution": None, "currency": "EUR"},
        {"name": "Anna Bergström", "country": None, "identifiers": {"id": "L01"}},
    )
    urls = (f"/api/v1/accounts/{DE}", f"/api/v1/parties/{P17}", f"/api/v1/accounts/{DE}/history")
    pool.untold(urls, DOC2_SECRETS)
    # A's member and the admin read both documents.
    assert _seen(lead_a) == BOTH
    assert _seen(people["admin"]) == BOTH


def test_a_pool_document_refiled_into_a_case_leaves_the_pools_details_in_the_pool(
    people: dict[str, Any],
) -> None:
    lead_a, pool, admin, a = people["lead_a"], people["pool"], people["admin"], people["a"]
    doc1 = _load(admin, None, "POOL-1", DOC1)
    _load(admin, None, "POOL-2", DOC2)
    _refile(admin, doc1, a)
    # The pool's reader reads what the pool's doc2 stated, nothing doc1 (now A's) stated.
    assert _seen(pool) == (
        {"name": "Kingfisher Holdings", "institution": "Nordbank", "currency": None},
        {"name": "Anna Bergström", "country": "SE", "identifiers": {"tax": "T77"}},
    )
    pool.untold((f"/api/v1/accounts/{DE}", f"/api/v1/parties/{P17}"), ("L01", "EUR"))
    assert _seen(lead_a) == BOTH
    assert _seen(admin) == BOTH


def test_a_document_that_only_names_a_record_keeps_it_in_its_compartment(
    people: dict[str, Any],
) -> None:
    # The pool's doc2 names account DE and party p17 with no detail of its own beside the key
    # (and the party's name doc1 gave too): they still exist for the pool once doc1 is in A.
    lead_a, pool, admin, a = people["lead_a"], people["pool"], people["admin"], people["a"]
    doc1 = _load(admin, None, "POOL-1", DOC1)
    names = {"parties": [DOC1["parties"][0] | {"identifiers": {}}], "accounts": [{"key": DE}]}
    _load(admin, None, "POOL-2", names)
    _refile(admin, doc1, a)
    assert _seen(pool) == (
        {"name": None, "institution": None, "currency": None},
        {"name": "Anna Bergström", "country": None, "identifiers": {}},
    )
    assert _seen(lead_a)[0]["currency"] == "EUR"
