"""The case overview (issue 17, part 1): the whole case in one answer, seen exactly as the case."""

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.apikey.models import ApiKey
from app.principal import Role
from tests.app.casework import FLAT, IBAN, PEOPLE, Api, bank_balance, criminal_case, order
from tests.factories import bearer, make_key


def key_id(session: Session, name: str) -> str:
    return next(k.id for k in session.query(ApiKey).filter_by(name=name))


def cash(amount: str, currency: str = "EUR") -> dict[str, object]:
    return {
        "type": "cash",
        "description": f"{amount} {currency} in an envelope",
        "valuation": {"amount": amount, "currency": currency, "valued_on": "2026-04-29"},
    }


def pfi(parent_id: int) -> dict[str, object]:
    return criminal_case(
        "BKA-2026-0002",
        kind="parallel_financial_investigation",
        title="Assets of the Hafen importers",
        parent_case_id=parent_id,
    )


def test_the_overview_shows_the_case_whole_with_exact_totals(
    client: TestClient, session: Session
) -> None:
    admin = Api(client, bearer(make_key(session)))
    admin.post("/api/v1/demo", {})
    lead = Api(client, bearer(make_key(session, Role.INVESTIGATOR, name="lead")))
    lead.post("/api/v1/accounts/batch", PEOPLE)
    crime = lead.post("/api/v1/cases", criminal_case())
    case = lead.post("/api/v1/cases", pfi(crime["id"]))
    other = lead.post(
        "/api/v1/cases", criminal_case("LKA-2026-0310", predicate_offences=["wildlife_crime"])
    )
    c = case["id"]
    lead.post(f"/api/v1/cases/{c}/subjects", {"party": "person:anna", "role": "suspect"})
    lead.post(f"/api/v1/cases/{other['id']}/subjects", {"party": "person:anna", "role": "mule"})
    balance = lead.post(f"/api/v1/cases/{c}/assets", bank_balance("48210.55"))
    flat = lead.post(f"/api/v1/cases/{c}/assets", FLAT)
    # Ten cents and twenty cents: a float total would be 0.30000000000000004.
    dimes = [lead.post(f"/api/v1/cases/{c}/assets", cash(a)) for a in ("0.10", "0.20")]
    lead.post(f"/api/v1/cases/{c}/assets", cash("0.00000001", "BTC"))
    soon = (datetime.now(UTC) + timedelta(days=5)).date().isoformat()
    frozen = order("FROZEN", amount="20000.00", currency="EUR", expiry_date=soon)
    assert lead.move(balance["id"], frozen).status_code == 201
    assert lead.move(flat["id"], order("FROZEN")).status_code == 201
    trace = lead.post(
        "/api/v1/traces", {"seeds": [{"transaction": "DEMO-D01"}], "rule": "libr", "case_id": c}
    )

    r = client.get(f"/api/v1/cases/{c}/overview", headers=lead.key)
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == '"1"'
    got = r.json()
    assert got["case"]["reference"] == "BKA-2026-0002"
    assert got["linked_cases"] == [
        {
            "relation": "parent",
            "case_id": crime["id"],
            "reference": "BKA-2026-0001",
            "kind": "criminal_investigation",
            "title": "Hafen cocaine imports",
            "status": "open",
        }
    ]
    (anna,) = got["subjects"]
    assert (anna["name"], anna["role"]) == ("Anna Berg", "suspect")
    assert [(a["key"], a["role"]) for a in anna["accounts"]] == [(IBAN, "holder")]

    groups = {g["status"]: g for g in got["assets"]}
    assert list(groups) == ["IDENTIFIED", "FROZEN"]
    identified = groups["IDENTIFIED"]
    assert identified["count"] == 3
    assert identified["value_totals"] == [
        {"currency": "BTC", "amount": "0.00000001"},
        {"currency": "EUR", "amount": "0.30"},
    ]
    assert identified["held_totals"] == []
    assert sorted(a["id"] for a in identified["assets"]) == sorted(
        [d["id"] for d in dimes] + [identified["assets"][-1]["id"]]
    )
    frozen_group = groups["FROZEN"]
    assert frozen_group["value_totals"] == [{"currency": "EUR", "amount": "398210.55"}]
    # The partial freeze holds 20,000 of the balance; the flat's freeze holds all of it.
    assert frozen_group["held_totals"] == [{"currency": "EUR", "amount": "370000.00"}]
    by_id = {a["id"]: a for a in frozen_group["assets"]}
    assert (by_id[balance["id"]]["value"], by_id[balance["id"]]["held"]) == (
        "48210.55",
        "20000.00",
    )
    assert by_id[balance["id"]]["account_key"] == IBAN
    assert got["asset_totals"] == [
        {"currency": "BTC", "amount": "0.00000001"},
        {"currency": "EUR", "amount": "398210.85"},
    ]

    (run,) = got["traces"]
    assert (run["id"], run["rule"], run["status"]) == (trace["id"], "libr", "done")
    assert run["result_sha256"] == trace["result_sha256"]
    assert (run["taint_in"], run["held"]) == (
        trace["summary"]["taint_in"],
        trace["summary"]["held"],
    )

    (deadline,) = got["deadlines"]
    assert (deadline["asset_id"], deadline["expiry_date"]) == (balance["id"], soon)

    (hit,) = got["convergence"]
    assert hit["key"] == "person:anna"
    assert [x["reference"] for x in hit["cases"]] == ["BKA-2026-0002", "LKA-2026-0310"]

    kinds = [e["kind"] for e in got["recent_events"]]
    assert kinds[0] == "trace"
    assert kinds.count("asset_move") == 7  # five identified, two frozen
    assert "case_status" in kinds
    times = [e["at"] for e in got["recent_events"]]
    assert times == sorted(times, reverse=True)
    few = lead.get(f"/api/v1/cases/{c}/overview", events=2)["recent_events"]
    assert [e["kind"] for e in few] == kinds[:2]


def test_an_outsider_gets_the_answer_it_gets_for_the_case(
    client: TestClient, session: Session
) -> None:
    lead = Api(client, bearer(make_key(session, Role.INVESTIGATOR, name="lead")))
    outsider = bearer(make_key(session, Role.INVESTIGATOR, name="outsider"))
    lead.post("/api/v1/accounts/batch", PEOPLE)
    crime = lead.post("/api/v1/cases", criminal_case())
    c = lead.post("/api/v1/cases", pfi(crime["id"]))["id"]
    lead.post(f"/api/v1/cases/{c}/assets", bank_balance())

    for url in (f"/api/v1/cases/{c}", f"/api/v1/cases/{c}/overview"):
        r = client.get(url, headers=outsider)
        assert (r.status_code, r.json()["code"]) == (404, "case_not_found"), url
        assert r.headers["content-type"] == "application/problem+json"
    hidden = client.get(f"/api/v1/cases/{c}/overview", headers=outsider).json()
    missing = client.get("/api/v1/cases/999999/overview", headers=outsider).json()
    assert hidden["detail"] == f"no case with id {c}"
    assert missing["detail"] == "no case with id 999999"
    assert hidden.keys() == missing.keys()

    # A member of the financial investigation alone sees it, but not the criminal case beside it.
    member = {"api_key_id": key_id(session, "outsider"), "role": "observer"}
    assert client.put(f"/api/v1/cases/{c}/members", json=member, headers=lead.key).is_success
    got = client.get(f"/api/v1/cases/{c}/overview", headers=outsider).json()
    assert got["linked_cases"] == []
    assert [g["status"] for g in got["assets"]] == ["IDENTIFIED"]
    # The lead sees the link from the parent's side too.
    parent = lead.get(f"/api/v1/cases/{crime['id']}/overview")
    assert [(x["relation"], x["case_id"]) for x in parent["linked_cases"]] == [
        ("parallel_financial_investigation", c)
    ]
    assert parent["assets"] == []
    assert parent["asset_totals"] == []


def test_overview_parameters_are_checked(client: TestClient, session: Session) -> None:
    lead = Api(client, bearer(make_key(session, Role.INVESTIGATOR, name="lead")))
    c = lead.post("/api/v1/cases", criminal_case())["id"]
    r = client.get(f"/api/v1/cases/{c}/overview", params={"events": 0}, headers=lead.key)
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["query", "events"]
