"""A stored trace keeps the engine ids it ran with; an admin's refiling renames the rows since
(docs/engine-ids.md). Its report, freezing proposals and rerun still find the same
transactions, and its stored result stays as it was (issue 19)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.principal import Role
from app.trace.models import TraceRun
from app.transaction import service as transaction_service
from app.transaction.service import LedgerRead
from tests.factories import bearer, make_key, tx

SEED = "iban:GB29NWBK60161331926819"
X = "iban:NL91ABNA0417164300"
Y = "iban:CY17002001280000001200527600"
Z = "iban:FR1420041010050500013M02606"
CASE = {
    "reference": "A-2026-7",
    "title": "case A",
    "kind": "criminal_investigation",
    "jurisdiction": "DE",
    "predicate_offences": ["fraud"],
    "lead_agency": "BKA",
}


def _ok(reply: Any) -> Any:
    assert reply.status_code in (200, 201), reply.text
    return reply.json()


def _load(client: TestClient, key: dict[str, str], reference: str, rows: list[Any]) -> str:
    body = {"source": {"kind": "bank_statement", "reference": reference}, "transactions": rows}
    return str(
        _ok(client.post("/api/v1/transactions/batch", json=body, headers=key))["source_document_id"]
    )


def _refile(
    client: TestClient, key: dict[str, str], document: str, case_id: int | None, reason: str
) -> None:
    """File a source document in a case's compartment (None: the shared pool)."""
    reply = client.post(
        f"/api/v1/sources/{document}/compartment",
        json={"case_id": case_id, "reason": reason},
        headers=key,
    )
    _ok(reply)


@pytest.fixture
def traced(client: TestClient, session: Session) -> dict[str, Any]:
    """A pool statement (TX-1 seeds 100.00 into X, TX-2 moves it on to Y), a trace of it in
    case A, then the statement refiled into case A by an admin."""
    admin = bearer(make_key(session, Role.ADMIN, name="admin"))
    lead = bearer(make_key(session, Role.INVESTIGATOR, name="lead of A"))
    document = _load(
        client,
        admin,
        "POOL-1",
        [
            tx("TX-1", SEED, X, "100.00", value_time="2026-01-01T10:00:00Z"),
            tx("TX-2", X, Y, "100.00", value_time="2026-01-02T10:00:00Z"),
        ],
    )
    ids = {
        e: _ok(client.get(f"/api/v1/transactions/{e}", headers=admin))["id"]
        for e in ("TX-1", "TX-2")
    }
    case_id = _ok(client.post("/api/v1/cases", json=CASE, headers=lead))["id"]
    body = {"seeds": [{"transaction": "TX-1"}], "rule": "fifo", "case_id": case_id}
    trace = _ok(client.post("/api/v1/traces", json=body, headers=lead))
    _refile(client, admin, document, case_id, "court order")
    return {
        "admin": admin,
        "lead": lead,
        "case_id": case_id,
        "trace": trace,
        "document": document,
        "ids": ids,
    }


def _flows(client: TestClient, key: dict[str, str], trace_id: str) -> list[str]:
    rows = _ok(client.get(f"/api/v1/traces/{trace_id}/flows", headers=key))
    return [r["transaction"] for r in rows["items"]]


def test_the_stored_result_keeps_its_names_and_digest(
    client: TestClient, traced: dict[str, Any]
) -> None:
    trace, lead = traced["trace"], traced["lead"]
    assert _flows(client, lead, trace["id"]) == ["TX-1", "TX-2"]
    again = _ok(client.get(f"/api/v1/traces/{trace['id']}", headers=lead))
    assert again["result_sha256"] == trace["result_sha256"]


def test_the_report_names_the_refiled_document(client: TestClient, traced: dict[str, Any]) -> None:
    case_id = traced["case_id"]
    # the name TX-1 is the pool's again: another statement's row
    _load(client, traced["admin"], "POOL-2", [tx("TX-1", Z, X, "5.00")])
    trace_id, lead = traced["trace"]["id"], traced["lead"]
    html = client.get(f"/api/v1/traces/{trace_id}/report.html", headers=lead)
    assert html.status_code == 200, html.text
    assert "POOL-1" in html.text
    assert "POOL-2" not in html.text
    # and the engine names the refiled rows by their new compartment
    assert (
        _ok(client.get(f"/api/v1/transactions/TX-2@case:{case_id}", headers=lead))["id"]
        == (traced["ids"]["TX-2"])
    )


def test_proposals_link_the_rows_that_carried_the_taint(
    client: TestClient, traced: dict[str, Any]
) -> None:
    trace_id, lead = traced["trace"]["id"], traced["lead"]
    made = _ok(
        client.post(
            f"/api/v1/traces/{trace_id}/proposals",
            json={"case_id": traced["case_id"]},
            headers=lead,
        )
    )
    assert [(c["account"], c["held"], c["transactions"]) for c in made["created"]] == [
        (Y, "100.00", ["TX-2"])
    ]
    asset = _ok(client.get(f"/api/v1/assets/{made['created'][0]['asset_id']}", headers=lead))
    linked = [link["transaction_id"] for link in asset["links"] if link["transaction_id"]]
    assert linked == [traced["ids"]["TX-2"]]


def test_rerun_seeds_the_renamed_row_and_says_so(
    client: TestClient, traced: dict[str, Any]
) -> None:
    trace_id, lead, case_id = traced["trace"]["id"], traced["lead"], traced["case_id"]
    diff = client.post(f"/api/v1/traces/{trace_id}/rerun", headers=lead)
    assert diff.status_code == 201, diff.text
    body = diff.json()
    assert body["seeds_renamed"] == [{"before": "TX-1", "after": f"TX-1@case:{case_id}"}]
    assert body["transactions_renamed"] == 2
    assert (body["accounts_added"], body["accounts_removed"], body["totals_changed"]) == (
        [],
        [],
        {},
    )
    assert body["compartments_added"] == []
    assert _flows(client, lead, body["trace"]["id"]) == [
        f"TX-1@case:{case_id}",
        f"TX-2@case:{case_id}",
    ]
    # the stored run is unchanged
    again = _ok(client.get(f"/api/v1/traces/{trace_id}", headers=lead))
    assert again["result_sha256"] == traced["trace"]["result_sha256"]
    assert _flows(client, lead, trace_id) == ["TX-1", "TX-2"]


def test_names_resolve_through_several_refilings(
    client: TestClient, session: Session, traced: dict[str, Any]
) -> None:
    case_id, ids = traced["case_id"], traced["ids"]
    _refile(client, traced["admin"], traced["document"], None, "filed in the case by mistake")
    run = session.get(TraceRun, traced["trace"]["id"])
    assert run is not None
    read = LedgerRead(run.created_at, run.refilings)
    found = transaction_service.transactions_named_at(session, ["TX-1", "TX-2"], read)
    assert {n: (f.id, f.engine_id) for n, f in found.items()} == {
        "TX-1": (ids["TX-1"], "TX-1"),
        "TX-2": (ids["TX-2"], "TX-2"),
    }
    # a name borne only for a while (a run that read its ledger just before a refiling) still
    # finds its row
    later = datetime.now(UTC) + timedelta(seconds=1)
    named = f"TX-2@case:{case_id}"
    found = transaction_service.transactions_named_at(
        session, [named, "TX-9"], LedgerRead(later, None)
    )
    assert {n: f.id for n, f in found.items()} == {named: ids["TX-2"]}


def test_a_name_freed_and_taken_again_before_the_run_started_is_the_row_the_ledger_held(
    client: TestClient, session: Session, traced: dict[str, Any]
) -> None:
    """The run read its ledger before both refilings (POOL-1 into case A freed TX-1, then a
    case-B statement holding TX-1 refiled into the pool took it) but started after them: it
    names the row its ledger held, as the refilings its ledger had seen tell, not by time."""
    admin, lead, ids = traced["admin"], traced["lead"], traced["ids"]
    other = _ok(client.post("/api/v1/cases", json={**CASE, "reference": "B-1"}, headers=admin))
    body = {
        "source": {"kind": "bank_statement", "reference": "CASE-B-1", "case_id": other["id"]},
        "transactions": [tx("TX-1", Z, X, "5.00")],
    }
    document = _ok(client.post("/api/v1/transactions/batch", json=body, headers=admin))
    _refile(client, admin, document["source_document_id"], None, "shared intelligence")
    assert _ok(client.get("/api/v1/transactions/TX-1", headers=admin))["id"] != ids["TX-1"]
    run = session.get(TraceRun, traced["trace"]["id"])
    assert run is not None
    assert run.refilings == 0  # its ledger was read before any refiling
    run.created_at = datetime.now(UTC) + timedelta(seconds=1)  # started after both
    session.commit()
    found = transaction_service.transactions_named_at(
        session, ["TX-1", "TX-2"], LedgerRead(run.created_at, run.refilings)
    )
    assert {n: f.id for n, f in found.items()} == {"TX-1": ids["TX-1"], "TX-2": ids["TX-2"]}
    html = client.get(f"/api/v1/traces/{run.id}/report.html", headers=lead)
    assert html.status_code == 200, html.text
    assert "POOL-1" in html.text
    assert "CASE-B-1" not in html.text
