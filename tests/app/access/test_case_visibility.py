"""A caller never learns that a case it is not on exists: 404, and absent from every list."""

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.apikey.models import ApiKey
from app.principal import Role
from tests.app.casework import PEOPLE, Api, criminal_case, order
from tests.factories import bearer, make_key

CASH = {"type": "cash", "description": "EUR 120,000 in a sports bag"}


def key_id(session: Session, name: str) -> str:
    return next(k.id for k in session.query(ApiKey).filter_by(name=name))


def test_non_members_get_404_and_see_nothing(client: TestClient, session: Session) -> None:
    owner = Api(client, bearer(make_key(session, Role.INVESTIGATOR, name="owner")))
    outsider = Api(client, bearer(make_key(session, Role.INVESTIGATOR, name="outsider")))
    owner.post("/api/v1/accounts/batch", PEOPLE)
    drugs = owner.post("/api/v1/cases", criminal_case())
    wildlife = owner.post(
        "/api/v1/cases",
        criminal_case("LKA-2026-0310", title="Ivory", predicate_offences=["wildlife_crime"]),
    )
    for case, role in ((drugs, "suspect"), (wildlife, "beneficial_owner")):
        owner.post(f"/api/v1/cases/{case['id']}/subjects", {"party": "person:anna", "role": role})
    asset = owner.post(f"/api/v1/cases/{drugs['id']}/assets", CASH)
    soon = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    assert owner.move(asset["id"], order("FROZEN", expiry_date=soon)).status_code == 201

    assert [d["asset_id"] for d in owner.get("/api/v1/deadlines", within_days=3)["items"]] == [
        asset["id"]
    ]
    assert owner.get("/api/v1/deadlines", within_days=2)["items"] == []
    (shared,) = owner.get("/api/v1/convergence")["items"]
    assert (shared["entity"], shared["key"]) == ("party", "person:anna")
    assert [(c["reference"], c["predicate_offences"], c["roles"]) for c in shared["cases"]] == [
        ("BKA-2026-0001", ["drug_trafficking"], ["suspect"]),
        ("LKA-2026-0310", ["wildlife_crime"], ["beneficial_owner"]),
    ]

    c, a = drugs["id"], asset["id"]
    hidden = [
        ("get", f"/api/v1/cases/{c}"),
        ("get", f"/api/v1/cases/{c}/assets"),
        ("get", f"/api/v1/cases/{c}/subjects"),
        ("get", f"/api/v1/cases/{c}/members"),
        ("get", f"/api/v1/cases/{c}/events"),
        ("get", f"/api/v1/assets/{a}"),
        ("get", f"/api/v1/assets/{a}/measures"),
    ]
    for method, url in hidden:
        r = client.request(method, url, headers=outsider.key)
        assert r.status_code == 404, url
    r = outsider.move(a, order("RELEASED", release_reason="withdrawn"), etag='"2"')
    assert (r.status_code, r.json()["code"]) == (404, "asset_not_found")
    r = client.post(
        f"/api/v1/cases/{c}/status",
        json={"status": "active"},
        headers={**outsider.key, "If-Match": '"1"'},
    )
    assert (r.status_code, r.json()["code"]) == (404, "case_not_found")
    r = client.post(f"/api/v1/cases/{c}/assets", json=CASH, headers=outsider.key)
    assert r.status_code == 404
    # Without If-Match too: that the record exists is told before the precondition is asked.
    r = client.post(f"/api/v1/cases/{c}/status", json={"status": "active"}, headers=outsider.key)
    assert r.status_code == 404
    r = client.post(f"/api/v1/assets/{a}/transitions", json=order("SEIZED"), headers=outsider.key)
    assert r.status_code == 404
    # And before the body: an empty one gets 404 as well, not a validation error.
    for url in (f"/api/v1/cases/{c}/subjects", f"/api/v1/assets/{a}/transitions"):
        assert client.post(url, json={}, headers=outsider.key).status_code == 404, url
    r = client.put(f"/api/v1/cases/{c}/members", json={}, headers=outsider.key)
    assert r.status_code == 404
    # Not on the case and no such case read the same.
    assert client.get(f"/api/v1/cases/{c}", headers=outsider.key).json()["detail"] == (
        f"no case with id {c}"
    )
    assert client.get("/api/v1/cases/999999", headers=outsider.key).status_code == 404
    assert outsider.get("/api/v1/cases")["items"] == []
    assert outsider.get("/api/v1/deadlines", within_days=3650)["items"] == []
    assert outsider.get("/api/v1/convergence")["items"] == []

    supervisor = Api(client, bearer(make_key(session, Role.SUPERVISOR)))
    assert len(supervisor.get("/api/v1/cases")["items"]) == 2
    assert len(supervisor.get("/api/v1/convergence")["items"]) == 1
    assert len(supervisor.get("/api/v1/deadlines", within_days=3)["items"]) == 1

    # On one case as an observer: it sees that case, reads it, changes nothing.
    member = {"api_key_id": key_id(session, "outsider"), "role": "observer"}
    owner.client.put(f"/api/v1/cases/{c}/members", json=member, headers=owner.key)
    assert [x["id"] for x in outsider.get("/api/v1/cases")["items"]] == [c]
    assert outsider.get(f"/api/v1/assets/{a}")["status"] == "FROZEN"
    assert len(outsider.get("/api/v1/deadlines", within_days=3)["items"]) == 1
    assert outsider.get("/api/v1/convergence")["items"] == []
    r = outsider.move(a, order("RELEASED", release_reason="withdrawn"))
    assert (r.status_code, r.json()["code"]) == (403, "case_read_only")
    r = client.put(f"/api/v1/cases/{c}/members", json=member, headers=outsider.key)
    assert r.status_code == 403

    r = client.delete(f"/api/v1/cases/{c}/members/{member['api_key_id']}", headers=owner.key)
    assert r.json()["role"] == "observer"
    assert client.get(f"/api/v1/assets/{a}", headers=outsider.key).status_code == 404


def test_roles_decide_who_reads_and_writes_cases(client: TestClient, session: Session) -> None:
    analyst = bearer(make_key(session, Role.ANALYST))
    ingest = bearer(make_key(session, Role.INGEST))
    assert client.get("/api/v1/cases", headers=analyst).status_code == 200
    assert client.post("/api/v1/cases", json=criminal_case(), headers=analyst).status_code == 403
    assert client.get("/api/v1/cases", headers=ingest).status_code == 403
    assert client.get("/api/v1/deadlines", headers=ingest).status_code == 403
    assert client.get("/api/v1/cases").status_code == 401
