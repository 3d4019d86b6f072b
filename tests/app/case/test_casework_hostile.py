"""Input the database could not take gets a 4xx problem on the case, asset and measure APIs."""

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.principal import Role
from tests.app.casework import Api, criminal_case, order
from tests.factories import bearer, make_key

CASH = {"type": "cash", "description": "EUR 120,000 in a sports bag"}


def test_hostile_input_is_a_problem_never_a_server_error(
    client: TestClient, session: Session
) -> None:
    api = Api(client, bearer(make_key(session, Role.ADMIN)))
    case = api.post("/api/v1/cases", criminal_case())["id"]
    asset = api.post(f"/api/v1/cases/{case}/assets", CASH)["id"]
    huge = 2**64
    requests = [
        ("get", f"/api/v1/cases/{huge}", None),
        ("get", f"/api/v1/assets/{huge}/measures", None),
        ("delete", f"/api/v1/cases/{case}/members/%00", None),
        ("get", "/api/v1/cases?cursor=WyJ4Il0", None),  # ["x"]
        ("get", "/api/v1/deadlines?cursor=WyJ4IiwxXQ", None),  # ["x",1]
        ("get", "/api/v1/convergence?cursor=Wy0xXQ", None),  # [-1]
        ("post", "/api/v1/cases", criminal_case("X\x00")),
        ("post", "/api/v1/cases", criminal_case("P-1", parent_case_id=huge)),
        ("post", f"/api/v1/cases/{case}/subjects", {"party": "²", "role": "suspect"}),
        (
            "post",
            f"/api/v1/cases/{case}/assets",
            {**CASH, "valuation": {"amount": "1e30", "currency": "EUR"}},
        ),
    ]
    for method, url, body in requests:
        r = client.request(method, url, json=body, headers=api.key)
        assert 400 <= r.status_code < 500, (url, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    for body in (
        order(
            "FROZEN", decision_date="9999-12-30", duration={"value": 30, "unit": "calendar_days"}
        ),
        order("FROZEN", expiry_date="9999-12-31"),
        order("FROZEN", duration={"value": 3661, "unit": "working_days"}),
    ):
        r = api.move(asset, body)
        assert r.status_code == 422, r.text
