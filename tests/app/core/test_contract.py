"""The OpenAPI document says what the service does: media types and statuses of problems, the
methods of a path, and the parameters it lets through (issue 13, item 9)."""

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from starlette.convertors import CONVERTOR_TYPES

from app.inputs import KeyConvertor
from app.main import ROUTERS, create_app
from app.settings import Settings
from tests.app.casework import criminal_case
from tests.factories import bearer, make_key

PROBLEM = "application/problem+json"


@pytest.fixture
def document() -> dict[str, Any]:
    return create_app(Settings(database_url="sqlite://", bootstrap_admin_key=False)).openapi()


@pytest.fixture
def admin(session: Session) -> dict[str, str]:
    return bearer(make_key(session))


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for p, ops in document["paths"].items() for m, op in ops.items()]


def test_every_error_response_is_documented_as_a_problem_and_only_as_one(
    document: dict[str, Any],
) -> None:
    for method, path, op in operations(document):
        for status, response in op["responses"].items():
            if status[0] in "45":
                assert list(response["content"]) == [PROBLEM], (method, path, status)
                assert response["content"][PROBLEM]["schema"] == {
                    "$ref": "#/components/schemas/Problem"
                }
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert "ValidationError" not in document["components"]["schemas"]


def test_a_validation_error_is_sent_as_the_problem_the_document_names(
    client: TestClient, admin: dict[str, str], document: dict[str, Any]
) -> None:
    r = client.get("/api/v1/cases/0", headers=admin)
    assert (r.status_code, r.headers["content-type"]) == (422, PROBLEM)
    documented = document["paths"]["/api/v1/cases/{case_id}"]["get"]["responses"]["422"]
    assert list(documented["content"]) == [r.headers["content-type"]]


def test_a_body_that_is_not_utf8_is_a_documented_400(
    client: TestClient, admin: dict[str, str], document: dict[str, Any]
) -> None:
    r = client.post(
        "/api/v1/cases",
        content=b'{"reference": "\xfb\x928"}',
        headers={**admin, "Content-Type": "application/json"},
    )
    assert (r.status_code, r.headers["content-type"], r.json()["code"]) == (
        400,
        PROBLEM,
        "bad_request",
    )
    for method, path, op in operations(document):
        if "requestBody" in op:
            assert "400" in op["responses"], (method, path)


@pytest.mark.parametrize("method", ["OPTIONS", "PATCH", "DELETE"])
def test_an_unsupported_method_names_every_method_of_the_path(
    client: TestClient, admin: dict[str, str], document: dict[str, Any], method: str
) -> None:
    for path, url in (
        ("/api/v1/traces", "/api/v1/traces"),
        ("/api/v1/cases/{case_id}/members", "/api/v1/cases/1/members"),
        ("/api/v1/cases/{case_id}/assets", "/api/v1/cases/1/assets"),
    ):
        r = client.request(method, url, headers=admin)
        documented = sorted(m.upper() for m in document["paths"][path])
        assert r.status_code == 405, url
        assert r.headers["allow"].split(", ") == documented, url


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/accounts/iban:DE89370400440532013000/corrections",
        "/api/v1/accounts/bank:DEUTDEFF/0012345678/corrections",
        "/api/v1/parties/person-1/same-as/undo",
        "/api/v1/parties/person:ssn:695405584V/name:FERNANDO|NIMAL/same-as/undo",
    ],
)
def test_a_read_of_a_path_under_a_key_with_slashes_is_refused_not_taken_for_a_key(
    client: TestClient, admin: dict[str, str], url: str
) -> None:
    # GET /accounts/{account:account_key} never reads ".../corrections" as an account key.
    r = client.get(url, headers=admin)
    assert (r.status_code, r.headers["allow"]) == (405, "POST")
    assert r.headers["content-type"] == PROBLEM


def test_every_route_after_a_key_with_slashes_has_its_suffix_refused_by_the_key() -> None:
    keyed = re.compile(r"/api/v1/\w+/\{\w+:(\w+)\}(?:/(.+))?")
    seen = set()
    for route in (route for router in ROUTERS for route in router.routes):
        path = getattr(route, "path", "")
        assert ":path}" not in path, f"{path}: a key takes {{name:account_key}} or party_key"
        if (found := keyed.fullmatch(path)) is not None:
            convertor, suffix = CONVERTOR_TYPES[found[1]], found[2]
            assert isinstance(convertor, KeyConvertor), path
            assert suffix is None or suffix in convertor.suffixes, path
            seen.add((found[1], suffix))
    assert ("account_key", "corrections") in seen
    assert ("party_key", "same-as/undo") in seen


def test_a_key_with_a_slash_is_still_read_whole(client: TestClient, admin: dict[str, str]) -> None:
    r = client.get("/api/v1/accounts/bank:DEUTDEFF/0012345678/history", headers=admin)
    assert (r.status_code, r.json()["code"]) == (404, "account_not_found")
    assert "bank:DEUTDEFF/0012345678" in r.json()["detail"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/cases",
        "/api/v1/traces",
        "/api/v1/sources",
        "/api/v1/audit",
        "/api/v1/deadlines",
        "/api/v1/convergence",
    ],
)
def test_an_empty_cursor_is_the_first_page(
    client: TestClient, admin: dict[str, str], url: str
) -> None:
    client.post("/api/v1/cases", json=criminal_case(), headers=admin)
    first = client.get(url, headers=admin)
    r = client.get(url, params={"cursor": ""}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json() == first.json()


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("/api/v1/audit", "until"),
        ("/api/v1/audit", "since"),
        ("/api/v1/accounts/iban:DE89370400440532013000/transactions", "start"),
        ("/api/v1/accounts/iban:DE89370400440532013000/transactions", "end"),
    ],
)
@pytest.mark.parametrize("value", ["0.5", "1767225600", "-1", "1e9"])
def test_a_number_is_not_a_date_time(
    client: TestClient, admin: dict[str, str], url: str, name: str, value: str
) -> None:
    r = client.get(url, params={name: value}, headers=admin)
    assert (r.status_code, r.headers["content-type"]) == (422, PROBLEM), r.text
    assert r.json()["errors"][0]["loc"] == ["query", name]
    ok = client.get(url, params={name: "2026-01-01T00:00:00Z"}, headers=admin)
    assert ok.status_code in (200, 404), ok.text


def test_a_literal_path_is_not_confused_with_a_template_in_allow(
    client: TestClient, admin: dict[str, str]
) -> None:
    # `/accounts/batch` is its own path (POST); `/accounts/{account}` (GET) also matches it.
    r = client.request("OPTIONS", "/api/v1/accounts/batch", headers=admin)
    assert (r.status_code, r.headers["allow"]) == (405, "POST")


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/traces", {"seeds": [{"transaction": "T-1"}], "start": 0.5}),
        ("/api/v1/traces", {"seeds": [{"transaction": "T-1"}], "as_of": 1767225600}),
        ("/api/v1/keys", {"name": "k", "role": "analyst", "expires_at": 4102444800}),
    ],
)
def test_a_number_is_not_a_date_time_in_a_body(
    client: TestClient, admin: dict[str, str], url: str, body: dict[str, Any]
) -> None:
    r = client.post(url, json=body, headers=admin)
    assert (r.status_code, r.json()["code"]) == (422, "validation_error"), r.text


def test_the_sort_of_a_trace_s_accounts_is_one_the_document_lists(
    document: dict[str, Any],
) -> None:
    parameters = document["paths"]["/api/v1/traces/{trace_id}/accounts"]["get"]["parameters"]
    (sort,) = [p for p in parameters if p["name"] == "sort"]
    assert sort["schema"]["enum"] == ["received", "held", "hop"]


def test_a_cursor_is_documented_as_the_base64url_it_is(document: dict[str, Any]) -> None:
    parameters = document["paths"]["/api/v1/cases"]["get"]["parameters"]
    (cursor,) = [p for p in parameters if p["name"] == "cursor"]
    assert cursor["schema"]["anyOf"][0]["pattern"] == "^[A-Za-z0-9_-]*$"
