"""Traces see what their caller may see (issue 19): case A's document alone bridges two accounts.

Shared pool: SEED -> X 100.00 (day 1), Y -> Z 60.00 (day 3). Case A's document: X -> Y 60.00
(day 2). Traced from the first transaction under FIFO:

- a non-member of case A sees no bridge: the 100.00 stays at X (held 100.00, exited 0.00, one
  transaction followed);
- a member crosses it: X keeps 40.00, Y passes its 60.00 on, Z holds 60.00 (three followed).

Whoever lacks case A's compartment does not see a trace that read it; a rerun says which
compartments it read that the previous run did not.
"""

from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.apikey.models import ApiKey
from app.principal import Role
from app.source.models import SourceDocument
from app.trace.models import TraceRunAccount
from app.trace.repository import account_hashes
from tests.app.access.test_access_matrix import api_routes
from tests.app.case.test_cases import CRIMINAL
from tests.factories import DE, FR, batch, bearer, make_key, tx

SEED = "iban:DE12500105170648489890"
X = "iban:DE75512108001245126199"
Y = "iban:CY17002001280000001200527600"
Z = "iban:MT84MALT011000012345MTLCAST001S"
W = "iban:FR1420041010050500013M02606"
FIFO = {"seeds": [{"transaction": "B-1"}], "rule": "fifo"}


def _day(n: int) -> str:
    return f"2026-01-0{n}T10:00:00Z"


def _key_id(session: Session, name: str) -> str:
    return session.scalars(select(ApiKey.id).where(ApiKey.name == name)).one()


def _case(client: TestClient, headers: dict[str, str], reference: str) -> int:
    body = {**CRIMINAL, "reference": reference}
    created = client.post("/api/v1/cases", json=body, headers=headers)
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


@pytest.fixture
def world(client: TestClient, session: Session) -> dict:
    admin = bearer(make_key(session))
    lead = bearer(make_key(session, Role.INVESTIGATOR, name="lead of A"))
    outsider = bearer(make_key(session, Role.INVESTIGATOR, name="outsider"))
    shared = batch(
        tx("B-1", SEED, X, "100.00", value_time=_day(1)),
        tx("B-3", Y, Z, "60.00", value_time=_day(3)),
        reference="SHARED-1",
    )
    bridge = batch(tx("B-2", X, Y, "60.00", value_time=_day(2)), reference="CASE-A-1")
    for rows in (shared, bridge):
        stored = client.post("/api/v1/transactions/batch", json=rows, headers=admin)
        assert stored.status_code == 201, stored.text
    case_a = _case(client, lead, "A-2026-1")
    # an admin files the bridge's document in case A (what refiling does)
    session.execute(
        update(SourceDocument).where(SourceDocument.reference == "CASE-A-1").values(case_id=case_a)
    )
    session.flush()
    return {"admin": admin, "lead": lead, "outsider": outsider, "case_a": case_a}


def _trace_operations() -> list[tuple[str, str]]:
    found = [
        (method, route.path)
        for route in api_routes()
        for method in sorted(route.methods)
        if route.path.startswith("/api/v1/traces/{trace_id}")
        # a proposal's body is validated (422) before the trace is looked up
        and not route.path.endswith("/proposals")
    ]
    assert len(found) > 20
    return found


def _trace(client: TestClient, headers: dict[str, str], **extra: object) -> dict:
    made = client.post("/api/v1/traces", json={**FIFO, **extra}, headers=headers)
    assert made.status_code == 201, made.text
    return made.json()


def _held(client: TestClient, headers: dict[str, str], trace_id: str) -> dict[str, Decimal]:
    rows = client.get(f"/api/v1/traces/{trace_id}/accounts", headers=headers)
    assert rows.status_code == 200, rows.text
    return {r["account"]: Decimal(r["held"]) for r in rows.json()["items"]}


def _flows(client: TestClient, headers: dict[str, str], trace_id: str) -> list[str]:
    rows = client.get(f"/api/v1/traces/{trace_id}/flows", headers=headers)
    assert rows.status_code == 200, rows.text
    return [r["transaction"] for r in rows.json()["items"]]


def test_a_non_member_does_not_cross_the_bridge_a_member_does(
    client: TestClient, world: dict
) -> None:
    outsider, lead = world["outsider"], world["lead"]
    blind = _trace(client, outsider)
    assert (blind["summary"]["held"], blind["summary"]["exited"]) == ("100.00", "0.00")
    assert blind["summary"]["transactions_followed"] == 1
    assert _held(client, outsider, blind["id"]) == {X: Decimal("100.00")}
    assert _flows(client, outsider, blind["id"]) == ["B-1"]

    seen = _trace(client, lead)
    assert (seen["summary"]["held"], seen["summary"]["exited"]) == ("100.00", "0.00")
    assert seen["summary"]["transactions_followed"] == 3
    assert _held(client, lead, seen["id"]) == {
        X: Decimal("40.00"),
        Y: Decimal("0.00"),
        Z: Decimal("60.00"),
    }
    assert _flows(client, lead, seen["id"]) == ["B-1", "B-2", "B-3"]

    # An admin sees every compartment: the member's figures.
    every = _trace(client, world["admin"])
    assert every["summary"]["transactions_followed"] == 3


def test_whoever_lacks_a_compartment_a_trace_read_does_not_see_it(
    client: TestClient, session: Session, world: dict
) -> None:
    outsider, lead = world["outsider"], world["lead"]
    # Case B has both on it: by case membership alone the outsider would see its traces.
    case_b = _case(client, lead, "B-2026-1")
    member = {"api_key_id": _key_id(session, "outsider"), "role": "observer"}
    assert client.put(f"/api/v1/cases/{case_b}/members", json=member, headers=lead).is_success
    crossing = _trace(client, lead, case_id=case_b)["id"]
    local = _trace(client, lead, case_id=case_b, max_hops=1)["id"]  # reads X's rows: the bridge
    shared_only = _trace(client, lead, case_id=case_b, seeds=[{"transaction": "B-3"}], max_hops=1)[
        "id"
    ]

    # every operation on one trace, generated from the app's routes
    for method, path in _trace_operations():
        for trace_id in (crossing, local):
            url = path.replace("{trace_id}", trace_id)
            got = client.request(method, url, headers=outsider, params={"to": X}, json={})
            assert got.status_code == 404, (method, path, got.status_code)
            assert got.json()["code"] == "trace_not_found"
    assert client.get(f"/api/v1/traces/{shared_only}", headers=outsider).status_code == 200
    listed = client.get("/api/v1/traces", headers=outsider).json()["items"]
    assert [t["id"] for t in listed] == [shared_only]
    overview = client.get(f"/api/v1/cases/{case_b}/overview", headers=outsider).json()
    assert [t["id"] for t in overview["traces"]] == [shared_only]
    assert client.post(f"/api/v1/traces/{crossing}/rerun", headers=outsider).status_code == 404
    # its members see it, as before
    assert client.get(f"/api/v1/traces/{crossing}", headers=lead).status_code == 200
    assert len(client.get("/api/v1/traces", headers=lead).json()["items"]) == 3


def test_a_rerun_after_membership_changes_says_what_changed(
    client: TestClient, session: Session, world: dict
) -> None:
    outsider, lead, case_a = world["outsider"], world["lead"], world["case_a"]
    blind = _trace(client, outsider)
    member = {"api_key_id": _key_id(session, "outsider"), "role": "observer"}
    assert client.put(f"/api/v1/cases/{case_a}/members", json=member, headers=lead).is_success

    rerun = client.post(f"/api/v1/traces/{blind['id']}/rerun", headers=outsider)
    assert rerun.status_code == 201, rerun.text
    diff = rerun.json()
    assert (diff["compartments_added"], diff["compartments_removed"]) == ([case_a], [])
    assert diff["ledger_changed"] is False
    assert sorted(diff["accounts_added"]) == sorted([Y, Z])
    assert diff["amounts_changed"] == [
        {"account": X, "currency": "EUR", "field": "passed_on", "before": "0.00", "after": "60.00"},
        {"account": X, "currency": "EUR", "field": "held", "before": "100.00", "after": "40.00"},
    ]
    after = diff["trace"]["id"]
    assert _flows(client, outsider, after) == ["B-1", "B-2", "B-3"]

    # Out of case A again: the rerun is out of sight; a rerun of the first run says so too.
    assert client.delete(
        f"/api/v1/cases/{case_a}/members/{_key_id(session, 'outsider')}", headers=lead
    ).is_success
    assert client.get(f"/api/v1/traces/{after}", headers=outsider).status_code == 404
    again = client.post(f"/api/v1/traces/{blind['id']}/rerun", headers=outsider).json()
    assert (again["compartments_added"], again["compartments_removed"]) == ([], [])
    assert again["trace"]["summary"]["transactions_followed"] == 1


def test_the_lake_engine_refuses_whoever_may_not_see_every_compartment(
    client: TestClient, world: dict
) -> None:
    # The lake keeps no compartments: rather than trace over rows the caller may not see, it
    # refuses them (app.trace.service.MaskedTraceOnLake), before it reads the lake.
    runtime = client.app.state.trace_runtime  # type: ignore[attr-defined]
    runtime.settings = runtime.settings.model_copy(update={"trace_engine": "spark"})
    refused = client.post("/api/v1/traces", json=FIFO, headers=world["outsider"])
    assert (refused.status_code, refused.json()["code"]) == (409, "masked_trace_on_lake")
    assert refused.headers["content-type"] == "application/problem+json"


def test_labels_in_trace_outputs_come_only_from_documents_the_reader_may_see(
    client: TestClient, session: Session, world: dict
) -> None:
    # W's holder and bank are stated by a document filed in case A (W was first known from it);
    # Z -> W is shared, so the trace from the shared B-3 reads no row of case A: the outsider
    # sees the trace, but not who holds W nor where.
    kyc = {
        "source": {"kind": "bank_production", "reference": "CASE-A-KYC"},
        "parties": [{"key": "person:A-SECRET-1", "kind": "person", "name": "Secret Holder"}],
        "accounts": [
            {
                "key": W,
                "institution": "Hidden Bank",
                "holders": [{"party": "person:A-SECRET-1", "role": "holder"}],
            }
        ],
    }
    admin = world["admin"]
    assert client.post("/api/v1/accounts/batch", json=kyc, headers=admin).status_code == 201
    onward = batch(tx("B-4", Z, W, "60.00", value_time=_day(4)), reference="SHARED-2")
    assert client.post("/api/v1/transactions/batch", json=onward, headers=admin).status_code == 201
    session.execute(
        update(SourceDocument)
        .where(SourceDocument.reference == "CASE-A-KYC")
        .values(case_id=world["case_a"])
    )
    session.flush()
    body = {"seeds": [{"transaction": "B-3"}], "rule": "fifo"}
    for who, sees in (("outsider", False), ("lead", True)):
        headers = world[who]
        made = client.post("/api/v1/traces", json=body, headers=headers)
        assert made.status_code == 201, made.text
        trace_id = made.json()["id"]
        holders = client.get(f"/api/v1/traces/{trace_id}/accounts", headers=headers).json()
        assert {r["account"]: r["holder"] for r in holders["items"]}[W] == (
            "Secret Holder" if sees else None
        )
        if sees:
            continue
        for method, path in _trace_operations():
            if method != "GET" or path.endswith(("/explain", "/graph.png", "/report.pdf")):
                continue  # explain names no holder; PNG and PDF carry the SVG's and HTML's text
            got = client.get(path.replace("{trace_id}", trace_id), headers=headers)
            # a trace without claimants or backward sources has none to list (409)
            expected = 409 if path.endswith(("/claimants", "/sources")) else 200
            assert got.status_code == expected, (path, got.text)
            assert "Secret Holder" not in got.text, path
            assert "Hidden Bank" not in got.text, path


def test_refiling_a_document_a_trace_read_hides_the_trace_from_non_members(
    client: TestClient, session: Session, world: dict
) -> None:
    outsider, lead, admin = world["outsider"], world["lead"], world["admin"]
    other = batch(tx("O-1", DE, FR, "10.00", value_time=_day(1)), reference="SHARED-2")
    assert client.post("/api/v1/transactions/batch", json=other, headers=admin).is_success
    case_c = _case(client, lead, "C-2026-1")  # its lead is its member
    read = _trace(client, outsider)["id"]  # reads SHARED-1 (B-1: SEED -> X)
    members = _trace(client, lead)["id"]
    elsewhere = _trace(client, outsider, seeds=[{"transaction": "O-1"}])["id"]
    assert client.get(f"/api/v1/traces/{read}", headers=outsider).status_code == 200

    document = client.get("/api/v1/transactions/B-1", headers=admin).json()["source_document_id"]
    body = {"case_id": case_c, "reason": "the statement came under C's production order"}
    moved = client.post(f"/api/v1/sources/{document}/compartment", json=body, headers=admin)
    assert moved.status_code == 200, moved.text

    gone = client.get(f"/api/v1/traces/{read}", headers=outsider)
    assert (gone.status_code, gone.json()["code"]) == (404, "trace_not_found")
    assert [t["id"] for t in client.get("/api/v1/traces", headers=outsider).json()["items"]] == [
        elsewhere
    ]
    # a member of C still sees the traces that read it; one that did not read it stays shown
    assert client.get(f"/api/v1/traces/{members}", headers=lead).status_code == 200
    assert client.get(f"/api/v1/traces/{elsewhere}", headers=outsider).status_code == 200


def test_refiling_finds_traces_stored_before_and_after_their_accounts_were_indexed(
    client: TestClient, session: Session, world: dict
) -> None:
    outsider, admin = world["outsider"], world["admin"]
    other = batch(tx("O-1", DE, FR, "10.00", value_time=_day(1)), reference="SHARED-2")
    assert client.post("/api/v1/transactions/batch", json=other, headers=admin).is_success
    case_c = _case(client, world["lead"], "C-2026-1")
    before = _trace(client, outsider)["id"]
    after = _trace(client, outsider, max_hops=2)["id"]
    elsewhere = _trace(client, outsider, seeds=[{"transaction": "O-1"}])["id"]
    reached = select(TraceRunAccount.account_hash).where(TraceRunAccount.trace_id == before)
    # by a hash of the key, written in one statement
    assert set(session.scalars(reached)) == set(account_hashes([X]))
    # As a run stored before the index was: its reached accounts are in its frames alone.
    session.execute(delete(TraceRunAccount).where(TraceRunAccount.trace_id == before))
    session.flush()

    document = client.get("/api/v1/transactions/B-1", headers=admin).json()["source_document_id"]
    body = {"case_id": case_c, "reason": "the statement came under C's production order"}
    moved = client.post(f"/api/v1/sources/{document}/compartment", json=body, headers=admin)
    assert moved.status_code == 200, moved.text

    for hidden in (before, after):
        gone = client.get(f"/api/v1/traces/{hidden}", headers=outsider)
        assert (gone.status_code, gone.json()["code"]) == (404, "trace_not_found")
    assert client.get(f"/api/v1/traces/{elsewhere}", headers=outsider).status_code == 200
    # The older run is indexed now, from its frame.
    assert set(session.scalars(reached)) == set(account_hashes([X]))
