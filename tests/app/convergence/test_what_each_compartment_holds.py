"""A party or account seen in two compartments shows each caller only what their compartments
hold (issue 19, review): case A's documents name Anna Bergström, her identity number and her
account DE's name; case B's document names DE and links Anna to it as a signatory, naming her by
her key alone. To a member of B (not of A), Anna is her key and DE has no name, wherever they look:
blind matches, convergence entries, case subjects, candidates, the account and trace labels.
"""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.account import service as account_service
from app.compartments import EVERY, Compartments
from app.principal import Role
from tests.app.casework import Api, criminal_case
from tests.app.convergence.test_blind_convergence import Person
from tests.factories import DE, bearer, make_key

P17 = "person:p17"
SECRETS = ("Anna", "anna", "Bergstr", "bergstr", "L01X00T47", "Kingfisher Holdings")


def _accounts(case_id: int | None, reference: str) -> dict[str, Any]:
    return {"source": {"kind": "bank_production", "reference": reference, "case_id": case_id}}


@pytest.fixture
def world(client: TestClient, session: Session) -> dict[str, Any]:
    lead_a, lead_b, member_b = (
        Person(client, session, role, name)
        for role, name in (
            (Role.INVESTIGATOR, "Lead of A"),
            (Role.INVESTIGATOR, "Lead of B"),
            (Role.ANALYST, "Analyst on B and C"),
        )
    )
    a = lead_a.api.post("/api/v1/cases", criminal_case("CASE-A"))["id"]
    # B's lead leads C too; their analyst is on both, and on nothing of A.
    b, c = (lead_b.api.post("/api/v1/cases", criminal_case(r))["id"] for r in ("CASE-B", "CASE-C"))
    for case in (b, c):
        lead_b.enrol(case, member_b)
    admin = Api(client, bearer(make_key(session)))
    anna = {
        "key": "person:p17",
        "kind": "person",
        "name": "Anna Bergström",
        "identifiers": {"national_id": "L01X00T47"},
    }
    in_a = {
        **_accounts(a, "PO-A"),
        "parties": [anna],
        "accounts": [
            {
                "key": DE,
                "name": "Kingfisher Holdings",
                "holders": [{"party": "person:p17", "role": "holder"}],
            }
        ],
    }
    in_b = {
        **_accounts(b, "PO-B"),
        # B's document names the party by her key alone: a holder link may name only a party
        # the filing's compartment holds (A's document is not B's to lean on).
        "parties": [{"key": "person:p17", "kind": "person", "name": "person:p17"}],
        "accounts": [{"key": DE, "holders": [{"party": "person:p17", "role": "signatory"}]}],
    }
    # A party in the shared pool like Anna, holding DE too: a candidate anybody may see.
    in_pool = {
        **_accounts(None, "POOL"),
        "parties": [{"key": "person:pool", "kind": "person", "name": "Maria Rossi"}],
        "accounts": [{"key": DE, "holders": [{"party": "person:pool", "role": "holder"}]}],
    }
    # C's own document names her too: a write into case C names only what C's members see.
    in_c = {**_accounts(c, "PO-C"), "parties": in_b["parties"]}
    for body in (in_a, in_b, in_c, in_pool):
        admin.post("/api/v1/accounts/batch", body)
    for case in (b, c):
        for subject in (
            {"account": DE, "role": "mule"},
            {"party": "person:p17", "role": "suspect"},
        ):
            lead_b.api.post(f"/api/v1/cases/{case}/subjects", subject)
    return {"admin": admin, "member_b": member_b, "a": a, "b": b, "c": c}


def _no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, secret


def test_blind_matches_are_on_what_the_callers_documents_hold(world: dict[str, Any]) -> None:
    member = world["member_b"].api
    r = member.client.get("/api/v1/convergence", headers=member.key)
    assert r.status_code == 200, r.text
    _no_secret(r.text)
    # B's document names DE, which A's holds too; Anna's name and number are A's alone.
    blind = [(i["matched_on"], i["matched_key"]) for i in r.json()["items"] if i["blind"]]
    assert blind == [("account", DE)]


def test_convergence_entries_name_only_what_the_caller_may_see(world: dict[str, Any]) -> None:
    member = world["member_b"].api
    items = member.get("/api/v1/convergence")["items"]
    visible = {(i["entity"], i["key"]): i["name"] for i in items if not i["blind"]}
    assert visible == {("account", DE): None, ("party", "person:p17"): "person:p17"}
    # An admin sees every compartment: the names A's documents gave.
    admin = {
        (i["entity"], i["key"]): i["name"]
        for i in world["admin"].get("/api/v1/convergence")["items"]
    }
    assert admin[("party", "person:p17")] == "Anna Bergström"
    assert admin[("account", DE)] == "Kingfisher Holdings"


def test_case_subjects_and_the_overview_name_only_what_the_caller_may_see(
    world: dict[str, Any],
) -> None:
    member = world["member_b"].api
    for url in (f"/api/v1/cases/{world['b']}/subjects", f"/api/v1/cases/{world['b']}/overview"):
        r = member.client.get(url, headers=member.key)
        assert r.status_code == 200, r.text
        _no_secret(r.text)
    names = {
        s["party_key"] or s["account_key"]: s["name"]
        for s in member.get(f"/api/v1/cases/{world['b']}/subjects")
    }
    assert names == {DE: None, "person:p17": "person:p17"}
    told = {
        s["party_key"] or s["account_key"]: s["name"]
        for s in world["admin"].get(f"/api/v1/cases/{world['b']}/subjects")
    }
    assert told == {DE: "Kingfisher Holdings", "person:p17": "Anna Bergström"}


def test_candidates_are_scored_and_named_on_what_the_caller_may_see(
    world: dict[str, Any],
) -> None:
    member = world["member_b"].api
    r = member.client.get("/api/v1/parties/person:p17/candidates", headers=member.key)
    assert r.status_code == 200, r.text
    _no_secret(r.text)
    found = r.json()
    assert found["folded_name"] == "person p17"
    # The pool's party holds DE too: a reason the caller's compartments give.
    (candidate,) = found["candidates"]
    assert candidate["party"] == {
        "id": candidate["party"]["id"],
        "key": "person:pool",
        "name": "Maria Rossi",
    }
    assert [r["kind"] for r in candidate["reasons"]] == ["shared_account"]


def test_the_account_and_its_labels_show_only_what_the_caller_may_see(
    world: dict[str, Any], session: Session
) -> None:
    member = world["member_b"].api
    r = member.client.get(f"/api/v1/accounts/{DE}", headers=member.key)
    assert r.status_code == 200, r.text
    _no_secret(r.text)
    holders = {(h["party_key"], h["name"]) for h in r.json()["holders"]}
    assert holders == {("person:p17", "person:p17"), ("person:pool", "Maria Rossi")}
    # The labels traces, charts and exports put on accounts: one helper, the same rule.
    seen = Compartments(every=False, cases=frozenset({world["b"]}))
    # (A's "holder" link is hidden; of B's and the pool's, the holder comes before the signatory.)
    assert account_service.holder_names(session, [DE], seen) == {DE: "Maria Rossi"}
    assert account_service.holder_names(session, [DE], EVERY) == {DE: "Anna Bergström"}
    held, own = account_service.holders_as_seen(session, [DE], seen)
    assert own == {DE: None}
    anna = next(h for h in held[DE] if h.party.key == "person:p17")
    assert (anna.party.name, anna.party.identifiers) == ("person:p17", {})
