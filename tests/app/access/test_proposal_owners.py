"""A freezing proposal names as the asset's owners only the holders its case may know of
(issue 19): a holder link that only another case's document states is that case's evidence,
and an asset in case A is read by all of A's members."""

from typing import NamedTuple

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.principal import Role
from tests.app.trace.test_trace_refiled_names import CASE, SEED, X, Y, _load, _ok
from tests.factories import bearer, make_key, tx


class TwoCases(NamedTuple):
    admin: dict[str, str]
    lead_a: dict[str, str]
    lead_b: dict[str, str]
    a: int
    b: int


def two_cases(client: TestClient, session: Session) -> TwoCases:
    """The pool's payments SEED -> X -> Y (TX-1, TX-2), and cases A and B, each led by one."""
    admin = bearer(make_key(session, Role.ADMIN, name="admin"))
    lead_a = bearer(make_key(session, Role.INVESTIGATOR, name="lead of A"))
    lead_b = bearer(make_key(session, Role.INVESTIGATOR, name="lead of B"))
    pool = [
        tx("TX-1", SEED, X, "100.00", value_time="2026-01-01T10:00:00Z"),
        tx("TX-2", X, Y, "100.00", value_time="2026-01-02T10:00:00Z"),
    ]
    _load(client, admin, "POOL-1", pool)
    a = _ok(client.post("/api/v1/cases", json=CASE, headers=lead_a))["id"]
    b = _ok(client.post("/api/v1/cases", json={**CASE, "reference": "B-1"}, headers=lead_b))["id"]
    return TwoCases(admin, lead_a, lead_b, a, b)


def test_a_holder_only_another_case_states_is_not_an_owner_of_the_proposed_asset(
    client: TestClient, session: Session
) -> None:
    admin, lead_a, lead_b, a, b = two_cases(client, session)
    holder = {"key": "person:hidden-holder", "kind": "person", "name": "Hidden Holder"}
    secret = {
        "source": {"kind": "bank_production", "reference": "B-DOC", "case_id": b},
        "parties": [holder],
        "accounts": [{"key": Y, "holders": [{"party": holder["key"]}]}],
    }
    _ok(client.post("/api/v1/accounts/batch", json=secret, headers=lead_b))
    # and a holder the pool states: A's to know
    known = {"key": "company:pool-holder", "kind": "legal_entity", "name": "Pool Holder Ltd"}
    shared = {
        "source": {"kind": "bank_production", "reference": "POOL-2"},
        "parties": [known],
        "accounts": [{"key": Y, "holders": [{"party": known["key"]}]}],
    }
    _ok(client.post("/api/v1/accounts/batch", json=shared, headers=admin))
    body = {"seeds": [{"transaction": "TX-1"}], "rule": "fifo", "case_id": a}
    trace = _ok(client.post("/api/v1/traces", json=body, headers=lead_a))
    made = _ok(
        client.post(f"/api/v1/traces/{trace['id']}/proposals", json={"case_id": a}, headers=lead_a)
    )
    (created,) = made["created"]
    reply = client.get(f"/api/v1/assets/{created['asset_id']}", headers=lead_a)
    asset = _ok(reply)
    assert [o["party_key"] for o in asset["owners"]] == [known["key"]]
    assert "Hidden" not in reply.text
    assert "hidden-holder" not in reply.text
