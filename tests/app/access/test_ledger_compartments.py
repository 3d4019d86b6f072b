"""Role x membership x ledger read, generated from the app's routes (issue 19).

Data is filed in case A (`compartment_world`). Every GET operation of the API is called by each
role, as a member of A and as a non-member, with A's records in its path (and the shared ones
they touch) and A's words in its search parameters. A caller who may not see A's compartment
gets no byte of A's data: an answer of 200 holds none of `SECRETS`, any other answer is the
very answer to a record that does not exist (no hint). A caller who may see it finds every
secret somewhere, so the test can fail both ways. A new GET route is covered as it is added:
its path parameters and required query parameters must be known below, or this test fails.
"""

import itertools
import re
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.principal import ROLE_SCOPES, Role, Scope
from tests.app.access.compartment_world import BAD, GB, SECRETS, ZEBULON, World, add_member, build
from tests.app.access.compartment_world import key_id as id_of
from tests.app.access.test_access_matrix import api_routes
from tests.factories import DE, bearer, make_key

# Held to the compartments by their own tests (traces: tests/app/trace/test_trace_compartments.py;
# convergence: tests/app/convergence). Listed, so that nothing else escapes this matrix.
ELSEWHERE = (
    "/api/v1/traces",
    "/api/v1/convergence",
)
MISSING = {"source_document_id": "0" * 32}


def _refs(world: World) -> dict[str, list[str]]:
    """What to put in each path parameter: A's records, and shared ones that A's touch."""
    return {
        "transaction": [str(world.ids["transaction"]), "CASEA-1", "S-1", "S-2"],
        "account": [GB, str(world.ids["account"]), DE, BAD],
        "party": [ZEBULON, str(world.ids["party"]), "person:common"],
        "source_document_id": world.documents,
        "case_id": [str(world.case_id)],
        "asset_id": ["999999"],  # no assets here: what an asset shows is case-scoped anyway
    }


# Query values per operation: every combination is asked.
QUERIES: dict[str, dict[str, list[Any]]] = {
    "search": {
        "q": ["zebulon", "quillfeather", "CASEA-1", GB, "Common"],
        "kind": ["party", "account", "transaction"],
    },
    "list_accounts": {"flag": ["invalid_number"]},
    "get_statistics": {"year": [2026]},
    "export_statistics_csv": {"year": [2026]},
    **{
        f"export_neighbourhood_{fmt}": {"account": [GB, DE]}
        for fmt in ("graphml", "gexf", "i2_entities", "i2_links", "ftm")
    },
}


def _ledger_reads() -> list[APIRoute]:
    return [
        r
        for r in api_routes()
        if "GET" in r.methods and not r.path.startswith(ELSEWHERE) and "{trace_id}" not in r.path
    ]


def _calls(route: APIRoute, world: World) -> list[tuple[str, dict[str, Any], str]]:
    """(url, query, url of a record that does not exist) for every filling of the route."""
    refs = _refs(world)
    names = [p.name for p in route.dependant.path_params]
    unknown = [n for n in names if n not in refs]
    assert not unknown, f"{route.path}: say which of A's records to read through {unknown}"
    given = QUERIES.get(route.name, {})
    queries = [q for q in route.dependant.query_params if q.name in given]
    required = [q.name for q in route.dependant.query_params if q.field_info.is_required()]
    assert set(required) <= given.keys(), f"{route.path}: give values for {required}"
    out = []
    for values in itertools.product(*(refs[n] for n in names)):
        url, missing = route.path, route.path
        for name, value in zip(names, values, strict=True):
            url = re.sub(r"\{" + name + r"(:path)?\}", value, url)
            missing = re.sub(r"\{" + name + r"(:path)?\}", MISSING.get(name, "999999"), missing)
        for query in itertools.product(*(given[q.name] for q in queries)):
            out.append((url, dict(zip((q.name for q in queries), query, strict=True)), missing))
    return out


def _caller(client: TestClient, session: Session, world: World, role: Role, *, member: bool):
    if role is Role.INGEST and member:
        # An ingest key is in a case's compartment by being bound to it.
        r = client.post(
            "/api/v1/keys",
            json={"name": "A's feed", "role": "ingest", "case_id": world.case_id},
            headers=world.admin,
        )
        assert r.status_code == 201, r.text
        return bearer(r.json()["key"])
    secret = make_key(session, role, name=f"{role} {'member' if member else 'outsider'}")
    if member and role in (Role.INVESTIGATOR, Role.ANALYST):
        add_member(client, world, id_of(session, secret), str(role))
    return bearer(secret)


@pytest.mark.parametrize("membership", ["member", "outsider"])
@pytest.mark.parametrize("role", list(Role))
def test_no_ledger_read_leaks_case_a_to_whoever_may_not_see_it(
    client: TestClient, session: Session, role: Role, membership: str
) -> None:
    world = build(client, session)
    member = membership == "member"
    key = _caller(client, session, world, role, member=member)
    sees = role in (Role.ADMIN, Role.SUPERVISOR) or member
    leaks, shown = [], ""
    routes = _ledger_reads()
    assert len(routes) > 15
    for route in routes:
        for url, params, missing in _calls(route, world):
            r = client.get(url, params=params, headers=key)
            if r.status_code == 200:
                shown += r.text
                found = [s for s in SECRETS if s in r.text]
                if found and not sees:
                    leaks.append(f"{url} {params}: {found}")
            elif not sees and r.status_code != 403:
                other = client.get(missing, params=params, headers=key)
                said = (r.status_code, r.json().get("code"))
                if said != (other.status_code, other.json().get("code")):
                    leaks.append(f"{url} {params}: {said} tells it exists")
    assert leaks == []
    if sees and Scope.LEDGER_READ in ROLE_SCOPES[role]:
        assert [s for s in SECRETS if s not in shown] == []
