"""Interlocutory sales due in the general deadline list and the case overview, ordered by due
time with the measures lapsing, and visible exactly as their case is."""

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.principal import Role
from tests.app.asset.test_asset_management import CAR, frozen_car, sale_order, setup
from tests.app.casework import Api, criminal_case, order
from tests.factories import bearer, make_key

CASH = {"type": "cash", "description": "EUR 40,000 in a safe"}
# The fields a measure's row had before rows had kinds; each row now also says its kind and
# the instant the list is ordered by.
MEASURE_FIELDS = {
    "asset_id",
    "case_id",
    "case_reference",
    "asset_type",
    "description",
    "status",
    "measure_id",
    "measure_type",
    "order_reference",
    "jurisdiction",
    "expiry_date",
    "expires_at",
    "renew_by",
    "renew_by_at",
    "lapsed",
    "lapses_to_expired",
}


def _rows(items: list[dict[str, Any]]) -> list[tuple[str, int, str]]:
    return [
        (d["kind"], d["sale_id"] if d["kind"] == "sale_due" else d["asset_id"], d["due_at"])
        for d in items
    ]


def _walk(api: Api, limit: int) -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        page = api.get("/api/v1/deadlines", within_days=3650, limit=limit, cursor=cursor or "")
        assert len(page["items"]) <= limit
        items += page["items"]
        if (cursor := page["next_cursor"]) is None:
            return items


def _case_with_deadlines(api: Api, case_id: int) -> dict[str, int]:
    """Two frozen cars with sale orders (one late), and frozen cash lapsing at the instant the
    first car's sale is due."""
    car = frozen_car(api, case_id)  # frozen until 30 July 2027
    sale = api.post(f"/api/v1/assets/{car}/sale-orders", sale_order())
    late_car = frozen_car(api, case_id)
    late = api.post(
        f"/api/v1/assets/{late_car}/sale-orders",
        sale_order(decision_date="2026-01-05", sell_within=None, sell_by="2026-01-30"),
    )
    cash = api.post(f"/api/v1/cases/{case_id}/assets", CASH)["id"]
    freeze = order("FROZEN", decision_date="2027-01-11", expiry_date="2027-04-14")
    assert api.move(cash, freeze).status_code == 201
    return {"car": car, "sale": sale["id"], "late_car": late_car, "late": late["id"], "cash": cash}


def test_sales_due_join_the_deadline_list_in_due_order(
    client: TestClient, session: Session
) -> None:
    api, case_id = setup(client, session)
    ids = _case_with_deadlines(api, case_id)
    items = api.get("/api/v1/deadlines", within_days=3650)["items"]
    # 30 January 2026 ends at 23:00 UTC in Hamburg (winter time); 14 April 2027 at 22:00 UTC
    # (summer time), the end of the 30th working day from 1 March 2027 and the cash's last day:
    # at one instant the measure comes first. The cars' freezes end on 30 July 2027.
    assert _rows(items) == [
        ("sale_due", ids["late"], "2026-01-30T23:00:00Z"),
        ("measure_expiry", ids["cash"], "2027-04-14T22:00:00Z"),
        ("sale_due", ids["sale"], "2027-04-14T22:00:00Z"),
        ("measure_expiry", ids["car"], "2027-07-30T22:00:00Z"),
        ("measure_expiry", ids["late_car"], "2027-07-30T22:00:00Z"),
    ]
    late, cash, sale, car, _ = items
    assert set(cash) == set(car) == MEASURE_FIELDS | {"kind", "due_at"}
    assert (car["asset_type"], car["expiry_date"], car["renew_by"]) == (
        "vehicle",
        "2027-07-30",
        "2027-07-28",
    )
    assert (cash["expires_at"], cash["expiry_date"], cash["status"]) == (
        "2027-04-14T22:00:00Z",
        "2027-04-14",
        "FROZEN",
    )
    assert (cash["measure_type"], cash["lapsed"], cash["lapses_to_expired"]) == (
        "freeze",
        False,
        True,
    )
    assert sale == {
        "kind": "sale_due",
        "due_at": "2027-04-14T22:00:00Z",
        "asset_id": ids["car"],
        "case_id": case_id,
        "case_reference": "BKA-2026-0001",
        "asset_type": "vehicle",
        "description": CAR["description"],
        "status": "FROZEN",
        "sale_id": ids["sale"],
        "ground": "rapidly_depreciating",
        "order_reference": "LG-HH-2027-61-VS",
        "issuing_authority": "Landgericht Hamburg",
        "jurisdiction": "DE",
        "sell_by": "2027-04-14",
        "sell_by_at": "2027-04-14T22:00:00Z",
        "overdue": False,
    }
    assert (late["asset_id"], late["sell_by"], late["overdue"]) == (
        ids["late_car"],
        "2026-01-30",
        True,
    )
    # Pages of one or two rows walk the same order, a tie split between pages included.
    assert _walk(api, 1) == items
    assert _walk(api, 2) == items
    # Within no days: only what is already late.
    assert _rows(api.get("/api/v1/deadlines", within_days=0)["items"]) == [_rows(items)[0]]


def test_a_sold_order_or_one_whose_asset_was_released_is_no_longer_due(
    client: TestClient, session: Session
) -> None:
    api, case_id = setup(client, session)
    ids = _case_with_deadlines(api, case_id)
    sold = client.post(
        f"/api/v1/assets/{ids['car']}/sale-orders/{ids['sale']}/sale",
        json={"sold_on": "2027-03-24", "amount": "84500", "currency": "EUR"},
        headers={**api.key, "If-Match": '"2"'},
    )
    assert sold.status_code == 200, sold.text
    release = {"to_status": "RELEASED", "release_reason": "withdrawn"}
    assert api.move(ids["late_car"], release).status_code == 201, "release"
    substitute = sold.json()["substitute_asset_id"]
    # The proceeds stand frozen where the car stood, under its freeze's last day.
    assert _rows(api.get("/api/v1/deadlines", within_days=3650)["items"]) == [
        ("measure_expiry", ids["cash"], "2027-04-14T22:00:00Z"),
        ("measure_expiry", substitute, "2027-07-30T22:00:00Z"),
    ]


def test_the_overview_lists_its_cases_sales_due_and_hides_them_from_others(
    client: TestClient, session: Session
) -> None:
    api, case_id = setup(client, session)
    ids = _case_with_deadlines(api, case_id)
    other = api.post("/api/v1/cases", criminal_case("BKA-2026-0002"))["id"]
    other_car = frozen_car(api, other)
    other_sale = api.post(f"/api/v1/assets/{other_car}/sale-orders", sale_order())["id"]

    overview = api.get(f"/api/v1/cases/{case_id}/overview", within_days=3650)
    listed = api.get("/api/v1/deadlines", within_days=3650)["items"]
    assert overview["deadlines"] == [d for d in listed if d["case_id"] == case_id]
    assert [d["sale_id"] for d in overview["deadlines"] if d["kind"] == "sale_due"] == [
        ids["late"],
        ids["sale"],
    ]
    assert ("sale_due", other_sale, "2027-04-14T22:00:00Z") in _rows(listed)
    # Within a week only the late sale is due.
    week = api.get(f"/api/v1/cases/{case_id}/overview", within_days=7)["deadlines"]
    assert _rows(week) == [("sale_due", ids["late"], "2026-01-30T23:00:00Z")]

    outsider = bearer(make_key(session, Role.INVESTIGATOR, name="outsider"))
    assert client.get("/api/v1/deadlines", headers=outsider).json()["items"] == []
    hidden = client.get(f"/api/v1/cases/{case_id}/overview", headers=outsider)
    assert hidden.status_code == 404
