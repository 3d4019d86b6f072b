"""Traces that say exactly what they did (issue 20): unknown stop accounts refused, passed on
and exited apart, the flags listed and counted, and an FtM export of what was traced."""

import io
import json

import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from app.demo.service import SEED_TRANSACTIONS
from app.trace.models import TraceResultFrame, TraceRun
from app.trace.runtime import TraceRuntime
from tests.factories import batch, bearer, make_key, tx

NORDLICHT = "iban:DE75512108001245126199"
EXCHANGE = "iban:MT84MALT011000012345MTLCAST001S"
DE, FR, GB = (
    "iban:DE89370400440532013000",
    "iban:FR1420041010050500013M02606",
    "iban:GB29NWBK60161331926819",
)


@pytest.fixture
def key(demo_admin: dict[str, str]) -> dict[str, str]:
    return demo_admin


def run(client: TestClient, key: dict[str, str], rule: str = "libr", **extra: object) -> dict:
    body = {"seeds": [{"transaction": t} for t in SEED_TRANSACTIONS], "rule": rule, **extra}
    r = client.post("/api/v1/traces", json={"stop_at": [EXCHANGE], **body}, headers=key)
    assert r.status_code == 201, r.text
    return r.json()


def accounts(client: TestClient, key: dict[str, str], trace_id: str) -> dict[str, dict]:
    url = f"/api/v1/traces/{trace_id}/accounts"
    items = client.get(url, headers=key, params={"limit": 100}).json()["items"]
    return {i["account"]: i for i in items}


def test_an_unknown_stop_account_is_refused_by_name(client: TestClient, key) -> None:
    typo = EXCHANGE[:-1] + "X"
    body = {
        "seeds": [{"transaction": "DEMO-D01"}],
        "rule": "libr",
        "stop_at": [EXCHANGE, typo, "not a key"],
    }
    r = client.post("/api/v1/traces", json=body, headers=key)
    assert (r.status_code, r.json()["code"]) == (422, "unknown_stop_accounts")
    assert r.json()["accounts"] == [typo, "not a key"]
    assert [e["loc"] for e in r.json()["errors"]] == [
        ["body", "stop_at", 1],
        ["body", "stop_at", 2],
    ]
    assert typo in r.json()["detail"]
    assert client.get("/api/v1/traces", headers=key).json()["items"] == []  # nothing stored


@pytest.mark.parametrize("rule", ["fifo", "lifo", "libr", "haircut"])
def test_what_an_account_passed_on_excludes_what_exited(client: TestClient, key, rule) -> None:
    trace = run(client, key, rule)
    reached = accounts(client, key, trace["id"])
    total_exited = 0
    for a in reached.values():
        figures = {
            f: int(a[f].replace(".", "")) for f in ("received", "passed_on", "exited", "held")
        }
        total_exited += figures["exited"]
        if a["role"] != "stopped":
            assert figures["received"] == (
                figures["passed_on"] + figures["exited"] + figures["held"]
            ), (rule, a)
    assert total_exited == int(trace["summary"]["exited"].replace(".", ""))
    if rule == "libr":  # 14,400.00 paid out by Nordlicht: 10,900.00 on, 3,500.00 exited
        assert (reached[NORDLICHT]["passed_on"], reached[NORDLICHT]["exited"]) == (
            "10900.00",
            "3500.00",
        )


def test_a_run_of_the_older_engine_reads_in_todays_words(
    client: TestClient, key, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    trace = run(client, key)
    stored = client.get(f"/api/v1/traces/{trace['id']}/result.json", headers=key).content
    # What engine 0.1.1 stored: passed_on counted the exits too; no flag counts by kind.
    frame = pl.read_ipc_stream(
        io.BytesIO(
            session.get(TraceResultFrame, (trace["id"], "accounts")).data  # type: ignore[union-attr]
        )
    )
    older = frame.with_columns(pl.col("passed_on") + pl.col("exited"))
    blob = io.BytesIO()
    older.write_ipc_stream(blob)
    session.execute(
        update(TraceResultFrame)
        .where(TraceResultFrame.trace_id == trace["id"], TraceResultFrame.name == "accounts")
        .values(data=blob.getvalue())
    )
    summary = {k: v for k, v in trace["summary"].items() if k != "flags_by_kind"}
    session.execute(
        update(TraceRun)
        .where(TraceRun.id == trace["id"])
        .values(engine_version="0.1.1", summary=summary)
    )
    session.expire_all()
    monkeypatch.setattr(TraceRuntime, "recall", lambda self, trace_id: None)
    nordlicht = accounts(client, key, trace["id"])[NORDLICHT]
    assert (nordlicht["passed_on"], nordlicht["exited"]) == ("10900.00", "3500.00")
    again = client.get(f"/api/v1/traces/{trace['id']}", headers=key).json()
    assert again["engine_version"] == "0.1.1"
    assert again["summary"]["flags_by_kind"] == {"stopped_account": 3}
    # The stored evidence is untouched: the same bytes, the same digest.
    assert client.get(f"/api/v1/traces/{trace['id']}/result.json", headers=key).content == stored


def test_the_flags_are_listed_filtered_and_counted_by_kind(client: TestClient, session) -> None:
    key = bearer(make_key(session))
    ledger = batch(
        tx("F1", DE, FR, "100.00"),
        # FR pays out more than it was known to receive: an opening balance is inferred.
        tx("F2", FR, GB, "150.00", value_time="2026-01-06T10:00:00Z"),
        tx("F3", GB, "ext:Shop", "20.00", value_time="2026-01-07T10:00:00Z"),
    )
    assert client.post("/api/v1/transactions/batch", json=ledger, headers=key).status_code == 201
    body = {"seeds": [{"transaction": "F1"}], "rule": "fifo", "stop_at": [GB]}
    trace = client.post("/api/v1/traces", json=body, headers=key).json()
    assert trace["summary"]["flags_by_kind"] == {
        "opening_balance_inferred": 1,
        "stopped_account": 1,
    }
    assert trace["summary"]["flags"] == 2
    url = f"/api/v1/traces/{trace['id']}/flags"
    first = client.get(url, headers=key, params={"limit": 1}).json()
    rest = client.get(url, headers=key, params={"cursor": first["next_cursor"]}).json()
    flags = first["items"] + rest["items"]
    assert rest["next_cursor"] is None
    assert [(f["account"], f["kind"]) for f in flags] == [
        (FR, "opening_balance_inferred"),
        (GB, "stopped_account"),
    ]
    assert "50.00 assumed clean" in flags[0]["detail"]
    only = client.get(url, headers=key, params={"kind": "stopped_account"}).json()["items"]
    assert [f["account"] for f in only] == [GB]
    assert client.get(url, headers=key, params={"account": FR}).json()["items"] == flags[:1]
    assert client.get(url, headers=key, params={"kind": "overdrawn"}).json()["items"] == []
    assert client.get(url, headers=key, params={"kind": "colour"}).status_code == 422


def test_the_ftm_export_of_a_trace_states_what_was_traced_and_who_held_then(
    client: TestClient, key
) -> None:
    trace = run(client, key)
    # After the trace, a new holder of Nordlicht becomes known.
    later = {
        "source": {"kind": "bank_production", "reference": "PO-2026-99"},
        "parties": [{"key": "person:new-owner", "kind": "person", "name": "Neu Eigner"}],
        "accounts": [{"key": NORDLICHT, "holders": [{"party": "person:new-owner"}]}],
    }
    assert client.post("/api/v1/accounts/batch", json=later, headers=key).status_code == 201
    r = client.get(f"/api/v1/traces/{trace['id']}/export/ftm", headers=key)
    assert r.status_code == 200, r.text
    entities = [json.loads(line) for line in r.text.splitlines()]
    payments = {e["properties"]["recordId"][0]: e for e in entities if e["schema"] == "Payment"}
    # Limassol's 12,000.00 to the exchange carried no taint under LIBR.
    exchange = payments["DEMO-X01"]["properties"]
    assert exchange["amount"] == ["0.00"]
    assert exchange["description"] == ["full amount 12000.00 EUR"]
    assert "rule libr" in exchange["summary"][0]
    assert payments["DEMO-L05"]["properties"]["amount"] == ["10900.00"]
    names = {n for e in entities if e["schema"] == "Person" for n in e["properties"]["name"]}
    assert "Neu Eigner" not in names
    # The ledger's own export names today's holders and the full amounts.
    ledger = client.get(f"/api/v1/exports/ftm?account={NORDLICHT}", headers=key).text
    assert "Neu Eigner" in ledger
    graph = client.get(f"/api/v1/traces/{trace['id']}/export/graphml", headers=key).text
    assert "Neu Eigner" not in graph
    # Read back in, the export is the ledger it came from: every payment already there.
    files = {"file": ("trace.ftm.json", r.content, "application/x-ndjson")}
    back = client.post(
        "/api/v1/imports/ftm", headers=key, files=files, data={"reference": "TRACE-BACK"}
    )
    assert back.status_code == 200, back.text
    assert (back.json()["inserted"], back.json()["already_present"]) == (0, len(payments))


def test_old_runs_without_frames_keep_their_summary(client: TestClient, key, session) -> None:
    trace = run(client, key)
    session.execute(delete(TraceResultFrame).where(TraceResultFrame.trace_id == trace["id"]))
    summary = {k: v for k, v in trace["summary"].items() if k != "flags_by_kind"}
    session.execute(update(TraceRun).where(TraceRun.id == trace["id"]).values(summary=summary))
    session.expire_all()
    again = client.get(f"/api/v1/traces/{trace['id']}", headers=key).json()
    assert "flags_by_kind" not in again["summary"]
