"""The ledger index shared by worker processes: built once, mapped by each, reloaded by
fingerprint when the ledger grows, never taken from another database."""

import json
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.trace.ledger_cache import LedgerCache
from app.trace.ledger_index import SharedIndex
from tests.factories import batch, tx

URL = "sqlite:///the-database"


@pytest.fixture
def key(demo_admin: dict[str, str]) -> dict[str, str]:
    return demo_admin


def worker(folder: Path, url: str = URL) -> LedgerCache:
    """The ledger cache of one worker process."""
    return LedgerCache(SharedIndex(folder, database_url=url, keep=2))


def test_one_worker_builds_the_index_and_another_maps_it(
    client: TestClient, session: Session, key: dict[str, str], tmp_path: Path
) -> None:
    first = worker(tmp_path)
    ledger = first.current(session)
    assert first.builds == 1
    assert (tmp_path / ledger.fingerprint / "meta.json").is_file()
    # The copy the builder made is dropped for the mapped file, as every other worker has it.
    assert isinstance(ledger.src.base, np.memmap)
    second = worker(tmp_path)
    assert second.current(session).fingerprint == ledger.fingerprint
    assert second.builds == 0
    assert first.current(session) is ledger  # nothing new: not even the pointer is read

    late = tx("IDX-1", "iban:DE89370400440532013000", "cash:atm", "12.34")
    r = client.post("/api/v1/transactions/batch", json=batch(late, reference="PO-9"), headers=key)
    assert r.status_code == 201, r.text
    grown = second.current(session)
    assert (second.builds, grown.n_transactions) == (1, ledger.n_transactions + 1)
    # The first worker finds the database ahead of it and maps the version the second wrote.
    assert first.current(session).fingerprint == grown.fingerprint
    assert first.builds == 1
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == sorted(
        [ledger.fingerprint, grown.fingerprint]
    )
    # The same ledger built in memory, without an index, has the same fingerprint.
    assert LedgerCache().current(session).fingerprint == grown.fingerprint


def test_an_index_of_other_data_is_never_mapped(
    client: TestClient, session: Session, key: dict[str, str], tmp_path: Path
) -> None:
    built = worker(tmp_path).current(session)
    elsewhere = worker(tmp_path, url="sqlite:///another-database")
    assert elsewhere.current(session).fingerprint == built.fingerprint
    assert elsewhere.builds == 1  # its own pointer: another database's index is not its
    pointer = next(tmp_path.glob("current-*.json"))
    stale = {**json.loads(pointer.read_text()), "last_external_id": "NOT-THIS-ONE"}
    for path in tmp_path.glob("current-*.json"):
        path.write_text(json.dumps(stale))
    fresh = worker(tmp_path)
    assert fresh.current(session).fingerprint == built.fingerprint
    assert fresh.builds == 1  # the pointer named a transaction this database does not hold


def test_a_record_leaving_the_ledger_makes_every_worker_map_a_new_version(
    client: TestClient, session: Session, key: dict[str, str], tmp_path: Path
) -> None:
    first, second = worker(tmp_path), worker(tmp_path)
    demo = first.current(session)
    again = tx("IDX-2", "iban:DE75512108001245126199", "ext:Autohaus Premium GmbH", "3500.00")
    again["value_time"] = "2026-01-20T15:30:00Z"
    body = batch(again, reference="STR-2026-4")
    assert client.post("/api/v1/transactions/batch", json=body, headers=key).status_code == 201
    doubled = second.current(session)
    assert doubled.n_transactions == demo.n_transactions + 1
    assert first.current(session).fingerprint == doubled.fingerprint
    (match,) = client.get("/api/v1/duplicates", headers=key).json()["items"]
    reason = {"reason": "The STR restates the bank's payment"}
    r = client.post(f"/api/v1/duplicates/{match['id']}/confirm", json=reason, headers=key)
    assert r.status_code == 200, r.text
    # Not an append: the ledger is built anew, once, without the record, and every worker maps
    # that version; its fingerprint is the demo's own again.
    once = first.current(session)
    assert (once.n_transactions, once.fingerprint) == (demo.n_transactions, demo.fingerprint)
    assert second.current(session).fingerprint == demo.fingerprint
    assert second.builds == 1
    pointer = json.loads(next(tmp_path.glob("current-*.json")).read_text())
    assert pointer["excluded"] >= 1
