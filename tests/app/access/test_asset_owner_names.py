"""An asset's owners are named as the reader's compartments tell of them (issue 19): a party's
row holds what its creating document stated, and a member of the asset's case who may not see
that document knows the party by what the documents they may see stated, as the party routes
show it."""

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.asset import service as asset_service
from app.compartments import Compartments
from tests.app.access.test_proposal_owners import two_cases
from tests.app.trace.test_trace_refiled_names import Y, _ok

P1 = "person:p1"


def _owner_names(asset: dict[str, Any]) -> dict[str, str]:
    return {o["party_key"]: o["name"] for o in asset["owners"]}


def test_asset_owners_are_named_as_the_reader_may_see_them(
    client: TestClient, session: Session
) -> None:
    admin, lead_a, lead_b, a, b = two_cases(client, session)
    # Case B's document creates p1 under the name only B may read ...
    secret = {
        "source": {"kind": "bank_production", "reference": "B-DOC", "case_id": b},
        "parties": [{"key": P1, "kind": "person", "name": "Hidden Name"}],
    }
    _ok(client.post("/api/v1/accounts/batch", json=secret, headers=lead_b))
    # ... and the pool names p1 otherwise, as the holder of Y.
    shared = {
        "source": {"kind": "bank_production", "reference": "POOL-2"},
        "parties": [{"key": P1, "kind": "person", "name": "Pool Name"}],
        "accounts": [{"key": Y, "holders": [{"party": P1}]}],
    }
    _ok(client.post("/api/v1/accounts/batch", json=shared, headers=admin))
    assert _ok(client.get(f"/api/v1/parties/{P1}", headers=lead_a))["name"] == "Pool Name"

    # A freezing proposal makes Y's balance an asset of A owned by its holder p1.
    body = {"seeds": [{"transaction": "TX-1"}], "rule": "fifo", "case_id": a}
    trace = _ok(client.post("/api/v1/traces", json=body, headers=lead_a))
    made = _ok(
        client.post(f"/api/v1/traces/{trace['id']}/proposals", json={"case_id": a}, headers=lead_a)
    )
    (proposed,) = made["created"]
    # and a member of A registers an asset p1 owns.
    house = {
        "type": "real_estate",
        "description": "Flat in Hamburg",
        "address": "Hafenstraße 12, 20359 Hamburg",
        "owners": [{"party": P1, "share_percent": "50"}],
    }
    registered = client.post(f"/api/v1/cases/{a}/assets", json=house, headers=lead_a)
    assert _owner_names(_ok(registered)) == {P1: "Pool Name"}

    replies = [
        registered,
        client.get(f"/api/v1/assets/{proposed['asset_id']}", headers=lead_a),
        client.get(f"/api/v1/assets/{registered.json()['id']}", headers=lead_a),
        client.get(f"/api/v1/cases/{a}/assets", headers=lead_a),
        client.post(
            f"/api/v1/assets/{proposed['asset_id']}/links",
            json={"links": [{"transaction": "TX-2", "note": "the deposit"}]},
            headers=lead_a,
        ),
    ]
    for reply in replies:
        _ok(reply)
        assert "Pool Name" in reply.text
        assert "Hidden Name" not in reply.text
    listed = _ok(replies[3])
    assert listed["next_cursor"] is None
    assert [_owner_names(asset) for asset in listed["items"]] == [{P1: "Pool Name"}] * 2

    # Every other view of the case that names its parties: the overview and the FtM export.
    subjects = [{"party": P1, "role": "suspect"}, {"account": Y, "role": "mule"}]
    for subject in subjects:
        _ok(client.post(f"/api/v1/cases/{a}/subjects", json=subject, headers=lead_a))
    overview = client.get(f"/api/v1/cases/{a}/overview", headers=lead_a)
    _ok(overview)
    assert "Pool Name" in overview.text
    assert "Hidden Name" not in overview.text
    exported = client.get(f"/api/v1/cases/{a}/export/ftm", headers=lead_a)
    assert exported.status_code in (200, 501), exported.text
    assert "Hidden Name" not in exported.text
    if exported.status_code == 200:
        assert "Pool Name" in exported.text

    # Who sees every compartment reads the name p1's creating document stated.
    seen = _ok(client.get(f"/api/v1/assets/{registered.json()['id']}", headers=admin))
    assert _owner_names(seen) == {P1: "Hidden Name"}

    # A list's owners are named in two queries (documents, statements), however many assets.
    assets = asset_service.assets_of_case(session, a)
    assert len(assets) == 2
    assert all(asset.owners for asset in assets)
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.startswith(("SAVEPOINT", "RELEASE")):  # the test's transaction
            statements.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        asset_service.name_owners(session, assets, Compartments(every=False, cases=frozenset({a})))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert [o.name for asset in assets for o in asset.owners] == ["Pool Name"] * 2
    assert len(statements) == 2
