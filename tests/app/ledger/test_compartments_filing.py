"""Filing evidence in a case's compartment, and what each caller then sees of it (issue 19)."""

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.principal import Role
from app.source import service as source_service
from tests.app.access.compartment_world import (
    CASE_A,
    GB,
    ZEBULON,
    add_member,
    build,
    key_id,
    source,
)
from tests.factories import DE, FR, bearer, make_key, tx

GOAML = Path(__file__).parents[1] / "goaml" / "multi_party_ctr.xml"


def _totals(client: TestClient, key: dict[str, str], account: str) -> list[dict[str, object]]:
    r = client.get(f"/api/v1/accounts/{account}", headers=key)
    assert r.status_code == 200, r.text
    return [
        {k: t[k] for k in ("currency", "count_in", "total_in", "count_out", "total_out")}
        for t in r.json()["totals"]
    ]


def test_account_totals_differ_per_caller_when_a_case_document_adds_transactions(
    client: TestClient, session: Session
) -> None:
    world = build(client, session)
    outsider = bearer(make_key(session, Role.INVESTIGATOR, name="outsider"))
    # Shared: S-1 (100.00) and S-2 (40.00) out of DE. Case A adds CASEA-1 (5000.00 in) and
    # CASEA-2 (40.00 out).
    assert _totals(client, outsider, DE) == [
        {
            "currency": "EUR",
            "count_in": 0,
            "total_in": "0.00",
            "count_out": 2,
            "total_out": "140.00",
        }
    ]
    assert _totals(client, world.lead, DE) == [
        {
            "currency": "EUR",
            "count_in": 1,
            "total_in": "5000.00",
            "count_out": 3,
            "total_out": "180.00",
        }
    ]
    seen = client.get(f"/api/v1/accounts/{DE}/transactions", headers=outsider).json()["items"]
    assert [t["external_id"] for t in seen] == ["S-1", "S-2"]
    lead_seen = client.get(f"/api/v1/accounts/{DE}/transactions", headers=world.lead).json()
    assert len(lead_seen["items"]) == 4  # S-1, S-2, CASEA-1, CASEA-2
    # Holders too: A's link naming zebulon on DE is A's to know.
    holders = client.get(f"/api/v1/accounts/{DE}", headers=outsider).json()["holders"]
    assert [h["party_key"] for h in holders] == ["person:common"]
    lead_holders = client.get(f"/api/v1/accounts/{DE}", headers=world.lead).json()["holders"]
    assert sorted(h["party_key"] for h in lead_holders) == ["person:common", ZEBULON]
    # A's correction of its own commission: A's history; nobody else's to know.
    assert client.get("/api/v1/transactions/CASEA-5/history", headers=outsider).status_code == 404
    full = client.get("/api/v1/transactions/CASEA-5/history", headers=world.lead).json()
    assert [v["transaction"]["external_id"] for v in full["versions"]] == ["CASEA-5", "CASEA-3"]


def test_search_does_not_find_a_case_only_party_for_a_non_member(
    client: TestClient, session: Session
) -> None:
    world = build(client, session)
    outsider = bearer(make_key(session, Role.ANALYST, name="outsider"))
    analyst_secret = make_key(session, Role.ANALYST, name="analyst on A")
    add_member(client, world, key_id(session, analyst_secret), "analyst")

    def found(key: dict[str, str], q: str, kind: str = "party") -> list[str]:
        r = client.get("/api/v1/search", params={"q": q, "kind": kind}, headers=key)
        assert r.status_code == 200, r.text
        return [hit["key"] for hit in r.json()["items"]]

    assert found(outsider, "zebulon quillfeather") == []
    assert found(bearer(analyst_secret), "zebulon quillfeather") == [ZEBULON]
    assert found(outsider, "Common") == ["person:common"]
    # Nor the account only A knows, nor DE through A's holder link naming zebulon.
    assert found(outsider, GB, "account") == []
    assert found(outsider, "zebulon", "account") == []
    assert sorted(found(world.lead, "zebulon", "account")) == sorted([DE, GB])
    assert client.get(f"/api/v1/parties/{ZEBULON}", headers=outsider).status_code == 404


def test_filing_needs_a_member_who_writes_and_nothing_is_stored_otherwise(
    client: TestClient, session: Session
) -> None:
    lead = bearer(make_key(session, Role.INVESTIGATOR, name="lead"))
    case_id = client.post("/api/v1/cases", json=CASE_A, headers=lead).json()["id"]
    reader_secret = make_key(session, Role.INVESTIGATOR, name="read-only member")
    outsider = bearer(make_key(session, Role.INVESTIGATOR, name="outsider"))
    r = client.put(
        f"/api/v1/cases/{case_id}/members",
        json={"api_key_id": key_id(session, reader_secret), "role": "observer"},
        headers=lead,
    )
    assert r.status_code in (200, 201), r.text

    def send(key: dict[str, str], ref: str, case: int | None) -> tuple[int, str | None]:
        body = {"source": source(ref, case), "transactions": [tx(ref, DE, FR, "1.00")]}
        r = client.post("/api/v1/transactions/batch", json=body, headers=key)
        return r.status_code, r.json().get("code")

    assert send(outsider, "F-1", case_id) == (404, "case_not_found")
    assert send(bearer(reader_secret), "F-2", case_id) == (403, "case_read_only")
    assert send(outsider, "F-3", 987654) == (404, "case_not_found")
    admin = bearer(make_key(session, Role.ADMIN))
    for ref in ("F-1", "F-2", "F-3"):
        assert client.get(f"/api/v1/transactions/{ref}", headers=admin).status_code == 404
    assert send(lead, "F-4", case_id) == (201, None)
    stored = client.get("/api/v1/transactions/F-4", headers=lead).json()
    document = client.get(f"/api/v1/sources/{stored['source_document_id']}", headers=lead).json()
    assert document["case_id"] == case_id
    assert client.get("/api/v1/transactions/F-4", headers=outsider).status_code == 404


def test_an_ingest_key_bound_to_a_case_files_there_and_names_no_other(
    client: TestClient, session: Session
) -> None:
    admin = bearer(make_key(session, Role.ADMIN))
    lead = bearer(make_key(session, Role.INVESTIGATOR, name="lead"))
    case_id = client.post("/api/v1/cases", json=CASE_A, headers=lead).json()["id"]
    other = client.post("/api/v1/cases", json={**CASE_A, "reference": "B"}, headers=lead).json()
    created = client.post(
        "/api/v1/keys",
        json={"name": "bank feed", "role": "ingest", "case_id": case_id},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    assert created.json()["case_id"] == case_id
    listed = client.get("/api/v1/keys", headers=admin).json()
    assert [k["case_id"] for k in listed if k["id"] == created.json()["id"]] == [case_id]
    feed = bearer(created.json()["key"])

    csv = b"external_id,from_account,to_account,amount,currency,value_time\n"
    csv += f"K-1,{DE},{FR},3.00,EUR,2026-01-05T10:00:00Z\n".encode()
    r = client.post(
        "/api/v1/transactions/upload",
        files={"file": ("k.csv", csv, "text/csv")},
        data={"kind": "bank_statement", "reference": "K"},
        headers=feed,
    )
    assert r.status_code == 201, r.text
    filed = client.get(f"/api/v1/sources/{r.json()['source_document_id']}", headers=feed).json()
    assert filed["case_id"] == case_id

    r = client.post(
        "/api/v1/transactions/upload",
        files={"file": ("k2.csv", csv.replace(b"K-1", b"K-2"), "text/csv")},
        data={"kind": "bank_statement", "reference": "K2", "case_id": str(other["id"])},
        headers=feed,
    )
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "case_not_bound_to_key"
    assert r.json()["errors"][0]["loc"] == ["body", "case_id"]
    assert client.get("/api/v1/transactions/K-2", headers=admin).status_code == 404

    # Only ingest keys are bound, and only to a case that exists.
    for body in ({"role": "analyst", "case_id": case_id}, {"role": "ingest", "case_id": 987654}):
        r = client.post("/api/v1/keys", json={"name": "x", **body}, headers=admin)
        assert (r.status_code, r.json()["field"]) == (422, "case_id")


def test_a_goaml_import_is_filed_through_its_query_parameter(
    client: TestClient, session: Session
) -> None:
    lead = bearer(make_key(session, Role.INVESTIGATOR, name="lead"))
    case_id = client.post("/api/v1/cases", json=CASE_A, headers=lead).json()["id"]
    outsider = bearer(make_key(session, Role.INVESTIGATOR, name="outsider"))
    files = {"file": (GOAML.name, GOAML.read_bytes(), "application/xml")}
    refused = client.post(
        "/api/v1/imports/goaml", params={"case_id": case_id}, files=files, headers=outsider
    )
    assert (refused.status_code, refused.json()["code"]) == (404, "case_not_found")
    r = client.post("/api/v1/imports/goaml", params={"case_id": case_id}, files=files, headers=lead)
    assert r.status_code == 201, r.text
    document = r.json()["reports"][0]["source_document_id"]
    assert client.get(f"/api/v1/sources/{document}", headers=lead).json()["case_id"] == case_id
    assert client.get(f"/api/v1/sources/{document}", headers=outsider).status_code == 404
    assert client.get(f"/api/v1/imports/goaml/{document}", headers=outsider).status_code == 404


def test_an_admin_refiles_a_document_with_a_reason_and_the_change_is_kept(
    client: TestClient, session: Session
) -> None:
    world = build(client, session)
    outsider = bearer(make_key(session, Role.INVESTIGATOR, name="outsider"))
    shared_doc = client.get("/api/v1/transactions/S-2", headers=outsider).json()
    document = shared_doc["source_document_id"]
    url = f"/api/v1/sources/{document}/compartment"
    body = {"case_id": world.case_id, "reason": "court order 2026/113 covers it"}
    assert client.post(url, json=body, headers=world.lead).status_code == 403
    missing = client.post(url, json={**body, "case_id": 987654}, headers=world.admin)
    assert (missing.status_code, missing.json()["code"]) == (404, "case_not_found")

    before = source_service.filing_version(session)
    moved = client.post(url, json=body, headers=world.admin)
    assert moved.status_code == 200, moved.text
    assert source_service.filing_version(session) > before  # masks built before are stale
    assert (moved.json()["from_case_id"], moved.json()["to_case_id"]) == (None, world.case_id)
    assert client.get("/api/v1/transactions/S-2", headers=outsider).status_code == 404
    assert client.get("/api/v1/transactions/S-2", headers=world.lead).status_code == 200

    back = client.post(url, json={"case_id": None, "reason": "order quashed"}, headers=world.admin)
    assert back.status_code == 200, back.text
    assert client.get("/api/v1/transactions/S-2", headers=outsider).status_code == 200
    changes = client.get(url, headers=world.admin).json()
    assert [(c["from_case_id"], c["to_case_id"], c["reason"]) for c in changes] == [
        (None, world.case_id, "court order 2026/113 covers it"),
        (world.case_id, None, "order quashed"),
    ]


def test_another_case_cannot_name_case_a_records_on_its_assets(
    client: TestClient, session: Session
) -> None:
    world = build(client, session)
    other_lead = bearer(make_key(session, Role.INVESTIGATOR, name="lead of B"))
    b = client.post("/api/v1/cases", json={**CASE_A, "reference": "B"}, headers=other_lead).json()
    balance = {
        "type": "bank_balance",
        "description": "balance",
        "account": GB,
        "valuation": {"amount": "10.00", "currency": "EUR", "valued_on": "2026-04-29"},
    }
    url = f"/api/v1/cases/{b['id']}/assets"
    r = client.post(url, json=balance, headers=other_lead)
    assert (r.status_code, r.json()["code"]) == (404, "account_not_found")
    owned = {**balance, "account": DE, "owners": [{"party": ZEBULON, "share_percent": "100"}]}
    r = client.post(url, json=owned, headers=other_lead)
    assert (r.status_code, r.json()["code"]) == (404, "party_not_found")
    r = client.post(url, json={**balance, "account": DE}, headers=other_lead)
    assert r.status_code == 201, r.text
    links = f"/api/v1/assets/{r.json()['id']}/links"
    r = client.post(links, json={"links": [{"transaction": "CASEA-1"}]}, headers=other_lead)
    assert (r.status_code, r.json()["code"]) == (404, "transaction_not_found")
    # Case A's own lead names them.
    mine = client.post(
        f"/api/v1/cases/{world.case_id}/assets",
        json={**balance, "owners": [{"party": ZEBULON, "share_percent": "100"}]},
        headers=world.lead,
    )
    assert mine.status_code == 201, mine.text


def test_a_case_records_correction_is_filed_in_the_case_not_the_shared_pool(
    client: TestClient, session: Session
) -> None:
    world = build(client, session)
    outsider = bearer(make_key(session, Role.INVESTIGATOR, name="outsider"))
    body = {
        "reason": "the bank's corrected statement",
        "transaction": tx("CASEA-1-C", GB, DE, "5000.00", narrative="zebulon corrected"),
    }
    url = "/api/v1/transactions/CASEA-1/corrections"
    shared = client.post(url, json={**body, "source": source("FIX-1")}, headers=world.lead)
    assert shared.status_code == 422, shared.text
    assert shared.json()["errors"][0]["loc"] == ["body", "source", "case_id"]
    filed = client.post(
        url, json={**body, "source": source("FIX-1", world.case_id)}, headers=world.lead
    )
    assert filed.status_code == 201, filed.text
    assert client.get("/api/v1/transactions/CASEA-1-C", headers=outsider).status_code == 404
    assert client.get("/api/v1/transactions/CASEA-1-C", headers=world.lead).status_code == 200
