"""Role x operation, generated from the app's own routes: a route without a rule fails here.

Every `/api/v1` operation must depend on exactly one `require_scopes(...)` rule. For each
operation and each role, a key of that role gets 403 when the role lacks the scopes and
anything but 401/403 when it has them (404 for made-up ids, 422 for an empty body ...).
Case-scoped operations also answer 404, never 403, to a key that is not on the case.
"""

import re
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.main import ROUTERS
from app.principal import ROLE_SCOPES, Role
from tests.factories import bearer, make_key

# Operations any valid key may call, by design.
OPEN_TO_EVERY_KEY: set[str] = set()


def _rules(dependant: Dependant) -> list[frozenset[str]]:
    found = []
    for sub in dependant.dependencies:
        scopes = getattr(sub.call, "required_scopes", None)
        if scopes is not None:
            found.append(scopes)
        found += _rules(sub)
    return found


def api_routes(*, documented: bool = True) -> list[APIRoute]:
    return [
        route
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
        and route.path.startswith("/api/")
        and route.include_in_schema == documented
    ]


def test_every_api_route_is_documented() -> None:
    # Hidden routes would escape the matrix below.
    assert api_routes(documented=False) == []


def operations() -> list[tuple[str, str, APIRoute]]:
    return [(m, r.path, r) for r in api_routes() for m in sorted(r.methods)]


def test_every_api_operation_has_exactly_one_access_rule() -> None:
    missing = [
        f"{m} {path}"
        for m, path, r in operations()
        if len(_rules(r.dependant)) != 1 and r.name not in OPEN_TO_EVERY_KEY
    ]
    assert missing == [], f"operations without an explicit access rule: {missing}"


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "999999", path)


def _call(client: TestClient, method: str, path: str, key: dict[str, str]) -> int:
    kwargs: dict[str, Any] = {"headers": key}
    if method in {"POST", "PUT", "PATCH"}:
        kwargs["json"] = {}
    return client.request(method, _url(path), **kwargs).status_code


@pytest.mark.parametrize("role", list(Role))
def test_role_by_operation_matrix(client: TestClient, session: Session, role: Role) -> None:
    key = bearer(make_key(session, role))
    wrong = []
    for method, path, route in operations():
        (needed,) = _rules(route.dependant) or (frozenset(),)
        allowed = needed <= ROLE_SCOPES[role]
        status = _call(client, method, path, key)
        if (status == 403) == allowed or status == 401:
            wrong.append(f"{role}: {method} {path} -> {status} (allowed={allowed})")
    assert wrong == []


def test_case_operations_hide_the_case_from_non_members(
    client: TestClient, session: Session
) -> None:
    """To a key not on the case, the case answers exactly as a case that does not exist."""
    lead = bearer(make_key(session, Role.INVESTIGATOR))
    outsider = bearer(make_key(session, Role.INVESTIGATOR))
    case = client.post(
        "/api/v1/cases",
        headers=lead,
        json={
            "reference": "MATRIX-1",
            "title": "matrix",
            "kind": "criminal_investigation",
            "jurisdiction": "DE",
            "predicate_offences": ["fraud"],
            "lead_agency": "BKA",
        },
    )
    assert case.status_code == 201, case.text
    case_routes = [(m, p) for m, p, _ in operations() if "{case_id}" in p]
    assert case_routes
    for method, path in case_routes:
        answers = []
        for case_id in (case.json()["id"], 987654321):
            url = re.sub(r"\{[^}]+\}", "999999", path.replace("{case_id}", str(case_id)))
            kwargs: dict[str, Any] = {"json": {}} if method in {"POST", "PUT", "PATCH"} else {}
            r = client.request(method, url, headers=outsider, **kwargs)
            answers.append((r.status_code, r.json().get("code") if r.content else None))
        assert answers[0] == answers[1], f"{method} {path}: {answers[0]} vs missing {answers[1]}"
        assert answers[0][0] in (404, 422), f"{method} {path} answered {answers[0]}"
