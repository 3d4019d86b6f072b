"""A freezing proposal's asset shows only what its case's compartments hold (issue 19): every
member of the case reads the asset, whatever compartments the trace behind it read. A
transaction that carried the taint from a document of another case is not linked (its id would
tell of a record the member may not read), and a holding at an account only another case knows
becomes no asset (its key would be shown)."""

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.principal import Role
from tests.app.access.compartment_world import key_id
from tests.app.access.test_proposal_owners import two_cases
from tests.app.trace.test_trace_refiled_names import Y, Z, _ok
from tests.factories import DE, make_key, tx


def test_a_proposal_links_and_holds_only_what_its_case_may_see(
    client: TestClient, session: Session
) -> None:
    admin, lead_a, lead_b, a, b = two_cases(client, session)
    # Case B's payments take the pool's 100.00 on from Y: 60.00 to Z, which the pool knows,
    # and 40.00 to DE, which only B's document names.
    known = {"source": {"kind": "bank_production", "reference": "POOL-2"}, "accounts": [{"key": Z}]}
    _ok(client.post("/api/v1/accounts/batch", json=known, headers=admin))
    paid = [
        tx("B-2", Y, Z, "60.00", value_time="2026-01-03T10:00:00Z"),
        tx("B-3", Y, DE, "40.00", value_time="2026-01-03T11:00:00Z"),
    ]
    body = {"source": {"kind": "bank_statement", "reference": "B-1", "case_id": b}}
    _ok(
        client.post(
            "/api/v1/transactions/batch", json=body | {"transactions": paid}, headers=lead_b
        )
    )
    # B's lead, on case A too, traces over both cases into case A and proposes there.
    secret = make_key(session, Role.INVESTIGATOR, name="on A and B")
    both = {"Authorization": f"Bearer {secret}"}
    for case in (a, b):
        put = {"api_key_id": key_id(session, secret), "role": "investigator"}
        lead = lead_a if case == a else lead_b
        _ok(client.put(f"/api/v1/cases/{case}/members", json=put, headers=lead))
    seeds = {"seeds": [{"transaction": "TX-1"}], "rule": "fifo", "case_id": a}
    trace = _ok(client.post("/api/v1/traces", json=seeds, headers=both))
    made = _ok(
        client.post(f"/api/v1/traces/{trace['id']}/proposals", json={"case_id": a}, headers=both)
    )

    assert [(c["account"], c["held"]) for c in made["created"]] == [(Z, "60.00")]
    assert [(s["account"], s["reason"]) for s in made["skipped"]] == [(DE, "unknown_account")]
    (created,) = made["created"]
    # A's lead, not on case B, reads the asset: linked to the trace (which they may not open),
    # not to B's payment.
    reply = client.get(f"/api/v1/assets/{created['asset_id']}", headers=lead_a)
    asset = _ok(reply)
    assert [(link["transaction_id"], link["trace_id"]) for link in asset["links"]] == [
        (None, trace["id"])
    ]
    assert DE not in client.get(f"/api/v1/cases/{a}/overview", headers=lead_a).text
    listed = _ok(client.get(f"/api/v1/cases/{a}/assets", headers=lead_a))
    assert [item["account_key"] for item in listed["items"]] == [Z]
