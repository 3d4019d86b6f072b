"""One transfer from two sources: flagged on load, decided by a person, counted once when
confirmed.

Worked figures (LIBR on the demo, EUR; see tests/app/trace/test_trace_api.py): Nordlicht, after
paying Limassol on 01-15, holds 14,000 all taint; its 3,500 car deposit (DEMO-L06) leaves the
traced universe, so held 43,000.00 and exited 3,500.00. A goAML report re-reports that payment
at 15:30 the same day (G-77). Counted twice, Nordlicht pays 3,500 taint twice: held 39,500.00,
exited 7,000.00 (46,500 seeded). Once the match is confirmed, the engine reads the
demo's rows alone again: held 43,000.00, and the ledger's fingerprint is the demo's own.
"""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.demo.service import SEED_TRANSACTIONS
from app.principal import Role
from app.settings import Settings
from app.transaction import bulk
from app.transaction import duplicates as duplicate_rows
from tests.factories import batch, bearer, make_key, tx

NORDLICHT = "iban:DE75512108001245126199"
CAR_DEALER = "ext:Autohaus Premium GmbH"
EXCHANGE = "iban:MT84MALT011000012345MTLCAST001S"


@pytest.fixture
def admin(demo_admin: dict[str, str]) -> dict[str, str]:
    return demo_admin


def goaml(*rows: dict[str, Any]) -> dict[str, Any]:
    body = batch(*rows, reference="STR-2026-4")
    body["source"]["kind"] = "goaml_report"
    return body


def libr(client: TestClient, key: dict[str, str]) -> dict[str, Any]:
    body = {"seeds": [{"transaction": t} for t in SEED_TRANSACTIONS], "rule": "libr"}
    r = client.post("/api/v1/traces", json={**body, "stop_at": [EXCHANGE]}, headers=key)
    assert r.status_code == 201, r.text
    return r.json()


def duplicates(client: TestClient, key: dict[str, str], **query: str) -> list[dict[str, Any]]:
    r = client.get("/api/v1/duplicates", params=query, headers=key)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_a_transfer_reported_twice_is_flagged_warned_about_and_counted_once_when_confirmed(
    client: TestClient, admin: dict[str, str]
) -> None:
    clean = libr(client, admin)
    assert (clean["summary"]["held"], clean["summary"]["exited"]) == ("43000.00", "3500.00")
    assert "warnings" not in clean["summary"]

    again = tx("G-77", NORDLICHT, CAR_DEALER, "3500.00", value_time="2026-01-20T15:30:00Z")
    assert client.post("/api/v1/transactions/batch", json=goaml(again), headers=admin).is_success
    (match,) = duplicates(client, admin)
    assert match["state"] == "probable"
    assert (match["transaction"]["external_id"], match["original"]["external_id"]) == (
        "G-77",
        "DEMO-L06",
    )
    assert match["transaction"]["source_document_id"] != match["original"]["source_document_id"]

    doubled = libr(client, admin)
    assert (doubled["summary"]["held"], doubled["summary"]["exited"]) == ("39500.00", "7000.00")
    assert doubled["summary"]["warnings"] == [
        {
            "code": "probable_duplicates",
            "count": 1,
            "detail": "1 probable duplicate(s) among the transactions this trace used are "
            "undecided: a transfer reported by two sources may be counted twice "
            "(GET /api/v1/duplicates)",
        }
    ]
    assert doubled["ledger_fingerprint"] != clean["ledger_fingerprint"]

    r = client.post(
        f"/api/v1/duplicates/{match['id']}/confirm",
        json={"reason": "The STR restates the bank's SEPA payment of 20 January"},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    decided = r.json()
    assert decided["state"] == "confirmed"
    assert decided["reason"] == "The STR restates the bank's SEPA payment of 20 January"
    assert decided["decided_by"] is not None
    assert decided["decided_at"] is not None

    once = libr(client, admin)
    assert (once["summary"]["held"], once["summary"]["exited"]) == ("43000.00", "3500.00")
    assert "warnings" not in once["summary"]
    # The engine reads exactly the demo's rows again: the very ledger the first trace ran on.
    assert once["ledger_fingerprint"] == clean["ledger_fingerprint"]
    # Both records keep their provenance, and the trace run before the decision its result.
    g77 = client.get("/api/v1/transactions/G-77", headers=admin).json()
    assert g77["source_document_id"] == match["transaction"]["source_document_id"]
    kept = client.get(f"/api/v1/traces/{doubled['id']}", headers=admin).json()
    assert kept["summary"]["held"] == "39500.00"
    assert duplicates(client, admin, state="probable") == []
    assert [d["id"] for d in duplicates(client, admin, state="confirmed")] == [match["id"]]


def test_a_rejected_match_stays_traced_and_a_decision_is_not_changed(
    client: TestClient, admin: dict[str, str]
) -> None:
    again = tx("G-78", NORDLICHT, CAR_DEALER, "3500.00", value_time="2026-01-19T23:00:00Z")
    client.post("/api/v1/transactions/batch", json=goaml(again), headers=admin)
    (match,) = duplicates(client, admin)
    reason = {"reason": "Second instalment, confirmed by the dealer's invoice"}
    r = client.post(f"/api/v1/duplicates/{match['id']}/reject", json=reason, headers=admin)
    assert (r.status_code, r.json()["state"]) == (200, "rejected")
    # Two real payments: both traced, and no warning any more.
    two = libr(client, admin)
    assert (two["summary"]["held"], two["summary"]["exited"]) == ("39500.00", "7000.00")
    assert "warnings" not in two["summary"]

    r = client.post(f"/api/v1/duplicates/{match['id']}/confirm", json=reason, headers=admin)
    assert (r.status_code, r.json()["code"]) == (409, "duplicate_decided")
    r = client.post("/api/v1/duplicates/999999/confirm", json=reason, headers=admin)
    assert (r.status_code, r.json()["code"]) == (404, "duplicate_not_found")
    r = client.post(f"/api/v1/duplicates/{match['id']}/reject", json={}, headers=admin)
    assert r.status_code == 422


@pytest.mark.parametrize("narrowest", [1000, 0], ids=["payees-and-amounts", "payers-only"])
def test_only_a_match_from_another_document_within_the_tolerance_is_flagged(
    client: TestClient, admin: dict[str, str], narrowest: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A small batch's look-up names its payees and amounts too; a large one's only its payers:
    # both find the same matches.
    monkeypatch.setattr(duplicate_rows, "NARROW_KEYS_MAX", narrowest)
    rows = [
        # 1 day and 1 second after DEMO-L06: beyond the default tolerance of one day.
        tx("G-1", NORDLICHT, CAR_DEALER, "3500.00", value_time="2026-01-21T10:00:01Z"),
        # Another amount, another currency, another payee.
        tx("G-2", NORDLICHT, CAR_DEALER, "3500.01", value_time="2026-01-20T10:00:00Z"),
        tx("G-3", NORDLICHT, CAR_DEALER, "3500", currency="USD", value_time="2026-01-20T10:00Z"),
        tx("G-4", NORDLICHT, "ext:Autohaus Nord", "3500.00", value_time="2026-01-20T10:00:00Z"),
        # Exactly one day before: inside.
        tx("G-5", NORDLICHT, CAR_DEALER, "3500.00", value_time="2026-01-19T10:00:00Z"),
    ]
    client.post("/api/v1/transactions/batch", json=goaml(*rows), headers=admin)
    assert [
        (d["transaction"]["external_id"], d["original"]["external_id"])
        for d in duplicates(client, admin)
    ] == [("G-5", "DEMO-L06")]
    # A later document matching both earlier records is flagged against each.
    late = tx("B-9", NORDLICHT, CAR_DEALER, "3500.00", value_time="2026-01-19T12:00:00Z")
    client.post("/api/v1/transactions/batch", json=batch(late, reference="PO-9"), headers=admin)
    found = {
        (d["transaction"]["external_id"], d["original"]["external_id"])
        for d in duplicates(client, admin)
    }
    assert found == {("G-5", "DEMO-L06"), ("B-9", "DEMO-L06"), ("B-9", "G-5")}


def test_a_small_batch_reads_only_the_stored_rows_that_could_match_it(
    client: TestClient, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A busy payer's other transfers in the window are not read for a few new rows."""
    busy = [
        tx(f"B-{i}", NORDLICHT, f"ext:Shop {i}", f"{100 + i}.00", value_time="2026-02-02T10:00Z")
        for i in range(40)
    ]
    assert client.post("/api/v1/transactions/batch", json=batch(*busy), headers=admin).is_success
    read = bulk._read_frame
    stored: list[int] = []

    def counting(conn: Any, query: str, schema: Any) -> Any:
        found = read(conn, query, schema)
        if "FROM transactions t" in query:
            stored.append(found.height)
        return found

    monkeypatch.setattr(bulk, "_read_frame", counting)
    again = tx("R-7", NORDLICHT, "ext:Shop 7", "107.00", value_time="2026-02-02T11:00Z")
    body = goaml(again)
    assert client.post("/api/v1/transactions/batch", json=body, headers=admin).is_success
    assert stored == [1]  # B-7 alone, not the payer's 40 rows that day
    assert [
        (d["transaction"]["external_id"], d["original"]["external_id"])
        for d in duplicates(client, admin)
    ] == [("R-7", "B-7")]


def test_the_tolerance_is_a_setting(
    session: Session, settings: Settings, admin: dict[str, str]
) -> None:
    from app.main import create_app

    narrow = create_app(settings.model_copy(update={"duplicate_tolerance_seconds": 3600}))
    from app.db import get_session

    narrow.dependency_overrides[get_session] = lambda: session
    narrow.state.audit_sink = lambda entry: None
    with TestClient(narrow) as c:
        rows = [
            tx("N-1", NORDLICHT, CAR_DEALER, "3500.00", value_time="2026-01-20T11:00:00Z"),
            tx("N-2", NORDLICHT, CAR_DEALER, "3500.00", value_time="2026-01-20T11:00:01Z"),
        ]
        c.post("/api/v1/transactions/batch", json=goaml(*rows), headers=admin)
        assert [d["transaction"]["external_id"] for d in duplicates(c, admin)] == ["N-1"]


def test_an_analyst_reads_the_list_but_only_a_writer_decides(
    client: TestClient, session: Session, admin: dict[str, str]
) -> None:
    again = tx("G-77", NORDLICHT, CAR_DEALER, "3500.00", value_time="2026-01-20T15:30:00Z")
    client.post("/api/v1/transactions/batch", json=goaml(again), headers=admin)
    analyst = bearer(make_key(session, Role.ANALYST))
    (match,) = duplicates(client, analyst)
    reason = {"reason": "looks the same"}
    r = client.post(f"/api/v1/duplicates/{match['id']}/confirm", json=reason, headers=analyst)
    assert r.status_code == 403


def test_an_accounts_totals_count_a_confirmed_duplicate_once(
    client: TestClient, admin: dict[str, str]
) -> None:
    def paid_out() -> dict[str, Any]:
        r = client.get(f"/api/v1/accounts/{NORDLICHT}", headers=admin)
        assert r.status_code == 200, r.text
        (eur,) = r.json()["totals"]
        return {"count_out": eur["count_out"], "total_out": eur["total_out"]}

    before = paid_out()
    again = tx("G-77", NORDLICHT, CAR_DEALER, "3500.00", value_time="2026-01-20T15:30:00Z")
    assert client.post("/api/v1/transactions/batch", json=goaml(again), headers=admin).is_success
    undecided = paid_out()
    # Until a person decides, both reports are records of the ledger, as the engine counts them.
    assert undecided["count_out"] == before["count_out"] + 1
    (match,) = duplicates(client, admin)
    r = client.post(
        f"/api/v1/duplicates/{match['id']}/confirm",
        json={"reason": "The STR restates the bank's SEPA payment"},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    assert paid_out() == before
