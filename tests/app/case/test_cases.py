from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.principal import Role
from tests.factories import bearer, make_key

CRIMINAL = {
    "reference": "BKA-2026-0001",
    "kind": "criminal_investigation",
    "title": "Hafen cocaine imports",
    "jurisdiction": "DE",
    "predicate_offences": ["drug_trafficking"],
    "lead_agency": "BKA SO 3",
}


def pfi(parent_id: int, reference: str = "BKA-2026-0001-F") -> dict[str, object]:
    return {
        **CRIMINAL,
        "reference": reference,
        "kind": "parallel_financial_investigation",
        "title": "Proceeds of the Hafen imports",
        "predicate_offences": ["drug_trafficking", "money_laundering"],
        "parent_case_id": parent_id,
    }


def move(client: TestClient, key: dict[str, str], case_id: int, **body: object):
    etag = client.get(f"/api/v1/cases/{case_id}", headers=key).headers["ETag"]
    return client.post(
        f"/api/v1/cases/{case_id}/status", json=body, headers={**key, "If-Match": etag}
    )


def test_a_case_opens_with_its_creator_as_lead_and_moves_through_checked_statuses(
    client: TestClient, session: Session
) -> None:
    key = bearer(make_key(session, Role.INVESTIGATOR))
    r = client.post("/api/v1/cases", json=CRIMINAL, headers=key)
    assert r.status_code == 201, r.text
    case = r.json()
    assert (case["status"], case["version"], r.headers["ETag"]) == ("open", 1, '"1"')
    assert case["allowed_statuses"] == ["active", "closed", "discontinued"]
    members = client.get(f"/api/v1/cases/{case['id']}/members", headers=key).json()
    assert [m["role"] for m in members] == ["lead"]
    assert client.post("/api/v1/cases", json=CRIMINAL, headers=key).status_code == 409

    assert move(client, key, case["id"], status="suspended").status_code == 409
    assert move(client, key, case["id"], status="active").json()["status"] == "active"
    assert move(client, key, case["id"], status="closed").json()["closed_on"] is not None
    refused = move(client, key, case["id"], status="active")
    assert refused.status_code == 422, refused.text
    reopened = move(client, key, case["id"], status="active", reason="new bank production")
    assert (reopened.json()["status"], reopened.json()["closed_on"]) == ("active", None)
    events = client.get(f"/api/v1/cases/{case['id']}/events", headers=key).json()["items"]
    assert [(e["from_status"], e["to_status"]) for e in events] == [
        (None, "open"),
        ("open", "active"),
        ("active", "closed"),
        ("closed", "active"),
    ]
    assert events[-1]["reason"] == "new bank production"


def test_a_status_change_needs_the_current_etag(client: TestClient, session: Session) -> None:
    key = bearer(make_key(session, Role.INVESTIGATOR))
    case_id = client.post("/api/v1/cases", json=CRIMINAL, headers=key).json()["id"]
    url = f"/api/v1/cases/{case_id}/status"
    missing = client.post(url, json={"status": "active"}, headers=key)
    assert (missing.status_code, missing.json()["code"]) == (428, "precondition_required")
    assert client.post(
        url, json={"status": "active"}, headers={**key, "If-Match": '"1"'}
    ).is_success
    stale = client.post(url, json={"status": "closed"}, headers={**key, "If-Match": '"1"'})
    assert (stale.status_code, stale.json()["current_etag"]) == (412, '"2"')


def test_the_financial_investigation_outlives_its_discontinued_parent(
    client: TestClient, session: Session
) -> None:
    key = bearer(make_key(session, Role.INVESTIGATOR))
    parent = client.post("/api/v1/cases", json=CRIMINAL, headers=key).json()
    child = client.post("/api/v1/cases", json=pfi(parent["id"]), headers=key).json()
    assert (child["parent_case_id"], child["recovery_basis"]) == (parent["id"], "conviction_based")
    listed = client.get("/api/v1/cases", params={"parent_case_id": parent["id"]}, headers=key)
    assert [c["id"] for c in listed.json()["items"]] == [child["id"]]
    assert move(client, key, child["id"], status="active").is_success
    r = move(
        client,
        key,
        parent["id"],
        status="discontinued",
        reason="suspect died",
        discontinuation_reason="death",
    )
    assert r.status_code == 200, r.text
    assert r.json()["discontinuation_reason"] == "death"
    after = client.get(f"/api/v1/cases/{child['id']}", headers=key).json()
    assert (after["status"], after["recovery_basis"]) == ("active", "non_conviction_based")
    assert move(client, key, child["id"], status="suspended").is_success


def test_a_parent_must_be_a_criminal_case(client: TestClient, session: Session) -> None:
    key = bearer(make_key(session, Role.INVESTIGATOR))
    fiu = client.post(
        "/api/v1/cases", json={**CRIMINAL, "kind": "fiu_analysis"}, headers=key
    ).json()
    r = client.post("/api/v1/cases", json=pfi(fiu["id"]), headers=key)
    assert (r.status_code, r.json()["code"]) == (422, "invalid_case")
    r = client.post(
        "/api/v1/cases",
        json={**CRIMINAL, "reference": "X-2", "parent_case_id": fiu["id"]},
        headers=key,
    )
    assert r.status_code == 422
