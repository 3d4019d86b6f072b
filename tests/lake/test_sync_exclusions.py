"""Records that leave the database's ledger leave the lake's: `moneytrail lake sync` carries a
confirmed duplicate and a correction, the manifest names the in-memory ledger's fingerprint,
and a Spark trace gives the memory engine's accounts, flows, exits, flags and summary.

Worked figures (LIBR on the demo, stopped at the exchange; tests/app/ledger/test_corrections.py):
the bank corrects Nordlicht's 25,000.00 payment to Limassol (DEMO-L05) to 19,000.00, which then
carries 19,000 - 14,100 own money = 4,900.00 of taint there. Nordlicht keeps 20,000 of taint
less the 3,500.00 car deposit: 16,500.00. An STR restating that deposit is a second record of
it: while unconfirmed the car dealer holds 7,000.00 and Nordlicht holds 13,000.00; once the
duplicate is confirmed the figures are the corrected demo's again: 3,500.00 at the dealer (the
trace runs on into external accounts here) and 46,500.00 held in all.
"""

from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient
from polars.testing import assert_frame_equal
from sqlalchemy.orm import Session

from app.demo.service import EXCHANGE_ACCOUNT, SEED_TRANSACTIONS
from app.trace.lake_sync import sync_lake
from app.trace.ledger_cache import LedgerCache
from lake import Lake, trace_lake
from tests.factories import batch, bearer, make_key, tx
from tracing import TraceParams, TraceResult, trace

pytestmark = pytest.mark.spark

NORDLICHT = "iban:DE75512108001245126199"
LIMASSOL = "iban:CY17002001280000001200527600"
DEALER = "ext:Autohaus Premium GmbH"
PARAMS = TraceParams(
    seed_transactions=SEED_TRANSACTIONS, rule="libr", stop_at=frozenset({EXCHANGE_ACCOUNT})
)


def _same_trace(spark: object, session: Session, lake: Lake) -> TraceResult:
    """The Spark trace on the lake, checked equal to the memory trace on the database."""
    ledger = LedgerCache().current(session)
    manifest = lake.require_manifest()
    assert (manifest.id, manifest.transactions) == (ledger.fingerprint, ledger.n_transactions)
    got, want = trace_lake(spark, lake, PARAMS), trace(ledger, PARAMS)
    for name in ("accounts", "flows", "exits", "flags"):
        assert_frame_equal(getattr(got, name), getattr(want, name))
    assert got.summary == want.summary
    assert got.provenance.ledger_fingerprint == ledger.fingerprint
    return got


def _held(result: TraceResult, account: str) -> Decimal:
    return result.accounts.filter(pl.col("account") == account).get_column("held").item()


def test_the_lake_drops_confirmed_duplicates_and_superseded_records(
    client: TestClient, session: Session, spark: object, tmp_path: Path
) -> None:
    key = bearer(make_key(session))
    assert client.post("/api/v1/demo", headers=key).status_code == 201
    again = tx("STR-1", NORDLICHT, DEALER, "3500.00", value_time="2026-01-20T15:30:00Z")
    r = client.post("/api/v1/transactions/batch", json=batch(again, reference="STR-4"), headers=key)
    assert r.status_code == 201, r.text
    lake = Lake(tmp_path / "lake")
    first = sync_lake(session, lake.root, buckets=4)

    correction = {
        "source": {"kind": "bank_letter", "reference": "PO-2026-017/3"},
        "reason": "The SWIFT payment was 19,000.00",
        "transaction": tx(
            "DEMO-L05-c1", NORDLICHT, LIMASSOL, "19000.00", value_time="2026-01-15T10:00:00Z"
        ),
    }
    r = client.post("/api/v1/transactions/DEMO-L05/corrections", json=correction, headers=key)
    assert r.status_code == 201, r.text
    second = sync_lake(session, lake.root)
    # The record superseded stays in the demo's file; an exclusion file drops it.
    assert second.files[: len(first.files)] == first.files
    assert sum(f.rows for f in second.exclusion_files) == 1
    assert "DEMO-L05" not in lake.rows()["external_id"].to_list()
    corrected = _same_trace(spark, session, lake)
    assert _held(corrected, LIMASSOL) == Decimal("4900.00")
    assert (_held(corrected, NORDLICHT), _held(corrected, DEALER)) == (
        Decimal("13000.00"),
        Decimal("7000.00"),
    )

    (match,) = client.get("/api/v1/duplicates", headers=key).json()["items"]
    reason = {"reason": "The STR restates the bank's payment"}
    r = client.post(f"/api/v1/duplicates/{match['id']}/confirm", json=reason, headers=key)
    assert r.status_code == 200, r.text
    # No new document: the sync commits the exclusion alone, and the next one has nothing to do.
    third = sync_lake(session, lake.root)
    assert (third.previous, third.files, third.documents) == (
        second.id,
        second.files,
        second.documents,
    )
    assert sum(f.rows for f in third.exclusion_files) == 2
    assert third.transactions == second.transactions - 1
    assert sync_lake(session, lake.root) == third
    once = _same_trace(spark, session, lake)
    assert (_held(once, LIMASSOL), _held(once, NORDLICHT), _held(once, DEALER)) == (
        Decimal("4900.00"),
        Decimal("16500.00"),
        Decimal("3500.00"),
    )
    assert once.summary["currencies"]["EUR"]["held"] == "46500.00"
