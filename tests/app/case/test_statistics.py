"""Yearly statistics (issue 17, part 4): orders, their values and recoveries by predicate
offence and legal state, for admins and supervisors, as JSON and CSV."""

import csv
import io

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.principal import Role
from tests.app.casework import FLAT, IBAN_FR, PEOPLE, Api, bank_balance, criminal_case, order
from tests.factories import bearer, make_key


def test_orders_values_and_recoveries_by_offence_and_state(
    client: TestClient, session: Session
) -> None:
    lead = Api(client, bearer(make_key(session, Role.INVESTIGATOR, name="lead")))
    supervisor = Api(client, bearer(make_key(session, Role.SUPERVISOR)))
    lead.post("/api/v1/accounts/batch", PEOPLE)
    drugs = lead.post(
        "/api/v1/cases", criminal_case(predicate_offences=["drug_trafficking", "money_laundering"])
    )
    tax = lead.post(
        "/api/v1/cases", criminal_case("STA-2026-0099", predicate_offences=["tax_crimes"])
    )
    balance = lead.post(f"/api/v1/cases/{drugs['id']}/assets", bank_balance("48210.55"))
    flat = lead.post(f"/api/v1/cases/{tax['id']}/assets", FLAT)
    last_year = lead.post(
        f"/api/v1/cases/{tax['id']}/assets", bank_balance("10.00", account=IBAN_FR)
    )

    # A partial freeze counts what it holds; a freeze of the whole counts the valuation.
    moves = [
        (balance, order("FROZEN", amount="20000.00", currency="EUR")),
        (flat, order("FROZEN")),
        # A renewal of the freeze in force is not a new order.
        (flat, order("FROZEN", order_reference="ORD-RENEWAL")),
        (flat, order("CONFISCATION_ORDERED")),
        (flat, order("CONFISCATED")),
        (flat, {"to_status": "REALISED", "amount": "340000.10", "currency": "EUR"}),
        (last_year, order("FROZEN", decision_date="2025-12-31")),
    ]
    for asset, move in moves:
        r = lead.move(asset["id"], move)
        assert r.status_code == 201, r.text

    got = supervisor.get("/api/v1/statistics", year=2026)
    assert got["year"] == 2026
    rows = [
        (r["predicate_offence"], r["legal_state"], r["orders"], r["values"])
        for r in got["by_offence"]
    ]
    eur = lambda amount: [{"currency": "EUR", "amount": amount}]  # noqa: E731
    assert rows == [
        ("drug_trafficking", "FROZEN", 1, eur("20000.00")),
        ("money_laundering", "FROZEN", 1, eur("20000.00")),
        ("tax_crimes", "FROZEN", 1, eur("350000.00")),
        ("tax_crimes", "CONFISCATION_ORDERED", 1, eur("350000.00")),
        ("tax_crimes", "CONFISCATED", 1, eur("350000.00")),
        ("tax_crimes", "REALISED", 1, eur("340000.10")),
    ]
    # Per state, each order once, though the drug case names two offences.
    assert [(r["legal_state"], r["orders"], r["values"]) for r in got["by_state"]] == [
        ("FROZEN", 2, eur("370000.00")),
        ("CONFISCATION_ORDERED", 1, eur("350000.00")),
        ("CONFISCATED", 1, eur("350000.00")),
        ("REALISED", 1, eur("340000.10")),
    ]
    (only,) = supervisor.get("/api/v1/statistics", year=2025)["by_state"]
    assert (only["legal_state"], only["orders"], only["values"]) == ("FROZEN", 1, eur("10.00"))

    r = client.get("/api/v1/statistics.csv", params={"year": 2026}, headers=supervisor.key)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(r.text)))
    assert len(table) == 6
    assert table[-1] == {
        "year": "2026",
        "predicate_offence": "tax_crimes",
        "legal_state": "REALISED",
        "orders": "1",
        "currency": "EUR",
        "value": "340000.10",
    }


def test_statistics_are_for_admins_and_supervisors(client: TestClient, session: Session) -> None:
    for role, status in (
        (Role.ADMIN, 200),
        (Role.SUPERVISOR, 200),
        (Role.INVESTIGATOR, 403),
        (Role.ANALYST, 403),
    ):
        key = bearer(make_key(session, role))
        for url in ("/api/v1/statistics", "/api/v1/statistics.csv"):
            r = client.get(url, params={"year": 2026}, headers=key)
            assert r.status_code == status, (role, url)
    r = client.get("/api/v1/statistics", headers=bearer(make_key(session)))
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["query", "year"]
