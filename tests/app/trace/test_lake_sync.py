"""`moneytrail lake sync`: the database's ledger copied to the lake, document by document."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.cli import build_parser
from app.trace.lake_sync import sync_lake
from app.trace.ledger_cache import LedgerCache
from lake import Lake
from tests.app.case.test_cases import CRIMINAL
from tests.factories import batch, tx


@pytest.fixture
def key(demo_admin: dict[str, str]) -> dict[str, str]:
    return demo_admin


def test_sync_copies_the_ledger_and_then_only_new_documents(
    client: TestClient, session: Session, key: dict[str, str], tmp_path: Path
) -> None:
    first = sync_lake(session, tmp_path, buckets=4)
    ledger = LedgerCache().current(session)
    # The manifest's id is the fingerprint the in-memory engine gives the same ledger.
    assert first.id == ledger.fingerprint
    assert first.transactions == ledger.n_transactions
    assert len(first.documents) == 1
    assert sync_lake(session, tmp_path) == first  # nothing new, nothing written

    late = tx("LAKE-1", "iban:DE89370400440532013000", "cash:atm", "12.34", currency="JPY")
    late["amount"] = "1234"
    r = client.post("/api/v1/transactions/batch", json=batch(late, reference="PO-9"), headers=key)
    assert r.status_code == 201, r.text
    second = sync_lake(session, tmp_path)
    assert second.previous == first.id
    assert len(second.documents) == 2
    assert second.files[: len(first.files)] == first.files
    assert sum(f.rows for f in second.files[len(first.files) :]) == 1
    assert second.decimals["JPY"] == 0
    assert second.id == LedgerCache().current(session).fingerprint
    row = Lake(tmp_path).rows().filter(external_id="LAKE-1").row(0, named=True)
    assert (row["amount_minor"], row["currency"], row["to_account"]) == (1234, "JPY", "cash:atm")


def test_the_cli_names_the_lake_directory() -> None:
    args = build_parser().parse_args(["lake", "sync", "--to", "/srv/lake"])
    assert (args.to, args.buckets) == ("/srv/lake", 64)


def test_sync_carries_a_confirmed_duplicate_out_of_the_lakes_ledger(
    client: TestClient, session: Session, key: dict[str, str], tmp_path: Path
) -> None:
    demo = sync_lake(session, tmp_path, buckets=4)
    again = tx("LAKE-2", "iban:DE75512108001245126199", "ext:Autohaus Premium GmbH", "3500.00")
    again["value_time"] = "2026-01-20T15:30:00Z"
    r = client.post("/api/v1/transactions/batch", json=batch(again, reference="STR-9"), headers=key)
    assert r.status_code == 201, r.text
    doubled = sync_lake(session, tmp_path)
    assert doubled.transactions == demo.transactions + 1
    (match,) = client.get("/api/v1/duplicates", headers=key).json()["items"]
    reason = {"reason": "The STR restates the bank's payment"}
    r = client.post(f"/api/v1/duplicates/{match['id']}/confirm", json=reason, headers=key)
    assert r.status_code == 200, r.text
    # The row stays in its file; an exclusion file drops it, and the ledger is the demo's again.
    once = sync_lake(session, tmp_path)
    assert (once.id, once.transactions) == (demo.id, demo.transactions)
    assert once.id == LedgerCache().current(session).fingerprint
    assert (once.files, once.previous) == (doubled.files, doubled.id)
    assert [f.rows for f in once.exclusion_files] == [1]
    assert "LAKE-2" not in Lake(tmp_path).rows()["external_id"].to_list()


def test_sync_copies_a_refiled_document_again_under_its_new_engine_ids(
    client: TestClient, session: Session, key: dict[str, str], tmp_path: Path
) -> None:
    pool = sync_lake(session, tmp_path, buckets=4)
    (document,) = pool.documents
    case = client.post("/api/v1/cases", json=CRIMINAL, headers=key)
    assert case.status_code == 201, case.text
    case_id = int(case.json()["id"])

    def refile(to: int | None) -> None:
        body = {"case_id": to, "reason": "the court order covers this production"}
        r = client.post(f"/api/v1/sources/{document}/compartment", json=body, headers=key)
        assert r.status_code == 200, r.text
        session.expire_all()

    refile(case_id)
    filed = sync_lake(session, tmp_path)
    # The rows carry the case's engine ids, as the database's ledger does, and nothing else.
    assert filed.id == LedgerCache().current(session).fingerprint != pool.id
    assert (filed.transactions, filed.filed) == (pool.transactions, {document: case_id})
    ids = Lake(tmp_path).rows()["external_id"].to_list()
    assert len(ids) == pool.transactions
    assert all(i.endswith(f"@case:{case_id}") for i in ids)
    assert not set(filed.files) & set(pool.files)  # rewritten, never edited in place
    assert sync_lake(session, tmp_path) == filed

    refile(None)
    back = sync_lake(session, tmp_path)
    assert (back.id, back.filed, back.previous) == (pool.id, {}, filed.id)
    assert sorted(Lake(tmp_path).rows()["external_id"]) == sorted(i.split("@")[0] for i in ids)


def test_a_name_a_refiling_freed_and_a_new_row_took_before_the_sync_stays_in_the_lake(
    client: TestClient, session: Session, key: dict[str, str], tmp_path: Path
) -> None:
    # The pool's LAKE-2 is a confirmed duplicate, excluded under its name; the lake knows it.
    again = tx("LAKE-2", "iban:DE75512108001245126199", "ext:Autohaus Premium GmbH", "3500.00")
    again["value_time"] = "2026-01-20T15:30:00Z"
    r = client.post("/api/v1/transactions/batch", json=batch(again, reference="STR-9"), headers=key)
    assert r.status_code == 201, r.text
    document = r.json()["source_document_id"]
    (match,) = client.get("/api/v1/duplicates", headers=key).json()["items"]
    reason = {"reason": "The STR restates the bank's payment"}
    r = client.post(f"/api/v1/duplicates/{match['id']}/confirm", json=reason, headers=key)
    assert r.status_code == 200, r.text
    before = sync_lake(session, tmp_path, buckets=4)
    assert Lake(tmp_path).excluded(before) == {"LAKE-2"}
    # Its document goes into a case (the row becomes LAKE-2@case:n, still excluded), and before
    # the next sync the pool stores another LAKE-2: a row of the ledger.
    case = client.post("/api/v1/cases", json=CRIMINAL, headers=key)
    assert case.status_code == 201, case.text
    body = {"case_id": case.json()["id"], "reason": "the court order covers this production"}
    r = client.post(f"/api/v1/sources/{document}/compartment", json=body, headers=key)
    assert r.status_code == 200, r.text
    other = tx("LAKE-2", "iban:DE89370400440532013000", "cash:atm", "12.34")
    r = client.post("/api/v1/transactions/batch", json=batch(other, reference="PO-9"), headers=key)
    assert r.status_code == 201, r.text
    session.expire_all()
    after = sync_lake(session, tmp_path)
    assert after.id == LedgerCache().current(session).fingerprint
    assert after.transactions == before.transactions + 1
    kept = Lake(tmp_path).rows().filter(external_id="LAKE-2")
    assert kept.get_column("to_account").to_list() == ["cash:atm"]
    assert Lake(tmp_path).excluded(after) == {f"LAKE-2@case:{case.json()['id']}"}
