"""One external id per compartment: a load filed in case B is answered by B's compartment
alone, never by a record of case A that B may not see (issue 19, docs/engine-ids.md)."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.principal import Role
from tests.app.access.compartment_world import key_id, source
from tests.factories import bearer, make_key, tx

X = "iban:GB29NWBK60161331926819"
Y = "iban:NL91ABNA0417164300"
Z = "iban:CY17002001280000001200527600"
CASE = {
    "title": "case",
    "kind": "criminal_investigation",
    "jurisdiction": "DE",
    "predicate_offences": ["fraud"],
    "lead_agency": "BKA",
}
# What loading one row between two unknown accounts answers on an empty ledger.
FIRST_LOAD = {"rows": 1, "inserted": 1, "already_present": 0, "accounts_created": 2}


@dataclass
class Cases:
    admin: dict[str, str]
    lead_a: dict[str, str]
    lead_b: dict[str, str]
    a: int
    b: int


def _case(client: TestClient, lead: dict[str, str], reference: str) -> int:
    made = client.post("/api/v1/cases", json={**CASE, "reference": reference}, headers=lead)
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


@pytest.fixture
def cases(client: TestClient, session: Session) -> Cases:
    admin = bearer(make_key(session, Role.ADMIN, name="admin"))
    lead_a = bearer(make_key(session, Role.INVESTIGATOR, name="lead of A"))
    lead_b = bearer(make_key(session, Role.INVESTIGATOR, name="lead of B"))
    return Cases(admin, lead_a, lead_b, _case(client, lead_a, "A-1"), _case(client, lead_b, "B-1"))


def _load(
    client: TestClient, key: dict[str, str], case_id: int | None, rows: list[Any], ref: str
) -> Any:
    body = {"source": source(ref, case_id), "transactions": rows}
    return client.post("/api/v1/transactions/batch", json=body, headers=key)


def _b_loader(client: TestClient, session: Session, cases: Cases, who: str) -> dict[str, str]:
    if who == "member":
        member = make_key(session, Role.INVESTIGATOR, name="investigator on B")
        added = client.put(
            f"/api/v1/cases/{cases.b}/members",
            json={"api_key_id": key_id(session, member), "role": "investigator"},
            headers=cases.lead_b,
        )
        assert added.status_code in (200, 201), added.text
        return bearer(member)
    made = client.post(
        "/api/v1/keys",
        json={"name": "B's feed", "role": "ingest", "case_id": cases.b},
        headers=cases.admin,
    )
    assert made.status_code == 201, made.text
    return bearer(made.json()["key"])


def _counts(reply: Any) -> dict[str, int]:
    return {k: reply.json()[k] for k in FIRST_LOAD}


@pytest.mark.parametrize("amount", ["100.00", "250.00"])
@pytest.mark.parametrize("who", ["member", "ingest key"])
def test_case_b_stores_its_copy_of_a_record_case_a_holds(
    client: TestClient, session: Session, cases: Cases, who: str, amount: str
) -> None:
    a_stored = _load(client, cases.lead_a, cases.a, [tx("TX-1", X, Y, "100.00")], "A-STATEMENT")
    assert a_stored.status_code == 201, a_stored.text
    loader = _b_loader(client, session, cases, who)
    # the bound key files in B without naming it; the member names B
    case_named = cases.b if who == "member" else None
    stored = _load(client, loader, case_named, [tx("TX-1", X, Y, amount)], "B-STATEMENT")
    assert stored.status_code == 201, stored.text
    assert _counts(stored) == FIRST_LOAD  # as on an empty ledger: nothing of A shows
    b_document = stored.json()["source_document_id"]
    assert b_document != a_stored.json()["source_document_id"]

    seen = client.get("/api/v1/transactions/TX-1", headers=cases.lead_b)
    assert seen.status_code == 200, seen.text
    assert (seen.json()["amount"], seen.json()["source_document_id"]) == (amount, b_document)
    assert seen.json()["engine_id"] == f"TX-1@case:{cases.b}"
    kept = client.get("/api/v1/transactions/TX-1", headers=cases.lead_a).json()
    assert (kept["amount"], kept["engine_id"]) == ("100.00", f"TX-1@case:{cases.a}")

    # B's own replay is answered by B's row
    again = _load(client, loader, case_named, [tx("TX-1", X, Y, amount)], "B-STATEMENT")
    assert again.status_code == 200, again.text
    assert (again.json()["already_present"], again.json()["source_document_id"]) == (1, b_document)
    other = _load(client, loader, case_named, [tx("TX-1", X, Y, "7.00")], "B-STATEMENT-2")
    assert other.status_code == 422, other.text
    assert "already stored with another amount" in other.text


def test_the_pool_and_a_case_hold_one_external_id_each(client: TestClient, cases: Cases) -> None:
    in_a = _load(client, cases.lead_a, cases.a, [tx("TX-1", X, Y, "100.00")], "A-STATEMENT")
    assert in_a.status_code == 201, in_a.text
    pooled = _load(client, cases.lead_b, None, [tx("TX-1", X, Y, "100.00")], "POOL-STATEMENT")
    assert pooled.status_code == 201, pooled.text
    assert _counts(pooled) == FIRST_LOAD
    # The pool's row is named by its external id; A's lead sees both, each by its engine id.
    assert client.get("/api/v1/transactions/TX-1", headers=cases.lead_a).json()["engine_id"] == (
        "TX-1"
    )
    own = client.get(f"/api/v1/transactions/TX-1@case:{cases.a}", headers=cases.lead_a)
    assert own.json()["source_document_id"] == in_a.json()["source_document_id"]


def test_an_external_id_in_two_visible_cases_is_ambiguous(client: TestClient, cases: Cases) -> None:
    for lead, case, ref in ((cases.lead_a, cases.a, "A"), (cases.lead_b, cases.b, "B")):
        assert _load(client, lead, case, [tx("TX-1", X, Y, "100.00")], ref).status_code == 201
    found = client.get("/api/v1/transactions/TX-1", headers=cases.admin)
    assert found.status_code == 409, found.text
    assert found.json()["code"] == "ambiguous_transaction"
    assert found.json()["engine_ids"] == sorted([f"TX-1@case:{cases.a}", f"TX-1@case:{cases.b}"])
    named = client.get(f"/api/v1/transactions/TX-1@case:{cases.b}", headers=cases.admin)
    assert named.status_code == 200


def test_a_crafted_external_id_cannot_detect_case_a_s_record(
    client: TestClient, cases: Cases
) -> None:
    assert (
        _load(client, cases.lead_a, cases.a, [tx("TX-1", X, Y, "100.00")], "A").status_code == 201
    )
    answers = []
    for crafted in (f"TX-1@case:{cases.a}", "TX-1@case:999999"):
        loaded = _load(client, cases.lead_b, cases.b, [tx(crafted, X, Y, "100.00")], "B")
        assert loaded.status_code == 422, loaded.text
        [error] = loaded.json()["errors"]
        assert error["loc"] == ["transactions", 0, "external_id"]
        read = client.get(f"/api/v1/transactions/{crafted}", headers=cases.lead_b)
        seeded = client.post(
            "/api/v1/traces", json={"seeds": [{"transaction": crafted}]}, headers=cases.lead_b
        )
        answers.append(
            (
                error["msg"],
                read.status_code,
                read.json()["code"],
                seeded.status_code,
                seeded.json()["code"],
            )
        )
    assert answers[0] == answers[1]
    assert answers[0][1] == 404


def _flows(client: TestClient, headers: dict[str, str], trace_id: str) -> list[tuple[str, str]]:
    rows = client.get(f"/api/v1/traces/{trace_id}/flows", headers=headers)
    assert rows.status_code == 200, rows.text
    return [(r["transaction"], r["amount"]) for r in rows.json()["items"]]


def test_a_trace_by_b_seeds_from_b_s_copy(client: TestClient, cases: Cases) -> None:
    a_rows = [
        tx("TX-1", X, Y, "100.00"),
        tx("TX-2", Y, Z, "100.00", value_time="2026-01-06T10:00:00Z"),
    ]
    assert _load(client, cases.lead_a, cases.a, a_rows, "A").status_code == 201
    b_rows = [tx("TX-1", X, Y, "250.00")]
    assert _load(client, cases.lead_b, cases.b, b_rows, "B").status_code == 201
    body = {"seeds": [{"transaction": "TX-1"}], "rule": "fifo"}
    by_b = client.post("/api/v1/traces", json=body, headers=cases.lead_b)
    assert by_b.status_code == 201, by_b.text
    assert _flows(client, cases.lead_b, by_b.json()["id"]) == [(f"TX-1@case:{cases.b}", "250.00")]
    assert by_b.json()["params"]["seed_transactions"] == [f"TX-1@case:{cases.b}"]
    by_a = client.post("/api/v1/traces", json=body, headers=cases.lead_a)
    assert by_a.status_code == 201, by_a.text
    assert _flows(client, cases.lead_a, by_a.json()["id"]) == [
        (f"TX-1@case:{cases.a}", "100.00"),
        (f"TX-2@case:{cases.a}", "100.00"),
    ]


def test_refiling_renames_the_rows_and_refuses_a_collision(
    client: TestClient, cases: Cases
) -> None:
    in_a = _load(client, cases.lead_a, cases.a, [tx("TX-1", X, Y, "100.00")], "A")
    in_pool = _load(client, cases.lead_b, None, [tx("TX-1", X, Y, "100.00")], "POOL")
    assert (in_a.status_code, in_pool.status_code) == (201, 201)
    document = in_a.json()["source_document_id"]

    def refile(case_id: int | None) -> Any:
        return client.post(
            f"/api/v1/sources/{document}/compartment",
            json={"case_id": case_id, "reason": "court order"},
            headers=cases.admin,
        )

    refused = refile(None)
    assert refused.status_code == 409, refused.text
    assert (refused.json()["code"], refused.json()["external_ids"]) == (
        "refile_collision",
        ["TX-1"],
    )
    assert client.get("/api/v1/transactions/TX-1", headers=cases.lead_a).json()["engine_id"] == (
        "TX-1"
    )
    moved = refile(cases.b)
    assert moved.status_code == 200, moved.text
    read = client.get(f"/api/v1/transactions/TX-1@case:{cases.b}", headers=cases.lead_b)
    assert read.status_code == 200, read.text
    assert read.json()["source_document_id"] == document
    gone = client.get(f"/api/v1/transactions/TX-1@case:{cases.a}", headers=cases.admin)
    assert gone.status_code == 404
    # the engine names it anew at once
    body = {"seeds": [{"transaction": f"TX-1@case:{cases.b}"}], "rule": "fifo"}
    traced = client.post("/api/v1/traces", json=body, headers=cases.lead_b)
    assert traced.status_code == 201, traced.text
    assert _flows(client, cases.lead_b, traced.json()["id"]) == [(f"TX-1@case:{cases.b}", "100.00")]
    # and B's next load of TX-1 is a replay of B's own record
    again = _load(client, cases.lead_b, cases.b, [tx("TX-1", X, Y, "100.00")], "B")
    assert again.status_code == 200, again.text
    assert again.json()["source_document_id"] == document


GOAML = Path(__file__).parents[1] / "goaml" / "multi_party_ctr.xml"


# What a report's reply says of its transactions. (Its parties and accounts are merged into
# shared records keyed by their keys: not compartmented by this change.)
TRANSACTION_FIELDS = ("replay", "transactions", "inserted", "already_present", "reference")


def _of_transactions(reply: dict[str, Any]) -> list[dict[str, Any]]:
    return [{k: r[k] for k in TRANSACTION_FIELDS} for r in reply["reports"]]


def test_case_b_imports_the_goaml_report_case_a_holds(client: TestClient, cases: Cases) -> None:
    files = {"file": (GOAML.name, GOAML.read_bytes(), "application/xml")}

    def imported(lead: dict[str, str], case_id: int) -> Any:
        r = client.post(
            "/api/v1/imports/goaml", params={"case_id": case_id}, files=files, headers=lead
        )
        assert r.status_code == 201, r.text
        return r.json()

    in_a = imported(cases.lead_a, cases.a)
    in_b = imported(cases.lead_b, cases.b)
    # B's reply is the one A had on an empty ledger, and B's report is stored in B
    assert _of_transactions(in_b) == _of_transactions(in_a)
    assert in_b["reports"][0]["inserted"] == 1
    document = in_b["reports"][0]["source_document_id"]
    assert document != in_a["reports"][0]["source_document_id"]
    read = client.get("/api/v1/transactions/goaml:815:MT-5500", headers=cases.lead_b)
    assert read.status_code == 200, read.text
    assert read.json()["source_document_id"] == document


def test_an_upload_by_b_s_feed_is_stored_in_b(
    client: TestClient, session: Session, cases: Cases
) -> None:
    assert _load(client, cases.lead_a, cases.a, [tx("K-1", X, Y, "3.00")], "A").status_code == 201
    feed = _b_loader(client, session, cases, "ingest key")
    csv = b"external_id,from_account,to_account,amount,currency,value_time\n"
    csv += f"K-1,{X},{Y},4.00,EUR,2026-01-05T10:00:00Z\n".encode()
    r = client.post(
        "/api/v1/transactions/upload",
        files={"file": ("k.csv", csv, "text/csv")},
        data={"kind": "bank_statement", "reference": "K"},
        headers=feed,
    )
    assert r.status_code == 201, r.text
    assert _counts(r) == FIRST_LOAD
    seen = client.get("/api/v1/transactions/K-1", headers=cases.lead_b).json()
    assert (seen["amount"], seen["source_document_id"]) == ("4.00", r.json()["source_document_id"])


def test_b_corrects_its_record_into_an_id_case_a_holds(client: TestClient, cases: Cases) -> None:
    a_rows = [tx("TX-2", X, Y, "9.00")]
    assert _load(client, cases.lead_a, cases.a, a_rows, "A").status_code == 201
    assert _load(client, cases.lead_b, cases.b, [tx("TX-1", X, Y, "5.00")], "B").status_code == 201
    corrected = client.post(
        "/api/v1/transactions/TX-1/corrections",
        json={
            "source": source("B-LETTER", cases.b),
            "reason": "the bank's letter",
            "transaction": tx("TX-2", X, Y, "5.50"),
        },
        headers=cases.lead_b,
    )
    assert corrected.status_code == 201, corrected.text
    current = corrected.json()["versions"][-1]["transaction"]
    assert (current["engine_id"], current["amount"]) == (f"TX-2@case:{cases.b}", "5.50")
    kept = client.get("/api/v1/transactions/TX-2", headers=cases.lead_a).json()
    assert (kept["amount"], kept["engine_id"]) == ("9.00", f"TX-2@case:{cases.a}")


def test_an_account_the_pool_stated_is_not_new_to_the_pools_next_load(
    client: TestClient, cases: Cases
) -> None:
    # Case A's load creates X; the pool then states X's details (its own statement): X exists
    # for the pool from then on, so a pool load naming X creates only the account it adds.
    assert _load(client, cases.lead_a, cases.a, [tx("A-1", X, Y, "5.00")], "A-S1").is_success
    body = {
        "source": source("POOL-KYC", None),
        "parties": [],
        "accounts": [{"key": X, "name": "Pool Name", "currency": "EUR"}],
    }
    stated = client.post("/api/v1/accounts/batch", json=body, headers=cases.admin)
    assert stated.status_code == 201, stated.text
    reply = _load(client, cases.admin, None, [tx("P-1", X, Z, "5.00")], "POOL-S1")
    assert reply.status_code == 201, reply.text
    assert reply.json()["accounts_created"] == 1


def _in_ledger(client: TestClient, key: dict[str, str], ref: str) -> bool:
    history = client.get(f"/api/v1/transactions/{ref}/history", headers=key)
    assert history.status_code == 200, history.text
    (version,) = history.json()["versions"]
    return bool(version["in_ledger"])


def _confirm_only_match(client: TestClient, admin: dict[str, str]) -> Any:
    (match,) = client.get("/api/v1/duplicates", headers=admin).json()["items"]
    return client.post(
        f"/api/v1/duplicates/{match['id']}/confirm",
        json={"reason": "one transfer, reported twice"},
        headers=admin,
    )


def test_confirming_a_pool_record_and_a_cases_copy_keeps_the_pools_record_traced(
    client: TestClient, cases: Cases
) -> None:
    # The later record is the pool's: taking it out would take the transfer out of every pool
    # reader's traces, who cannot see the case's copy that stays. The case's copy leaves.
    assert _load(client, cases.lead_a, cases.a, [tx("T-1", X, Y, "5.00")], "A-S1").is_success
    assert _load(client, cases.admin, None, [tx("T-1", X, Y, "5.00")], "POOL-S1").is_success
    confirmed = _confirm_only_match(client, cases.admin)
    assert confirmed.status_code == 200, confirmed.text
    assert _in_ledger(client, cases.lead_b, "T-1")
    assert not _in_ledger(client, cases.lead_a, f"T-1@case:{cases.a}")


def test_a_match_between_two_cases_is_not_confirmed(client: TestClient, cases: Cases) -> None:
    assert _load(client, cases.lead_a, cases.a, [tx("T-2", X, Y, "5.00")], "A-S2").is_success
    assert _load(client, cases.lead_b, cases.b, [tx("T-2", X, Y, "5.00")], "B-S2").is_success
    refused = _confirm_only_match(client, cases.admin)
    assert (refused.status_code, refused.json()["code"]) == (409, "duplicate_across_cases")
    for lead, case in ((cases.lead_a, cases.a), (cases.lead_b, cases.b)):
        assert _in_ledger(client, lead, f"T-2@case:{case}")
