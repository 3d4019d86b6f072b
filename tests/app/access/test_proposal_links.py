"""A freezing proposal into a case from a trace that read another case's records is refused
(issue 19): every member of the case reads the assets it would create, and their figures (the
taint held) are worked out from records those members may not all see. The caller sees the
trace, so they are on every case it read: the refusal names those cases to them."""

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.principal import Role
from tests.app.access.compartment_world import key_id
from tests.app.access.test_proposal_owners import two_cases
from tests.app.trace.test_trace_refiled_names import Y, Z, _ok
from tests.factories import DE, make_key, tx


def test_a_proposal_from_a_trace_that_read_another_case_is_refused(
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
    # A key on cases A and B traces over both into case A.
    secret = make_key(session, Role.INVESTIGATOR, name="on A and B")
    both = {"Authorization": f"Bearer {secret}"}
    for case in (a, b):
        put = {"api_key_id": key_id(session, secret), "role": "investigator"}
        lead = lead_a if case == a else lead_b
        _ok(client.put(f"/api/v1/cases/{case}/members", json=put, headers=lead))
    seeds = {"seeds": [{"transaction": "TX-1"}], "rule": "fifo", "case_id": a}
    trace = _ok(client.post("/api/v1/traces", json=seeds, headers=both))

    for key in (both, admin):
        refused = client.post(
            f"/api/v1/traces/{trace['id']}/proposals", json={"case_id": a}, headers=key
        )
        assert refused.status_code == 409, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        problem = refused.json()
        assert problem["code"] == "trace_reads_other_compartments"
        assert (problem["trace_id"], problem["case_id"], problem["other_cases"]) == (
            trace["id"],
            a,
            [b],
        )
        assert trace["id"] in problem["detail"]
        assert f"case {b}" in problem["detail"]
    # nothing was created: case A holds no asset, and its lead learns nothing of B's accounts
    assert _ok(client.get(f"/api/v1/cases/{a}/assets", headers=lead_a))["items"] == []
    assert DE not in client.get(f"/api/v1/cases/{a}/overview", headers=lead_a).text
    # Into the case whose records it read, it is proposed (B's own and the pool's).
    made = _ok(
        client.post(f"/api/v1/traces/{trace['id']}/proposals", json={"case_id": b}, headers=both)
    )
    held = sorted((c["account"], c["held"]) for c in made["created"])
    assert held == sorted([(Z, "60.00"), (DE, "40.00")])
