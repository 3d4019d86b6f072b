"""Asset management (Directive (EU) 2024/1260) through the API: valuation history, management
costs, interlocutory sales with their deadlines, and the allocation of realised proceeds."""

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.principal import Role
from app.realisation.service import split_by_weights
from tests.app.auditing import live_app
from tests.app.casework import PEOPLE, Api, criminal_case, order
from tests.factories import bearer, make_key

CAR = {
    "type": "vehicle",
    "description": "Porsche 911, black",
    "vin": "WP0ZZZ99ZTS392124",
    "valuation": {
        "amount": "92000.00",
        "currency": "EUR",
        "valued_on": "2027-01-04",
        "method": "dealer appraisal",
    },
}


def setup(client: TestClient, session: Session) -> tuple[Api, int]:
    api = Api(client, bearer(make_key(session, Role.INVESTIGATOR)))
    api.post("/api/v1/accounts/batch", PEOPLE)
    return api, api.post("/api/v1/cases", criminal_case())["id"]


def frozen_car(api: Api, case_id: int) -> int:
    car = api.post(f"/api/v1/cases/{case_id}/assets", CAR)["id"]
    freeze = order("FROZEN", decision_date="2027-01-11", expiry_date="2027-07-30")
    r = api.move(car, freeze)
    assert r.status_code == 201, r.text
    return int(car)


def test_the_asset_shows_its_latest_valuation_by_date(client: TestClient, session: Session) -> None:
    api, case_id = setup(client, session)
    car = frozen_car(api, case_id)
    etag = client.get(f"/api/v1/assets/{car}", headers=api.key).headers["ETag"]
    url = f"/api/v1/assets/{car}/valuations"
    api.post(
        url,
        {
            "amount": "84500",
            "currency": "EUR",
            "valued_on": "2027-03-01",
            "method": "auction estimate",
            "source": "Auktionshaus Nord",
        },
    )
    # Recorded later, valued earlier: history, not the value shown.
    late = api.post(url, {"amount": "90000.00", "currency": "EUR", "valued_on": "2027-02-01"})
    assert (late["amount"], late["valued_on"], late["source"]) == ("90000.00", "2027-02-01", None)
    r = client.get(f"/api/v1/assets/{car}", headers=api.key)
    assert r.json()["valuation"] == {
        "amount": "84500.00",
        "currency": "EUR",
        "valued_on": "2027-03-01",
        "method": "auction estimate",
    }
    assert r.headers["ETag"] == etag  # a valuation is no legal move
    history = api.get(url)["items"]
    assert [(v["amount"], v["valued_on"], v["source"]) for v in history] == [
        ("92000.00", "2027-01-04", None),
        ("84500.00", "2027-03-01", "Auktionshaus Nord"),
        ("90000.00", "2027-02-01", None),
    ]
    page = api.get(url, limit=2)
    assert len(page["items"]) == 2
    assert api.get(url, cursor=page["next_cursor"])["items"] == history[2:]
    wrong = client.post(
        url, json={"amount": "1", "currency": "USD", "valued_on": "2027-03-02"}, headers=api.key
    )
    assert (wrong.status_code, wrong.json()["errors"][0]["loc"]) == (422, ["body", "currency"])


def test_costs_are_totalled_beside_the_value_and_flagged_beyond_it(
    client: TestClient, session: Session
) -> None:
    api, case_id = setup(client, session)
    boat = api.post(
        f"/api/v1/cases/{case_id}/assets",
        {
            "type": "vessel",
            "description": "Speedboat, 6 m",
            "name": "Hafenblitz",
            "valuation": {"amount": "4000.00", "currency": "EUR", "valued_on": "2027-01-04"},
        },
    )
    assert (boat["management_costs"], boat["costs_exceed_value"]) == ([], False)
    url = f"/api/v1/assets/{boat['id']}/costs"
    for month in ("01", "02", "03"):
        api.post(
            url,
            {
                "kind": "storage",
                "amount": "1250",
                "currency": "EUR",
                "incurred_on": f"2027-{month}-28",
                "note": "marina berth",
            },
        )
    shown = api.get(f"/api/v1/assets/{boat['id']}")
    # 3 x 1250.00 = 3750.00, under the 4000.00 it is worth
    assert shown["management_costs"] == [{"currency": "EUR", "amount": "3750.00"}]
    assert shown["costs_exceed_value"] is False
    cost = api.post(
        url,
        {"kind": "insurance", "amount": "480.50", "currency": "EUR", "incurred_on": "2027-03-31"},
    )
    assert (cost["kind"], cost["amount"], cost["note"]) == ("insurance", "480.50", None)
    shown = api.get(f"/api/v1/assets/{boat['id']}")
    # 3750.00 + 480.50 = 4230.50 > 4000.00: it costs more than it is worth
    assert shown["management_costs"] == [{"currency": "EUR", "amount": "4230.50"}]
    assert shown["costs_exceed_value"] is True
    listed = api.get(f"/api/v1/cases/{case_id}/assets")["items"]
    assert [a["costs_exceed_value"] for a in listed] == [True]
    assert [c["amount"] for c in api.get(url)["items"]] == ["1250.00"] * 3 + ["480.50"]
    for bad, field in (
        (
            {"kind": "storage", "amount": "10", "currency": "CHF", "incurred_on": "2027-04-01"},
            "currency",
        ),
        (
            {"kind": "storage", "amount": "0", "currency": "EUR", "incurred_on": "2027-04-01"},
            "amount",
        ),
        (
            {"kind": "parking", "amount": "10", "currency": "EUR", "incurred_on": "2027-04-01"},
            "kind",
        ),
    ):
        r = client.post(url, json=bad, headers=api.key)
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["loc"][-1] == field


def sale_order(**fields: Any) -> dict[str, Any]:
    return {
        "ground": "rapidly_depreciating",
        "order_reference": "LG-HH-2027-61-VS",
        "issuing_authority": "Landgericht Hamburg",
        "legal_basis": "StPO § 111p",
        "decision_date": "2027-03-01",
        "sell_within": {"value": 30, "unit": "working_days"},
        **fields,
    }


def test_an_interlocutory_sale_puts_its_proceeds_where_the_asset_stood(
    client: TestClient, session: Session
) -> None:
    api, case_id = setup(client, session)
    car = frozen_car(api, case_id)
    url = f"/api/v1/assets/{car}/sale-orders"
    ordered = api.post(url, sale_order())
    # 30 working days from Monday 1 March 2027 in Germany skip Good Friday (26 March) and
    # Easter Monday (29 March): the sale is due by Wednesday 14 April, midnight in Hamburg.
    assert (ordered["sell_by"], ordered["sell_by_at"]) == ("2027-04-14", "2027-04-14T22:00:00Z")
    assert (ordered["status"], ordered["overdue"], ordered["jurisdiction"]) == (
        "ordered",
        False,
        "DE",
    )
    assert api.get(f"/api/v1/assets/{car}")["status"] == "FROZEN"  # an order is not the sale
    due = [s["id"] for s in api.get("/api/v1/sale-orders", within_days=3650)["items"]]
    assert due == [ordered["id"]]
    again = client.post(url, json=sale_order(), headers=api.key)
    assert (again.status_code, again.json()["sale_id"]) == (409, ordered["id"])

    sale_url = f"{url}/{ordered['id']}/sale"
    sale = {
        "sold_on": "2027-03-24",
        "amount": "84500",
        "currency": "EUR",
        "buyer": "Auktionshaus Nord, lot 117",
    }
    r = client.post(sale_url, json=sale, headers=api.key)
    assert r.status_code == 428
    r = client.post(sale_url, json=sale, headers={**api.key, "If-Match": '"1"'})
    assert r.status_code == 412
    r = client.post(sale_url, json=sale, headers={**api.key, "If-Match": '"2"'})
    assert (r.status_code, r.headers["ETag"]) == (200, '"3"')
    sold = r.json()
    assert (sold["status"], sold["price"], sold["currency"], sold["overdue"]) == (
        "sold",
        "84500.00",
        "EUR",
        False,
    )
    assert api.get(f"/api/v1/assets/{car}")["status"] == "SUBSTITUTED"
    cash = api.get(f"/api/v1/assets/{sold['substitute_asset_id']}")
    # The proceeds are frozen as the car was, under the same order's deadline.
    assert (cash["type"], cash["status"], cash["replaces_asset_id"]) == ("cash", "FROZEN", car)
    assert (cash["expiry_date"], cash["renew_by"]) == ("2027-07-30", "2027-07-28")
    assert cash["valuation"]["amount"] == "84500.00"
    moves = api.get(f"/api/v1/assets/{car}/measures")["items"]
    assert moves[-1]["id"] == sold["measure_id"]
    assert (moves[-1]["to_status"], moves[-1]["measure_type"], moves[-1]["amount"]) == (
        "SUBSTITUTED",
        "interlocutory_sale",
        "84500.00",
    )
    assert moves[-1]["order_reference"] == "LG-HH-2027-61-VS"
    (first,) = api.get(f"/api/v1/assets/{cash['id']}/measures")["items"]
    assert (first["to_status"], first["expiry_date"]) == ("FROZEN", "2027-07-30")
    deadlines = api.get("/api/v1/deadlines", within_days=3650)["items"]
    assert [d["asset_id"] for d in deadlines] == [cash["id"]]
    assert (
        client.post(sale_url, json=sale, headers={**api.key, "If-Match": '"3"'}).status_code == 409
    )
    # A SUBSTITUTED asset is no longer held: nothing left to sell.
    assert client.post(url, json=sale_order(), headers=api.key).status_code == 409
    assert [s["status"] for s in api.get(url)["items"]] == ["sold"]


def test_sale_orders_need_a_freeze_or_seizure_and_say_when_they_are_late(
    client: TestClient, session: Session
) -> None:
    api, case_id = setup(client, session)
    loose = api.post(f"/api/v1/cases/{case_id}/assets", CAR)["id"]
    r = client.post(f"/api/v1/assets/{loose}/sale-orders", json=sale_order(), headers=api.key)
    assert (r.status_code, r.json()["code"]) == (409, "sale_conflict")
    car = frozen_car(api, case_id)
    url = f"/api/v1/assets/{car}/sale-orders"
    for bad, field in (
        (sale_order(sell_by="2027-04-30"), "body"),  # both deadlines
        (sale_order(sell_within=None, sell_by="2027-02-01"), "sell_by"),
        (sale_order(ground="ugly"), "ground"),
    ):
        r = client.post(url, json=bad, headers=api.key)
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["loc"][-1] == field, r.text
    past = api.post(
        url, sale_order(decision_date="2026-01-05", sell_within=None, sell_by="2026-01-30")
    )
    assert (past["sell_by_at"], past["overdue"]) == ("2026-01-30T23:00:00Z", True)
    # Late orders lead the list of sales due; one due in a year is not due within a week.
    due = api.get("/api/v1/sale-orders", within_days=7)["items"]
    assert [(s["id"], s["overdue"]) for s in due] == [(past["id"], True)]
    outsider = bearer(make_key(session, Role.INVESTIGATOR, name="outsider"))
    assert client.get("/api/v1/sale-orders", headers=outsider).json()["items"] == []
    r = client.post(
        f"{url}/{past['id']}/sale",
        json={"sold_on": "2026-01-02", "amount": "1", "currency": "EUR"},
        headers={**api.key, "If-Match": '"2"'},
    )
    assert (r.status_code, r.json()["errors"][0]["loc"]) == (422, ["body", "sold_on"])
    r = client.post(
        f"/api/v1/assets/{car}/sale-orders/999/sale",
        json={"sold_on": "2027-03-24", "amount": "1", "currency": "EUR"},
        headers={**api.key, "If-Match": '"2"'},
    )
    assert (r.status_code, r.json()["code"]) == (404, "sale_not_found")


def realised_cash(api: Api, case_id: int, proceeds: str | None) -> int:
    cash = api.post(
        f"/api/v1/cases/{case_id}/assets",
        {
            "type": "cash",
            "description": "EUR in a sports bag",
            "valuation": {"amount": "120000", "currency": "EUR"},
        },
    )["id"]
    steps = [
        order("SEIZED", legal_basis="StPO § 111b"),
        order("CONFISCATION_ORDERED"),
        order("CONFISCATED"),
    ]
    if proceeds is not None:
        steps.append({"to_status": "REALISED", "amount": proceeds, "currency": "EUR"})
    for step in steps:
        assert api.move(cash, step).status_code == 201
    return int(cash)


def test_realised_proceeds_go_to_the_victims_and_the_rest_to_the_state(
    client: TestClient, session: Session
) -> None:
    api, case_id = setup(client, session)
    cash = realised_cash(api, case_id, "84500.00")
    url = f"/api/v1/assets/{cash}/allocation"
    assert client.get(url, headers=api.key).json()["code"] == "allocation_not_found"
    too_much = {
        "victims": [
            {"party": "person:victim", "amount": "80000"},
            {"party": "company:acme", "amount": "4500.01"},
        ]
    }
    r = client.post(url, json=too_much, headers=api.key)
    assert (r.status_code, r.json()["errors"][0]["loc"]) == (422, ["body", "victims"])
    twice = {
        "victims": [
            {"party": "person:victim", "amount": "1"},
            {"party": "person:victim", "amount": "2"},
        ]
    }
    r = client.post(url, json=twice, headers=api.key)
    assert r.json()["errors"][0]["loc"] == ["body", "victims.1.party"]
    done = api.post(
        url,
        {
            "victims": [
                {"party": "person:victim", "amount": "30000", "note": "restitution order"},
                {"party": "company:acme", "amount": "12345.67"},
            ],
            "note": "to the state fund",
        },
    )
    # 84500.00 - 30000.00 - 12345.67 = 42154.33 to the state; the shares sum to the proceeds.
    assert (done["proceeds"], done["to_victims"], done["to_state"]) == (
        "84500.00",
        "42345.67",
        "42154.33",
    )
    assert [(s["recipient"], s["amount"], s["note"]) for s in done["shares"]] == [
        ("victim", "30000.00", "restitution order"),
        ("victim", "12345.67", None),
        ("state", "42154.33", "to the state fund"),
    ]
    assert api.get(url) == done
    r = client.post(url, json={}, headers=api.key)
    assert (r.status_code, r.json()["code"]) == (409, "allocation_conflict")


def test_confiscated_money_is_its_own_proceeds_and_a_car_needs_its_sale(
    client: TestClient, session: Session
) -> None:
    api, case_id = setup(client, session)
    cash = realised_cash(api, case_id, None)
    all_to_state = api.post(f"/api/v1/assets/{cash}/allocation", {})
    assert (all_to_state["proceeds"], all_to_state["to_state"]) == ("120000.00", "120000.00")
    car = frozen_car(api, case_id)
    r = client.post(f"/api/v1/assets/{car}/allocation", json={}, headers=api.key)
    assert (r.status_code, r.json()["current_status"]) == (409, "FROZEN")


def test_what_a_case_hides_its_management_records_hide(
    client: TestClient, session: Session
) -> None:
    api, case_id = setup(client, session)
    car = frozen_car(api, case_id)
    outsider = bearer(make_key(session, Role.INVESTIGATOR, name="outsider"))
    analyst = bearer(make_key(session, Role.ANALYST, name="analyst"))
    for path in ("valuations", "costs", "sale-orders", "allocation"):
        url = f"/api/v1/assets/{car}/{path}"
        assert client.get(url, headers=outsider).status_code == 404, url
        assert client.post(url, json={}, headers=outsider).status_code == 404, url
        assert client.post(url, json={}, headers=analyst).status_code == 403, url


def test_largest_remainder_splits_sum_exactly() -> None:
    assert split_by_weights(10_000, [1, 1, 1]) == [3334, 3333, 3333]
    # 84500.00 EUR by claims of 30000.00 and 12345.67: exactly 59864.444.. and 24635.555..;
    # the larger remainder (.577..) takes the cent left over.
    assert split_by_weights(8_450_000, [3_000_000, 1_234_567]) == [5_986_444, 2_463_556]
    assert sum(split_by_weights(7, [5, 3, 2])) == 7


def test_management_records_are_audited(tmp_path: Path) -> None:
    with live_app(tmp_path) as live:
        client, admin = live.client, live.admin
        case_id = client.post("/api/v1/cases", json=criminal_case(), headers=admin).json()["id"]
        car = client.post(f"/api/v1/cases/{case_id}/assets", json=CAR, headers=admin).json()["id"]
        r = client.post(
            f"/api/v1/assets/{car}/valuations",
            json={"amount": "84500", "currency": "EUR", "valued_on": "2027-03-01"},
            headers=admin,
        )
        assert r.status_code == 201, r.text
        (entry,) = live.entries(operation="create_asset_valuation")
        assert (entry["path"], entry["outcome"]) == (f"/api/v1/assets/{car}/valuations", 201)
        assert live.verify()["valid"] is True
