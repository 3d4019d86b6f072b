"""The acceptance walk-through of issue 4, through the HTTP API only."""

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.principal import Role
from tests.app.casework import FLAT, PEOPLE, Api, bank_balance, criminal_case, order
from tests.factories import bearer, make_key


def test_a_case_its_assets_and_their_legal_life(client: TestClient, session: Session) -> None:
    api = Api(client, bearer(make_key(session, Role.INVESTIGATOR)))
    api.post("/api/v1/accounts/batch", PEOPLE)
    criminal = api.post("/api/v1/cases", criminal_case())
    pfi = api.post(
        "/api/v1/cases",
        criminal_case(
            "BKA-2026-0001-F",
            kind="parallel_financial_investigation",
            predicate_offences=["drug_trafficking", "money_laundering"],
            parent_case_id=criminal["id"],
        ),
    )
    api.post(
        f"/api/v1/cases/{criminal['id']}/subjects", {"party": "person:anna", "role": "suspect"}
    )
    api.post(f"/api/v1/cases/{pfi['id']}/subjects", {"party": "person:anna", "role": "suspect"})
    api.post(f"/api/v1/cases/{pfi['id']}/subjects", {"party": "person:victim", "role": "victim"})
    subject = api.post(
        f"/api/v1/cases/{pfi['id']}/subjects",
        {"account": "iban:DE89 3704 0044 0532 0130 00", "role": "mule"},
    )
    assert (subject["account_key"], subject["name"]) == ("iban:DE89370400440532013000", None)

    balance = api.post(f"/api/v1/cases/{pfi['id']}/assets", bank_balance())
    flat = api.post(f"/api/v1/cases/{pfi['id']}/assets", FLAT)
    assert (balance["status"], balance["valuation"]["amount"]) == ("IDENTIFIED", "48210.55")
    assert [o["share_percent"] for o in flat["owners"]] == ["50.00", "50.00"]

    def refused(asset_id: int, to_status: str, allowed: list[str]) -> None:
        r = api.move(asset_id, order(to_status))
        assert r.status_code == 409, r.text
        assert (r.json()["code"], r.json()["allowed_transitions"]) == (
            "illegal_transition",
            allowed,
        )

    bid = balance["id"]
    refused(bid, "CONFISCATED", ["TRACED", "SUSPENDED", "FROZEN", "SEIZED"])
    # 5 working days from Thursday 30 April 2026 in Germany: Friday 1 May is Labour Day, so
    # the days are 4, 5, 6, 7 and 8 May; without the holiday it would end on 7 May.
    r = api.move(
        bid,
        order(
            "SUSPENDED",
            issuing_authority="FIU Germany",
            legal_basis="GwG § 40(1)",
            decision_date="2026-04-30",
            duration={"value": 5, "unit": "working_days"},
        ),
    )
    assert r.status_code == 201, r.text
    suspended = r.json()
    assert (suspended["expiry_date"], suspended["renew_by"]) == ("2026-05-08", "2026-05-06")
    # The end of 8 May in Hamburg (CEST), not midnight UTC.
    assert suspended["expires_at"] == "2026-05-08T22:00:00Z"
    assert (suspended["measure_type"], r.headers["ETag"]) == ("fiu_suspension", '"2"')
    refused(bid, "SEIZED", ["FROZEN", "RELEASED", "DISSIPATED"])
    steps = [
        order("FROZEN", amount="48210.55", currency="EUR"),
        order("CONFISCATION_ORDERED", basis="non_conviction_based", expiry_date="2026-07-06"),
        {"to_status": "UNDER_APPEAL", "order_reference": "OLG-HH-2 Ws 14/26"},
        order("CONFISCATED", order_reference="OLG-HH-2 Ws 14/26", issuing_authority="OLG HH"),
        {"to_status": "REALISED", "amount": "48210.55", "currency": "EUR"},
        {"to_status": "DISPOSED", "disposal_kind": "returned_to_victim", "note": "to V. Opfer"},
    ]
    for step in steps:
        if step["to_status"] == "CONFISCATED":
            refused(bid, "DISPOSED", ["CONFISCATED", "RELEASED", "CONFISCATION_ORDERED"])
        r = api.move(bid, step)
        assert r.status_code == 201, r.text
    refused(bid, "RELEASED", [])
    done = api.get(f"/api/v1/assets/{bid}")
    assert (done["status"], done["allowed_transitions"], done["version"]) == ("DISPOSED", [], 8)
    history = api.get(f"/api/v1/assets/{bid}/measures")["items"]
    assert [(m["seq"], m["from_status"], m["to_status"]) for m in history] == [
        (1, None, "IDENTIFIED"),
        (2, "IDENTIFIED", "SUSPENDED"),
        (3, "SUSPENDED", "FROZEN"),
        (4, "FROZEN", "CONFISCATION_ORDERED"),
        (5, "CONFISCATION_ORDERED", "UNDER_APPEAL"),
        (6, "UNDER_APPEAL", "CONFISCATED"),
        (7, "CONFISCATED", "REALISED"),
        (8, "REALISED", "DISPOSED"),
    ]
    assert history[-1]["disposal_kind"] == "returned_to_victim"
    assert history[3]["basis"] == "non_conviction_based"

    # The flat's freeze ran 30 days from a decision 40 days ago: it lapsed ten days ago.
    decided = (datetime.now(UTC) - timedelta(days=40)).date()
    r = api.move(
        flat["id"],
        order(
            "FROZEN",
            decision_date=decided.isoformat(),
            duration={"value": 30, "unit": "calendar_days"},
        ),
    )
    assert r.status_code == 201, r.text
    lapsed = api.get("/api/v1/deadlines", within_days=0)["items"]
    assert [(d["asset_id"], d["lapsed"], d["lapses_to_expired"]) for d in lapsed] == [
        (flat["id"], True, True)
    ]
    admin = Api(client, bearer(make_key(session, Role.ADMIN)))
    swept = admin.post("/api/v1/deadlines/sweep", {}, status=200)["expired"]
    assert len(swept) == 1
    expired = api.get(f"/api/v1/assets/{flat['id']}")
    assert (expired["status"], expired["allowed_transitions"]) == ("EXPIRED", ["RELEASED"])
    event = api.get(f"/api/v1/assets/{flat['id']}/measures")["items"][-1]
    assert (event["id"], event["from_status"], event["to_status"]) == (
        swept[0],
        "FROZEN",
        "EXPIRED",
    )
    assert event["actor_id"] is None
    assert event["expiry_date"] == (decided + timedelta(days=30)).isoformat()
    assert api.get("/api/v1/deadlines", within_days=0)["items"] == []
    assert admin.post("/api/v1/deadlines/sweep", {}, status=200)["expired"] == []
    r = api.move(flat["id"], {"to_status": "RELEASED", "release_reason": "expired_no_order"})
    assert r.status_code == 201, r.text
