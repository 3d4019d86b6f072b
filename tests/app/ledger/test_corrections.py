"""Corrections with a reason: a new record supersedes the old, which stays readable; traces
before keep their result, and a rerun shows what the correction changed.

Worked figures (LIBR on the demo, EUR; see tests/app/trace/test_trace_api.py): held 43,000.00,
of which 10,900.00 at Limassol, the part of Nordlicht's 25,000 payment (DEMO-L05) beyond its
14,100 own money. The bank corrects that payment to 19,000.00: it then carries
19,000 - 14,100 = 4,900.00 of taint to Limassol (24,000 there, 4,900 taint: its 12,000 to the
exchange is own money); Nordlicht keeps 24,900 - 4,900 = 20,000 taint, less the 3,500 car
deposit: 16,500.00. Held stays 43,000.00.
"""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.demo.service import SEED_TRANSACTIONS
from app.principal import Role
from tests.factories import bearer, make_key, tx

NORDLICHT = "iban:DE75512108001245126199"
LIMASSOL = "iban:CY17002001280000001200527600"
EXCHANGE = "iban:MT84MALT011000012345MTLCAST001S"
REASON = "The bank's letter of 3 March: the SWIFT payment was 19,000.00, not 25,000.00"


@pytest.fixture
def admin(demo_admin: dict[str, str]) -> dict[str, str]:
    return demo_admin


def correction(external_id: str = "DEMO-L05-c1", amount: str = "19000.00") -> dict[str, Any]:
    return {
        "source": {"kind": "bank_letter", "reference": "PO-2026-017/3"},
        "reason": REASON,
        "transaction": tx(
            external_id, NORDLICHT, LIMASSOL, amount, value_time="2026-01-15T10:00:00Z"
        ),
    }


def libr(client: TestClient, key: dict[str, str]) -> dict[str, Any]:
    body = {"seeds": [{"transaction": t} for t in SEED_TRANSACTIONS], "rule": "libr"}
    r = client.post("/api/v1/traces", json={**body, "stop_at": [EXCHANGE]}, headers=key)
    assert r.status_code == 201, r.text
    return r.json()


def held(client: TestClient, key: dict[str, str], trace_id: str) -> dict[str, str]:
    items = client.get(f"/api/v1/traces/{trace_id}/holdings", headers=key).json()["items"]
    return {i["account"]: i["held"] for i in items}


def test_a_corrected_transaction_supersedes_the_old_which_stays_with_its_history(
    client: TestClient, admin: dict[str, str]
) -> None:
    before = libr(client, admin)
    assert held(client, admin, before["id"])[LIMASSOL] == "10900.00"

    r = client.post("/api/v1/transactions/DEMO-L05/corrections", json=correction(), headers=admin)
    assert r.status_code == 201, r.text
    history = r.json()
    old, new = history["versions"]
    assert history["current"] == new["transaction"]["id"]
    assert (old["transaction"]["external_id"], old["transaction"]["amount"]) == (
        "DEMO-L05",
        "25000.00",
    )
    assert (old["in_ledger"], old["excluded_as"], old["superseded_by"]) == (
        False,
        "superseded",
        new["transaction"]["id"],
    )
    assert old["correction"] is None
    assert (new["transaction"]["external_id"], new["transaction"]["amount"]) == (
        "DEMO-L05-c1",
        "19000.00",
    )
    assert new["in_ledger"] is True
    assert new["correction"]["reason"] == REASON
    # The correcting document is a source document of its own, with the right provenance.
    document = new["correction"]["source_document_id"]
    assert new["transaction"]["source_document_id"] == document
    source = client.get(f"/api/v1/sources/{document}", headers=admin).json()
    assert (source["kind"], source["reference"]) == ("bank_letter", "PO-2026-017/3")
    # The same history from either record; the old one stays readable, unchanged.
    assert client.get("/api/v1/transactions/DEMO-L05/history", headers=admin).json() == history
    assert client.get("/api/v1/transactions/DEMO-L05-c1/history", headers=admin).json() == history
    still = client.get("/api/v1/transactions/DEMO-L05", headers=admin).json()
    assert still["amount"] == "25000.00"

    # The trace stored before keeps its figures: its fingerprint names the ledger it ran on.
    kept = client.get(f"/api/v1/traces/{before['id']}", headers=admin).json()
    assert kept["ledger_fingerprint"] == before["ledger_fingerprint"]
    assert held(client, admin, before["id"])[LIMASSOL] == "10900.00"

    r = client.post(f"/api/v1/traces/{before['id']}/rerun", headers=admin)
    assert r.status_code == 201, r.text
    diff = r.json()
    assert diff["ledger_changed"] is True
    assert diff["new_transactions"] == 0  # one record in, one out
    assert diff["records_replaced"] == [
        {
            "external_id": "DEMO-L05",
            "cause": "superseded",
            "replaced_by": "DEMO-L05-c1",
            "reason": REASON,
        }
    ]
    changed = {
        (c["account"], c["field"]): (c["before"], c["after"]) for c in diff["amounts_changed"]
    }
    assert changed[(LIMASSOL, "held")] == ("10900.00", "4900.00")
    assert changed[(NORDLICHT, "held")] == ("10500.00", "16500.00")
    assert held(client, admin, diff["trace"]["id"])[LIMASSOL] == "4900.00"
    assert diff["trace"]["ledger_fingerprint"] != before["ledger_fingerprint"]


def test_a_correction_is_corrected_in_turn_and_the_chain_is_kept(
    client: TestClient, admin: dict[str, str]
) -> None:
    client.post("/api/v1/transactions/DEMO-L05/corrections", json=correction(), headers=admin)
    # The superseded record is not corrected again: its successor is.
    r = client.post(
        "/api/v1/transactions/DEMO-L05/corrections",
        json=correction("DEMO-L05-c2", "19500.00"),
        headers=admin,
    )
    assert (r.status_code, r.json()["code"]) == (409, "transaction_superseded")
    r = client.post(
        "/api/v1/transactions/DEMO-L05-c1/corrections",
        json=correction("DEMO-L05-c2", "19500.00"),
        headers=admin,
    )
    assert r.status_code == 201, r.text
    chain = r.json()["versions"]
    assert [(v["transaction"]["external_id"], v["in_ledger"]) for v in chain] == [
        ("DEMO-L05", False),
        ("DEMO-L05-c1", False),
        ("DEMO-L05-c2", True),
    ]


def test_a_correction_must_be_a_new_valid_record_and_changes_nothing_when_refused(
    client: TestClient, admin: dict[str, str]
) -> None:
    # Its external id is taken: refused, and the old record is still the one traced.
    r = client.post(
        "/api/v1/transactions/DEMO-L05/corrections",
        json=correction("DEMO-L06", "3500.00"),
        headers=admin,
    )
    assert r.status_code in (409, 422), r.text
    body = correction()
    body["transaction"]["amount"] = "19000.001"
    r = client.post("/api/v1/transactions/DEMO-L05/corrections", json=body, headers=admin)
    assert r.status_code == 422
    body["transaction"]["amount"] = 19000
    r = client.post("/api/v1/transactions/DEMO-L05/corrections", json=body, headers=admin)
    assert (r.status_code, r.json()["errors"][0]["loc"]) == (
        422,
        ["body", "transaction", "amount"],
    )
    r = client.post(
        "/api/v1/transactions/DEMO-L05/corrections",
        json={**correction(), "reason": ""},
        headers=admin,
    )
    assert r.status_code == 422
    history = client.get("/api/v1/transactions/DEMO-L05/history", headers=admin).json()
    assert [v["in_ledger"] for v in history["versions"]] == [True]
    assert libr(client, admin)["summary"]["held"] == "43000.00"
    r = client.post("/api/v1/transactions/NOPE/corrections", json=correction(), headers=admin)
    assert (r.status_code, r.json()["code"]) == (404, "transaction_not_found")


def test_only_a_ledger_writer_corrects(client: TestClient, session: Session, admin) -> None:
    analyst = bearer(make_key(session, Role.ANALYST))
    r = client.post("/api/v1/transactions/DEMO-L05/corrections", json=correction(), headers=analyst)
    assert r.status_code == 403
    assert client.get("/api/v1/transactions/DEMO-L05/history", headers=analyst).status_code == 200


def test_an_accounts_details_are_corrected_with_a_reason_and_their_history_kept(
    client: TestClient, admin: dict[str, str]
) -> None:
    first = client.get(f"/api/v1/accounts/{NORDLICHT}", headers=admin).json()
    body = {
        "source": {"kind": "bank_letter", "reference": "PO-2026-017/4"},
        "reason": "KYC file: the account is Nordlicht Handels GmbH's, at Sparkasse Kiel",
        "details": {"name": "Nordlicht Handels GmbH", "institution": "Sparkasse Kiel"},
    }
    r = client.post(f"/api/v1/accounts/{NORDLICHT}/corrections", json=body, headers=admin)
    assert r.status_code == 201, r.text
    versions = r.json()["versions"]
    assert len(versions) == 2
    assert versions[0]["details"]["name"] == first["name"]
    assert versions[0]["correction"] is None
    assert versions[1]["details"]["name"] == "Nordlicht Handels GmbH"
    assert versions[1]["details"]["institution"] == "Sparkasse Kiel"
    assert versions[1]["correction"]["reason"] == body["reason"]
    now = client.get(f"/api/v1/accounts/{NORDLICHT}", headers=admin).json()
    assert (now["name"], now["institution"]) == ("Nordlicht Handels GmbH", "Sparkasse Kiel")
    assert now["key"] == first["key"]
    assert client.get(f"/api/v1/accounts/{NORDLICHT}/history", headers=admin).json() == r.json()
    # A correction that states nothing is refused.
    empty = {**body, "details": {}}
    r = client.post(f"/api/v1/accounts/{NORDLICHT}/corrections", json=empty, headers=admin)
    assert r.status_code == 422
