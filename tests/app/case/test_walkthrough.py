"""The README's walk-through, "From trace to sale", step by step through the API on the demo:
a LIBR trace for a case, its report, the holdings proposed for freezing, a freeze, and a frozen
car's interlocutory sale whose proceeds stand where the car stood."""

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.demo.service import EXCHANGE_ACCOUNT, SEED_TRANSACTIONS
from app.principal import Role
from tests.app.casework import Api, criminal_case, order
from tests.factories import bearer, make_key

SELLER = "iban:DE12500105170648489890"
LIMASSOL = "iban:CY17002001280000001200527600"
NORDLICHT = "iban:DE75512108001245126199"


def test_from_trace_to_report_to_proposals_to_a_frozen_cars_sale(
    client: TestClient, session: Session
) -> None:
    api = Api(client, bearer(make_key(session, Role.INVESTIGATOR)))
    admin = bearer(make_key(session))
    assert client.post("/api/v1/demo", headers=admin).status_code == 201
    case_id = api.post("/api/v1/cases", criminal_case())["id"]

    # 1. The trace, filed in the case.
    trace = api.post(
        "/api/v1/traces",
        {
            "seeds": [{"transaction": t} for t in SEED_TRANSACTIONS],
            "rule": "libr",
            "stop_at": [EXCHANGE_ACCOUNT],
            "case_id": case_id,
        },
    )
    totals = trace["summary"]["engine"]["currencies"]["EUR"]
    assert (totals["held"], totals["exited"]) == ("43000.00", "3500.00")

    # 2. Its report, as a prosecutor receives it.
    report = client.get(f"/api/v1/traces/{trace['id']}/report.pdf", headers=api.key)
    assert (report.status_code, report.headers["content-type"]) == (200, "application/pdf")
    assert report.content.startswith(b"%PDF")

    # 3. The holdings of at least 10,000.00 proposed for freezing: assets in state TRACED.
    made = api.post(
        f"/api/v1/traces/{trace['id']}/proposals", {"case_id": case_id, "min_amount": "10000"}
    )
    assert [(c["account"], c["held"], c["status"]) for c in made["created"]] == [
        (SELLER, "13000.00", "TRACED"),
        (LIMASSOL, "10900.00", "TRACED"),
        (NORDLICHT, "10500.00", "TRACED"),
    ]

    # 4. A German court's freezing order for the Cypriot balance, executed in Cyprus
    # (Regulation (EU) 2018/1805): the order names its executing authority.
    limassol = made["created"][1]["asset_id"]
    freeze = order("FROZEN", decision_date="2026-02-02", expiry_date="2026-08-03")
    abroad = {**freeze, "executing_authority": "Cyprus Police, Asset Recovery Office"}
    r = api.move(limassol, abroad)
    assert r.status_code == 201, r.text
    assert api.get(f"/api/v1/assets/{limassol}")["status"] == "FROZEN"

    # 5. The car the 3,500.00 deposit paid for is registered, frozen, and costs more to keep
    # than it is worth: its sale is ordered and carried out.
    car = api.post(
        f"/api/v1/cases/{case_id}/assets",
        {
            "type": "vehicle",
            "description": "Audi A6 Avant, deposit paid by Nordlicht (DEMO-L06)",
            "registration": "HH-NL 2026",
            "valuation": {"amount": "3500.00", "currency": "EUR", "valued_on": "2026-02-02"},
            "links": [{"transaction": "DEMO-L06", "note": "the deposit"}],
        },
    )["id"]
    assert api.move(car, freeze).status_code == 201
    for month in ("02", "03", "04"):
        storage = {"kind": "storage", "amount": "1200", "currency": "EUR"}
        api.post(f"/api/v1/assets/{car}/costs", {**storage, "incurred_on": f"2026-{month}-27"})
    assert api.get(f"/api/v1/assets/{car}")["costs_exceed_value"] is True
    sale_order = api.post(
        f"/api/v1/assets/{car}/sale-orders",
        {
            "ground": "disproportionate_cost",
            "order_reference": "LG-HH-2026-14-VS",
            "issuing_authority": "Landgericht Hamburg",
            "legal_basis": "StPO § 111p",
            "decision_date": "2026-05-04",
            "sell_within": {"value": 30, "unit": "working_days"},
        },
    )
    etag = client.get(f"/api/v1/assets/{car}", headers=api.key).headers["ETag"]
    sold = client.post(
        f"/api/v1/assets/{car}/sale-orders/{sale_order['id']}/sale",
        json={"sold_on": "2026-05-20", "amount": "3100.00", "currency": "EUR"},
        headers={**api.key, "If-Match": etag},
    )
    assert sold.status_code == 200, sold.text
    cash = api.get(f"/api/v1/assets/{sold.json()['substitute_asset_id']}")
    assert (cash["type"], cash["status"], cash["replaces_asset_id"]) == ("cash", "FROZEN", car)
    assert cash["valuation"]["amount"] == "3100.00"
    assert api.get(f"/api/v1/assets/{car}")["status"] == "SUBSTITUTED"

    # 6. The overview shows it all, each asset in its legal state.
    overview = api.get(f"/api/v1/cases/{case_id}/overview")
    by_status = {g["status"]: g for g in overview["assets"]}
    assert {"TRACED", "FROZEN", "SUBSTITUTED"} <= by_status.keys()
