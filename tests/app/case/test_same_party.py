"""One person under many names: candidates with score and reasons, linked only by a person,
undone with a reason, counted as one by convergence and the case overview.

Worked scores (app/resolution/scoring.py: name 0.5 x similarity, identity number 0.3, birth
date 0.15 (a different one -0.3), shared account 0.15, address 0.1), against Anna Berg:
- "Анна Берг" (goAML, Cyrillic): folds to "anna berg", 0.50; same birth date 0.15; co-holder of
  her IBAN 0.15: 0.80.
- "BERG, Anna": token order free, 0.50; same passport number 0.30: 0.80.
- "Anna Bergmann", born 1990: 0.5 x 0.82 = 0.41, -0.30: 0.11, not shown.
- "Anna Berg" named only in a case the caller is not on: 0.50 for its members, unseen by others.
"""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.party import service as party_service
from app.principal import Role
from tests.app.casework import IBAN, Api, criminal_case
from tests.factories import bearer, make_key

ANNA = "person:anna"
CYRILLIC = "person:goaml-4711"
REVERSED = "person:berg-anna"
BERGMANN = "person:anna-bergmann"
SECRET = "person:secret-anna"


def person(key: str, name: str, **identifiers: str) -> dict[str, Any]:
    return {"key": key, "kind": "person", "name": name, "identifiers": identifiers}


REGISTER = {
    "source": {"kind": "bank_production", "reference": "PO-2026-31"},
    "parties": [
        person(ANNA, "Anna Berg", birth_date="1984-03-02", passport="C01X00T47"),
        person(CYRILLIC, "Анна Берг", birth_date="1984-03-02"),
        person(REVERSED, "BERG, Anna", passport="C01X 00T47"),
        person(BERGMANN, "Anna Bergmann", birth_date="1990-01-01"),
        person(SECRET, "Anna Berg"),
        {"key": "company:acme", "kind": "legal_entity", "name": "Anna Berg GmbH"},
    ],
    "accounts": [
        {
            "key": IBAN,
            "currency": "EUR",
            "holders": [{"party": ANNA}, {"party": CYRILLIC, "role": "signatory"}],
        }
    ],
}
REASON = "Same birth date and co-holder of the IBAN; the goAML report transliterates her name"


@pytest.fixture
def lead(client: TestClient, session: Session) -> Api:
    api = Api(client, bearer(make_key(session, Role.INVESTIGATOR, name="lead")))
    api.post("/api/v1/accounts/batch", REGISTER)
    return api


def candidates(api: Api, key: str = ANNA) -> list[tuple[str, float, list[str]]]:
    found = api.get(f"/api/v1/parties/{key}/candidates")["candidates"]
    return [(c["party"]["key"], c["score"], [r["kind"] for r in c["reasons"]]) for c in found]


def test_candidates_are_scored_with_reasons_and_only_from_cases_the_caller_sees(
    client: TestClient, session: Session, lead: Api
) -> None:
    other = Api(client, bearer(make_key(session, Role.INVESTIGATOR, name="other")))
    secret = other.post("/api/v1/cases", criminal_case("LKA-2026-99"))["id"]
    other.post(f"/api/v1/cases/{secret}/subjects", {"party": SECRET, "role": "suspect"})

    assert candidates(lead) == [
        (REVERSED, 0.8, ["name", "identifier"]),
        (CYRILLIC, 0.8, ["name", "birth_date", "shared_account"]),
    ]
    full = lead.get(f"/api/v1/parties/{ANNA}/candidates")
    assert full["folded_name"] == "anna berg"
    reasons = {r["kind"]: r for r in full["candidates"][1]["reasons"]}
    assert reasons["name"]["detail"] == "names alike (1.00): 'anna berg' ~ 'anna berg'"
    assert reasons["shared_account"]["detail"] == f"both hold {IBAN}"
    assert reasons["birth_date"] == {
        "kind": "birth_date",
        "weight": 0.15,
        "detail": "same birth date 1984-03-02",
    }
    # A member of the secret case sees the namesake named in it; the lead is not told of it.
    assert (SECRET, 0.5, ["name"]) in candidates(other)
    admin = Api(client, bearer(make_key(session, Role.ADMIN)))
    assert [c[0] for c in candidates(admin)] == [REVERSED, CYRILLIC, SECRET]


def test_a_person_links_two_parties_and_can_undo_it_and_nothing_links_by_itself(
    client: TestClient, session: Session, lead: Api
) -> None:
    assert party_service.linked_parties(session, ANNA) == {ANNA}
    linked = lead.post(f"/api/v1/parties/{ANNA}/same-as", {"other": CYRILLIC, "reason": REASON})
    assert linked["linked_parties"] == [ANNA, CYRILLIC]
    assert [(d["party"], d["other"], d["linked"], d["reason"]) for d in linked["decisions"]] == [
        (ANNA, CYRILLIC, True, REASON)
    ]
    assert party_service.linked_parties(session, CYRILLIC) == {ANNA, CYRILLIC}
    # Search counts them as one: one hit, the other named in it.
    hits = lead.get("/api/v1/search", q="anna berg", kind="party")["items"]
    linked_hit = next(h for h in hits if h["key"] in (ANNA, CYRILLIC))
    assert sorted([linked_hit["id"], *linked_hit["linked_party_ids"]]) == sorted(
        party_service.resolve_party(session, k).id for k in (ANNA, CYRILLIC)
    )
    assert not any(h["key"] in (ANNA, CYRILLIC) for h in hits if h is not linked_hit)
    # A linked party is no longer a candidate (the namesake, in no case, is one); links are
    # transitive.
    assert [c[0] for c in candidates(lead)] == [REVERSED, SECRET]
    lead.post(f"/api/v1/parties/{REVERSED}/same-as", {"other": CYRILLIC, "reason": "passport"})
    assert party_service.linked_parties(session, ANNA) == {ANNA, CYRILLIC, REVERSED}

    undone = lead.post(
        f"/api/v1/parties/{CYRILLIC}/same-as/undo",
        {"other": ANNA, "reason": "The KYC file shows another Anna Berg, born in Kyiv"},
        status=200,
    )
    assert undone["linked_parties"] == [REVERSED, CYRILLIC]
    assert [d["linked"] for d in undone["decisions"]] == [True, True, False]
    assert party_service.linked_parties(session, ANNA) == {ANNA}
    assert lead.get(f"/api/v1/parties/{ANNA}/same-as")["linked_parties"] == [ANNA]


def test_link_refusals(client: TestClient, session: Session, lead: Api) -> None:
    body = {"other": CYRILLIC, "reason": REASON}
    lead.post(f"/api/v1/parties/{ANNA}/same-as", body)
    again = client.post(f"/api/v1/parties/{ANNA}/same-as", json=body, headers=lead.key)
    assert (again.status_code, again.json()["code"]) == (409, "link_unchanged")
    undo = {"other": REVERSED, "reason": "never linked"}
    r = client.post(f"/api/v1/parties/{ANNA}/same-as/undo", json=undo, headers=lead.key)
    assert (r.status_code, r.json()["code"]) == (409, "link_unchanged")
    itself = {"other": ANNA, "reason": "x"}
    r = client.post(f"/api/v1/parties/{ANNA}/same-as", json=itself, headers=lead.key)
    assert (r.status_code, r.json()["code"]) == (422, "same_party")
    unknown = {"other": "person:nobody", "reason": "x"}
    r = client.post(f"/api/v1/parties/{ANNA}/same-as", json=unknown, headers=lead.key)
    assert (r.status_code, r.json()["code"]) == (404, "party_not_found")
    r = client.post(f"/api/v1/parties/{ANNA}/same-as", json={"other": REVERSED}, headers=lead.key)
    assert r.status_code == 422
    for role in (Role.ANALYST, Role.INGEST):
        key = bearer(make_key(session, role))
        r = client.post(f"/api/v1/parties/{ANNA}/same-as", json=body, headers=key)
        assert r.status_code == 403


def test_convergence_and_the_overview_count_linked_parties_as_one(
    client: TestClient, session: Session, lead: Api
) -> None:
    drugs = lead.post("/api/v1/cases", criminal_case())["id"]
    fraud = lead.post("/api/v1/cases", criminal_case("LKA-2026-77", title="CEO fraud"))["id"]
    lead.post(f"/api/v1/cases/{drugs}/subjects", {"party": ANNA, "role": "suspect"})
    lead.post(f"/api/v1/cases/{drugs}/subjects", {"party": CYRILLIC, "role": "mule"})
    lead.post(f"/api/v1/cases/{fraud}/subjects", {"party": CYRILLIC, "role": "mule"})
    parties = [i for i in lead.get("/api/v1/convergence")["items"] if i["entity"] == "party"]
    assert [p["key"] for p in parties] == [CYRILLIC]
    overview = lead.get(f"/api/v1/cases/{drugs}/overview")
    assert overview["distinct_parties"] == 2

    lead.post(f"/api/v1/parties/{ANNA}/same-as", {"other": CYRILLIC, "reason": REASON})
    parties = [i for i in lead.get("/api/v1/convergence")["items"] if i["entity"] == "party"]
    assert [(p["key"], p["same_as"]) for p in parties] == [(ANNA, [CYRILLIC])]
    assert [(c["reference"], c["roles"]) for c in parties[0]["cases"]] == [
        ("BKA-2026-0001", ["mule", "suspect"]),
        ("LKA-2026-77", ["mule"]),
    ]
    overview = lead.get(f"/api/v1/cases/{drugs}/overview")
    assert overview["distinct_parties"] == 1
    assert {s["party_key"]: s["same_as"] for s in overview["subjects"]} == {
        ANNA: [CYRILLIC],
        CYRILLIC: [ANNA],
    }


TYPOS = {
    "person:anna-bergh": "Anna Bergh",  # a typo past the third letter: meets by "ber"*
    "person:ana-berg": "Ana Berg",  # a typo that keeps the sound: "ana" and "anna" sound AN
    "person:anna-brg": "Anna Brg",  # letters lost, the sound kept: "brg" and "berg" PRK
}


def test_beyond_the_whole_pool_candidates_meet_by_blocking_keys_in_the_search_index(
    session: Session, lead: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As in a ledger of a million parties: the pool is what the search index finds, ranked.
    monkeypatch.setattr(party_service, "WHOLE_POOL", 0)
    lead.post(
        "/api/v1/accounts/batch",
        {
            "source": {"kind": "bank_production", "reference": "PO-2026-32"},
            "parties": [
                # Born the same day: a name alike but not equal scores below 0.5 alone.
                *(person(k, n, birth_date="1984-03-02") for k, n in TYPOS.items()),
                person("person:zoe", "Zoe Quill", passport="C01X00T47"),
                person("person:anna-quill", "Anna Quill"),
            ],
        },
    )
    found = {c[0]: c for c in candidates(lead)}
    assert set(TYPOS) | {REVERSED, CYRILLIC} <= found.keys()
    assert found["person:anna-bergh"][2] == ["name", "birth_date"]
    # Named otherwise, the identity number alone brings Zoe Quill into the pool.
    assert found["person:zoe"][2] == ["identifier"]
    pool = {p.key for p in party_service.resembling_parties(session, "Anna Berg", [])}
    assert set(TYPOS) <= pool
    assert "person:zoe" not in pool
    # One word alike is not enough for a two-word name.
    assert "person:anna-quill" not in pool


def test_link_groups_are_read_from_the_parties_asked_about(session: Session, lead: Api) -> None:
    lead.post(f"/api/v1/parties/{ANNA}/same-as", {"other": CYRILLIC, "reason": REASON})
    lead.post(f"/api/v1/parties/{CYRILLIC}/same-as", {"other": REVERSED, "reason": "passport"})
    ids = {k: party_service.resolve_party(session, k).id for k in (ANNA, CYRILLIC, REVERSED)}
    bergmann = party_service.resolve_party(session, BERGMANN).id
    # Asked about the last of a chain only, the walk still reaches the group's lowest id.
    assert party_service.representatives(session, [ids[REVERSED], bergmann]) == {
        ids[REVERSED]: min(ids.values()),
        bergmann: bergmann,
    }
    assert party_service.representatives(session, []) == {}
