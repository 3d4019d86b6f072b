"""What a move must record, what it may hold, and how it guards against races."""

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.asset.machine import TRANSITIONS
from app.principal import Role
from tests.app.casework import IBAN, IBAN_FR, PEOPLE, Api, bank_balance, criminal_case, order
from tests.factories import batch, bearer, make_key, tx

CASH = {"type": "cash", "description": "EUR 120,000 in a sports bag"}


def setup(client: TestClient, session: Session) -> tuple[Api, int]:
    api = Api(client, bearer(make_key(session, Role.INVESTIGATOR)))
    api.post("/api/v1/accounts/batch", PEOPLE)
    return api, api.post("/api/v1/cases", criminal_case())["id"]


def test_a_move_needs_if_match_and_the_current_etag(client: TestClient, session: Session) -> None:
    api, case_id = setup(client, session)
    asset = client.post(f"/api/v1/cases/{case_id}/assets", json=CASH, headers=api.key)
    assert asset.headers["ETag"] == '"1"'
    url = f"/api/v1/assets/{asset.json()['id']}/transitions"
    r = client.post(url, json=order("FROZEN"), headers=api.key)
    assert (r.status_code, r.json()["code"]) == (428, "precondition_required")
    r = client.post(url, json=order("FROZEN"), headers={**api.key, "If-Match": '"1"'})
    assert (r.status_code, r.headers["ETag"]) == (201, '"2"')
    for stale in ('"1"', "1", 'W/"2"'):
        r = client.post(url, json=order("SEIZED"), headers={**api.key, "If-Match": stale})
        assert (r.status_code, r.json()["current_etag"]) == (412, '"2"'), stale
    # A stale ETag is refused before the move is checked: the caller must look again first.
    r = client.post(url, json=order("DISPOSED"), headers={**api.key, "If-Match": '"1"'})
    assert r.status_code == 412


def test_measures_on_one_balance_hold_no_more_than_the_balance(
    client: TestClient, session: Session
) -> None:
    api, case_id = setup(client, session)
    other_case = api.post("/api/v1/cases", criminal_case("LKA-2026-9"))["id"]
    first = api.post(f"/api/v1/cases/{case_id}/assets", bank_balance("1000.00"))["id"]
    second = api.post(f"/api/v1/cases/{other_case}/assets", bank_balance("1000.00"))["id"]
    r = api.move(first, order("FROZEN", amount="1000.01", currency="EUR"))
    assert (r.status_code, r.json()["code"], r.json()["available"]) == (
        409,
        "balance_exceeded",
        "1000.00",
    )
    assert api.move(first, order("FROZEN", amount="600", currency="EUR")).status_code == 201
    assert api.get(f"/api/v1/assets/{first}")["restrained_amount"] == "600.00"
    r = api.move(second, order("FROZEN", amount="400.01", currency="EUR"))
    assert (r.status_code, r.json()["available"]) == (409, "400.00")
    # With no amount the whole balance is meant, and 600 of it is held already.
    assert api.move(second, order("FROZEN")).status_code == 409
    assert api.move(second, order("FROZEN", amount="400", currency="EUR")).status_code == 201
    # A partial release on the first order frees room for the second.
    release = order("FROZEN", amount="100", currency="EUR", note="living expenses released")
    assert api.move(first, release).status_code == 201
    assert api.move(second, order("FROZEN", amount="900", currency="EUR")).status_code == 201
    # A renewal that names no amount keeps the part held, and so does the seizure of it.
    renewal = order("FROZEN", expiry_date="2027-03-31")
    assert api.move(first, renewal).status_code == 201
    assert api.move(first, order("SEIZED", custodian="LKA")).status_code == 201
    assert api.get(f"/api/v1/assets/{first}")["restrained_amount"] == "100.00"
    r = api.move(first, order("FROZEN", amount="100", currency="USD"))
    assert (r.status_code, r.json()["code"]) == (422, "invalid_measure")
    r = api.move(first, order("FROZEN", amount="1.001", currency="EUR"))
    assert r.status_code == 422


def test_each_move_records_what_the_law_asks(client: TestClient, session: Session) -> None:
    api, case_id = setup(client, session)
    asset = api.post(f"/api/v1/cases/{case_id}/assets", CASH)["id"]
    missing = [
        ({"to_status": "FROZEN"}, "order_reference"),
        (order("FROZEN", issuing_authority=None), "issuing_authority"),
        (order("FROZEN", decision_date=None), "decision_date"),
        (order("SUSPENDED"), "duration"),
        (
            order(
                "SUSPENDED",
                duration={"value": 5, "unit": "working_days"},
                jurisdiction="XX",
                executing_authority="X",
            ),
            "jurisdiction",
        ),
        (order("FROZEN", amount="5"), "currency"),
        (order("FROZEN", jurisdiction="CH"), "executing_authority"),
        (order("FROZEN", expiry_date="2026-05-01"), "expiry_date"),
        (order("FROZEN", release_reason="withdrawn"), "release_reason"),
    ]
    for body, field in missing:
        r = api.move(asset, {k: v for k, v in body.items() if v is not None})
        assert r.status_code == 422, (field, r.text)
        assert r.json()["errors"][0]["loc"] == ["body", field], field
    foreign = order("FROZEN", jurisdiction="CH", executing_authority="Staatsanwaltschaft Zürich")
    frozen = api.move(asset, foreign)
    assert (frozen.status_code, frozen.json()["jurisdiction"]) == (201, "CH")
    r = api.move(asset, {"to_status": "RELEASED"})
    assert r.json()["errors"][0]["loc"] == ["body", "release_reason"]
    assert api.move(asset, order("CONFISCATION_ORDERED")).status_code == 201
    r = api.move(asset, {"to_status": "CONFISCATED", "order_reference": "X"})
    assert r.status_code == 422
    r = api.move(asset, order("CONFISCATED", duration={"value": 3, "unit": "calendar_days"}))
    assert r.json()["errors"][0]["loc"] == ["body", "duration"]


def test_renewals_keep_or_replace_the_expiry_and_hours_count_from_receipt(
    client: TestClient, session: Session
) -> None:
    api, case_id = setup(client, session)
    asset = api.post(f"/api/v1/cases/{case_id}/assets", CASH)["id"]
    first = api.move(asset, order("FROZEN", duration={"value": 90, "unit": "calendar_days"}))
    assert first.json()["expiry_date"] == "2026-08-04"
    # A variation that names no expiry records the one still in force.
    variation = api.move(asset, order("FROZEN", note="custodian changed")).json()
    assert variation["expiry_date"] == "2026-08-04"
    assert api.get(f"/api/v1/assets/{asset}")["expiry_date"] == "2026-08-04"
    certificate = order(
        "FROZEN",
        measure_type="freezing_certificate",
        decision_date=None,
        decided_at="2026-05-29T16:30:00+02:00",
        duration={"value": 48, "unit": "hours"},
    )
    r = api.move(asset, {k: v for k, v in certificate.items() if v is not None})
    assert r.status_code == 201, r.text
    renewed = r.json()
    assert (renewed["expires_at"], renewed["expiry_date"]) == ("2026-05-31T14:30:00Z", "2026-05-31")
    assert api.get(f"/api/v1/assets/{asset}")["expires_at"] == "2026-05-31T14:30:00Z"


def test_an_interlocutory_sale_puts_a_cash_asset_in_the_seized_ones_place(
    client: TestClient, session: Session
) -> None:
    api, case_id = setup(client, session)
    car = {"type": "vehicle", "description": "Porsche 911", "vin": "WP0ZZZ99ZTS392124"}
    asset = api.post(f"/api/v1/cases/{case_id}/assets", car)["id"]
    for step in (order("FROZEN"), order("SEIZED", custodian="LKA asset office")):
        assert api.move(asset, step).status_code == 201
    sale = api.move(asset, order("SUBSTITUTED", amount="84500", currency="EUR"))
    assert sale.status_code == 201, sale.text
    assets = api.get(f"/api/v1/cases/{case_id}/assets")["items"]
    cash = assets[-1]
    assert (cash["type"], cash["status"], cash["replaces_asset_id"]) == ("cash", "SEIZED", asset)
    assert cash["valuation"]["amount"] == "84500.00"
    assert f"cash asset {cash['id']}" in sale.json()["note"]
    assert [
        a["status"] for a in api.get(f"/api/v1/cases/{case_id}/assets", status="SEIZED")["items"]
    ] == ["SEIZED"]


def test_asset_types_name_what_identifies_them(client: TestClient, session: Session) -> None:
    api, case_id = setup(client, session)
    url = f"/api/v1/cases/{case_id}/assets"
    bad = [
        {
            "type": "bank_balance",
            "description": "x",
            "valuation": {"amount": "1", "currency": "EUR"},
        },
        {"type": "vehicle", "description": "x"},
        {"type": "vehicle", "description": "x", "vin": "not-a-vin"},
        {"type": "crypto_holdings", "description": "x", "chain": "bitcoin"},
        {"type": "cash", "description": "x", "account": IBAN},
        {"type": "cash", "description": "x", "valuation": {"amount": "1", "currency": "XYZ"}},
        {**bank_balance(), "owners": [{"party": "person:nobody"}]},
        {**bank_balance(), "owners": [{"party": "person:anna", "share_percent": "100.5"}]},
        {"type": "cash", "description": "x", "links": [{"transaction": "T-404"}]},
    ]
    for body in bad:
        assert client.post(url, json=body, headers=api.key).status_code in (404, 422), body
    crypto = api.post(
        url,
        {
            "type": "crypto_holdings",
            "description": "Cold wallet",
            "chain": "bitcoin",
            "wallet_address": "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
            "holding_asset": "BTC",
            "holding_amount": "1.5",
        },
    )
    assert crypto["holding_amount"] == "1.50000000"
    shares = api.post(
        url,
        {
            "type": "company_shares",
            "description": "Shares in Acme",
            "company_name": "Acme GmbH",
            "registry_id": "HRB 12345",
            "share_percent": "25.5",
        },
    )
    assert shares["share_percent"] == "25.50"


def test_the_state_machine_is_published(client: TestClient, session: Session) -> None:
    key = bearer(make_key(session, Role.ANALYST))
    moves = client.get("/api/v1/legal-statuses", headers=key).json()
    assert {m["status"]: m["allowed"] for m in moves} == {
        str(s): [str(t) for t in ts] for s, ts in TRANSITIONS.items()
    }
    assert len(moves) == 14


def test_links_tie_an_asset_to_the_proceeds(client: TestClient, session: Session) -> None:
    api, case_id = setup(client, session)
    api.post("/api/v1/transactions/batch", batch(tx("STMT-1", IBAN, IBAN_FR, "9500.00")))
    asset = api.post(f"/api/v1/cases/{case_id}/assets", CASH)["id"]
    url = f"/api/v1/assets/{asset}/links"
    linked = api.post(url, {"links": [{"transaction": "STMT-1", "note": "the deposit"}]}, 200)
    assert [(k["transaction_id"] is not None, k["note"]) for k in linked["links"]] == [
        (True, "the deposit")
    ]
    r = client.post(url, json={"links": [{"trace_id": "no-such-trace"}]}, headers=api.key)
    assert (r.status_code, r.json()["code"]) == (404, "trace_not_found")
    r = client.post(url, json={"links": [{"transaction": "STMT-404"}]}, headers=api.key)
    assert r.status_code == 404
    r = client.post(
        url, json={"links": [{"transaction": "STMT-1", "trace_id": "x"}]}, headers=api.key
    )
    assert r.status_code == 422
    assert len(api.get(f"/api/v1/assets/{asset}")["links"]) == 1


def test_dissipated_value_opens_the_next_hop_as_a_new_asset(
    client: TestClient, session: Session
) -> None:
    api, case_id = setup(client, session)
    asset = api.post(f"/api/v1/cases/{case_id}/assets", bank_balance("1000.00"))["id"]
    suspension = order("SUSPENDED", duration={"value": 5, "unit": "working_days"})
    assert api.move(asset, suspension).status_code == 201
    r = api.move(asset, order("FROZEN", destination_account=IBAN_FR))
    assert r.json()["errors"][0]["loc"] == ["body", "destination_account"]
    escape = {
        "to_status": "DISSIPATED",
        "amount": "950.00",
        "currency": "EUR",
        "destination_account": IBAN_FR,
        "note": "paid out the day the suspension lapsed",
    }
    r = api.move(asset, escape)
    assert r.status_code == 201, r.text
    found = api.get(f"/api/v1/cases/{case_id}/assets")["items"][-1]
    assert (found["status"], found["account_key"], found["jurisdiction"]) == (
        "IDENTIFIED",
        IBAN_FR,
        "FR",
    )
    assert found["valuation"]["amount"] == "950.00"
    assert f"escaped to asset {found['id']}" in r.json()["note"]
    (first,) = api.get(f"/api/v1/assets/{found['id']}/measures")["items"]
    assert f"escaped from asset {asset}" in first["note"]
