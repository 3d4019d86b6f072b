"""An account or party batch compares what it states only with what its own compartment holds
(issue 19, second read): case A's document names Anna Bergström (her identity number) and her
account DE ("Kingfisher Holdings"), Anna holding it. A batch filed in case B by a member of B
(not of A) ends as it would on a ledger without A, names nothing of A, and what it states is
read by B's members; A's members and the admin still read A's details, a caller of neither
reads neither.
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
SECRETS = ("Anna", "Bergstr", "L01X00T47", "Kingfisher")
ANNA = {"key": P17, "kind": "person", "name": "Anna Bergström", "identifiers": {"id": "L01X00T47"}}


def _batch(case_id: int | None, reference: str, **records: Any) -> dict[str, Any]:
    source = {"kind": "bank_production", "reference": reference, "case_id": case_id}
    return {"source": source, "parties": [], "accounts": [], **records}


def _counts(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != "source_document_id"}


@pytest.fixture
def world(client: TestClient, session: Session) -> dict[str, Any]:
    lead_a, lead_b, pool_only = (
        Person(client, session, role, name)
        for role, name in (
            (Role.INVESTIGATOR, "Lead of A"),
            (Role.INVESTIGATOR, "Lead of B"),
            (Role.ANALYST, "On no case"),
        )
    )
    a = lead_a.api.post("/api/v1/cases", criminal_case("CASE-A"))["id"]
    b = lead_b.api.post("/api/v1/cases", criminal_case("CASE-B"))["id"]
    in_a = _batch(
        a,
        "PO-A",
        parties=[ANNA],
        accounts=[{"key": DE, "name": "Kingfisher Holdings", "holders": [{"party": P17}]}],
    )
    lead_a.api.post("/api/v1/accounts/batch", in_a)
    admin = Api(client, bearer(make_key(session)))
    return {
        "a": a,
        "b": b,
        "lead_a": lead_a.api,
        "lead_b": lead_b.api,
        "pool": pool_only.api,
        "admin": admin,
    }


B_STATES = {
    "parties": [{"key": P17, "kind": "person", "name": "A. B.", "identifiers": {"id": "X9"}}],
    "accounts": [{"key": DE, "name": "Harbour Trading", "holders": [{"party": P17}]}],
}
# What the batch does on a ledger where nothing else is stored.
AS_IF_ALONE = {
    "parties_inserted": 1,
    "parties_updated": 0,
    "accounts_inserted": 1,
    "accounts_updated": 0,
    "holders_added": 1,
}


def test_a_batch_in_b_ends_as_if_a_held_nothing(world: dict[str, Any]) -> None:
    lead_b = world["lead_b"]
    r = lead_b.client.post(
        "/api/v1/accounts/batch", json=_batch(world["b"], "PO-B", **B_STATES), headers=lead_b.key
    )
    assert r.status_code == 201, r.text
    assert _counts(r.json()) == AS_IF_ALONE
    # B reads what B stated: the name, the party's own name and number, the link.
    account = lead_b.get(f"/api/v1/accounts/{DE}")
    assert account["name"] == "Harbour Trading"
    assert [(h["party_key"], h["name"], h["role"]) for h in account["holders"]] == [
        (P17, "A. B.", "holder")
    ]
    party = lead_b.get(f"/api/v1/parties/{P17}")
    assert (party["name"], party["identifiers"]) == ("A. B.", {"id": "X9"})
    urls = (f"/api/v1/accounts/{DE}", f"/api/v1/parties/{P17}", f"/api/v1/accounts/{DE}/history")
    lead_b.untold(urls, SECRETS)


def test_a_and_the_admin_still_read_what_a_stated(world: dict[str, Any]) -> None:
    world["lead_b"].post("/api/v1/accounts/batch", _batch(world["b"], "PO-B", **B_STATES))
    account = world["lead_a"].get(f"/api/v1/accounts/{DE}")
    assert account["name"] == "Kingfisher Holdings"
    # One link to a reader, though A and B both state it.
    assert [(h["name"], h["role"]) for h in account["holders"]] == [("Anna Bergström", "holder")]
    party = world["lead_a"].get(f"/api/v1/parties/{P17}")
    assert (party["name"], party["identifiers"]) == ("Anna Bergström", {"id": "L01X00T47"})


def test_a_caller_on_neither_case_reads_neither(world: dict[str, Any]) -> None:
    world["lead_b"].post("/api/v1/accounts/batch", _batch(world["b"], "PO-B", **B_STATES))
    pool = world["pool"]
    for url in (f"/api/v1/accounts/{DE}", f"/api/v1/parties/{P17}"):
        assert pool.client.get(url, headers=pool.key).status_code == 404, url


def test_a_conflict_names_only_what_the_filings_compartment_holds(world: dict[str, Any]) -> None:
    lead_b, b = world["lead_b"], world["b"]
    lead_b.post("/api/v1/accounts/batch", _batch(b, "PO-B", **B_STATES))
    # B against what B holds: refused, naming B's own value.
    again = _batch(b, "PO-B2", accounts=[{"key": DE, "name": "Other Name"}])
    r = lead_b.client.post("/api/v1/accounts/batch", json=again, headers=lead_b.key)
    assert r.status_code == 422, r.text
    assert [e["msg"] for e in r.json()["errors"]] == [
        "name is stored as 'Harbour Trading', not 'Other Name'"
    ]
    # A against what A holds, the other way: refused, naming A's value, nothing of B's.
    lead_a = world["lead_a"]
    clash = _batch(world["a"], "PO-A2", parties=[{**ANNA, "identifiers": {"id": "Z1"}}])
    r = lead_a.client.post("/api/v1/accounts/batch", json=clash, headers=lead_a.key)
    assert r.status_code == 422, r.text
    assert [e["msg"] for e in r.json()["errors"]] == [
        "identifiers ['id'] are stored with other values"
    ]
    assert "Harbour" not in r.text
    assert "X9" not in r.text


def test_a_holder_link_may_name_only_a_party_the_filings_compartment_holds(
    world: dict[str, Any],
) -> None:
    # As on a ledger without A: B holds no party p17, whatever A's document says.
    lead_b = world["lead_b"]
    body = _batch(world["b"], "PO-B", accounts=[{"key": DE, "holders": [{"party": P17}]}])
    r = lead_b.client.post("/api/v1/accounts/batch", json=body, headers=lead_b.key)
    assert r.status_code == 422, r.text
    assert [e["msg"] for e in r.json()["errors"]] == [f"no party with key {P17!r}"]


def test_a_pool_batch_does_not_lean_on_a_case(world: dict[str, Any]) -> None:
    pool, admin = world["pool"], world["admin"]
    body = _batch(None, "POOL", accounts=[{"key": DE, "name": "Pool Name", "currency": "EUR"}])
    # Filed in the shared pool by an admin, who sees every compartment: compared with the pool.
    r = admin.client.post("/api/v1/accounts/batch", json=body, headers=admin.key)
    assert r.status_code == 201, r.text
    assert _counts(r.json()) == {**AS_IF_ALONE, "parties_inserted": 0, "holders_added": 0}
    # The pool's reader reads the pool's statement; A's member reads A's row, filled by the pool.
    assert pool.get(f"/api/v1/accounts/{DE}")["name"] == "Pool Name"
    seen_by_a = world["lead_a"].get(f"/api/v1/accounts/{DE}")
    assert (seen_by_a["name"], seen_by_a["currency"]) == ("Kingfisher Holdings", "EUR")


def test_an_account_b_only_names_is_matched_blindly_with_a(world: dict[str, Any]) -> None:
    lead_b = world["lead_b"]
    lead_b.post("/api/v1/accounts/batch", _batch(world["b"], "PO-B", accounts=[{"key": DE}]))
    items = lead_b.get("/api/v1/convergence")["items"]
    assert [(i["matched_on"], i["matched_key"]) for i in items if i["blind"]] == [("account", DE)]
    # And B's members see the account B named, with no detail of A's.
    assert lead_b.get(f"/api/v1/accounts/{DE}")["name"] is None


def test_a_correction_by_b_does_not_name_the_case_that_created_the_account(
    world: dict[str, Any],
) -> None:
    lead_b, b = world["lead_b"], world["b"]
    lead_b.post("/api/v1/accounts/batch", _batch(b, "PO-B", **B_STATES))
    body = {
        "source": {"kind": "bank_production", "reference": "PO-B-FIX", "case_id": b},
        "details": {"name": "Harbour Trading Ltd"},
        "reason": "the bank's second letter",
    }
    r = lead_b.client.post(f"/api/v1/accounts/{DE}/corrections", json=body, headers=lead_b.key)
    assert r.status_code == 201, r.text
    assert f"case {world['a']}" not in r.text
    assert lead_b.get(f"/api/v1/accounts/{DE}")["name"] == "Harbour Trading Ltd"
    # A's readers read A's name: B's correction is B's.
    assert world["lead_a"].get(f"/api/v1/accounts/{DE}")["name"] == "Kingfisher Holdings"
