"""Role x membership x ledger read, generated from the app's routes (issue 19).

Data is filed in case A (`compartment_world`). Every GET operation of the API is called by each
role, as a member of A and as a non-member, with A's records in its path (and the shared ones
they touch) and A's words in its search parameters. A caller who may not see A's compartment
gets no byte of A's data: an answer of 200 holds none of `SECRETS`, any other answer is the
very answer to a record that does not exist (no hint). A caller who may see it finds every
secret somewhere, so the test can fail both ways. A new GET route is covered as it is added:
its path parameters and required query parameters must be known below, or this test fails.

The non-members of A are members of case B (`compartment_world.grow`; an ingest key is bound
to it), and every route is called with B's objects too: B's assets, traces (with their exports
and reports), overview and convergence are built on shared records case A stated things of, and
must show B's members none of it, nor the id of one of A's transactions.
"""

import itertools
import re
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.principal import ROLE_SCOPES, Role, Scope
from tests.app.access.compartment_world import (
    BAD,
    GB,
    NOMINEE,
    SECRETS,
    ZEBULON,
    CaseB,
    World,
    add_member,
    build,
    grow,
    source,
)
from tests.app.access.compartment_world import key_id as id_of
from tests.app.access.test_access_matrix import api_routes
from tests.factories import DE, FR, bearer, make_key, tx

MISSING = {"source_document_id": "0" * 32, "trace_id": "0" * 32}
# A JSON field naming a transaction by its id.
TRANSACTION_IDS = re.compile(r'"(?:\w+_)?transaction_id":\s*(\d+)')


def _refs(world: World, b: CaseB) -> dict[str, list[str]]:
    """What to put in each path parameter: A's records, shared ones that A's touch, and B's
    objects (`_opened`)."""
    return {
        "transaction": [str(world.ids["transaction"]), "CASEA-1", "S-1", "S-2", "CASEB-1"],
        "account": [GB, str(world.ids["account"]), DE, BAD],
        "party": [ZEBULON, str(world.ids["party"]), "person:common", NOMINEE],
        "source_document_id": world.documents,
        "case_id": [str(world.case_id), str(b.case_id)],
        "asset_id": [str(a) for a in b.assets],
        "trace_id": b.traces,
    }


def _opened(b: CaseB) -> dict[str, set[str]]:
    """B's objects, which B's members open: what they answer may differ from a missing one's."""
    return {
        "case_id": {str(b.case_id)},
        "trace_id": {b.traces[0]},
        "asset_id": {str(a) for a in b.assets},
        "transaction": {"CASEB-1"},
    }


# Query values per operation: every combination is asked.
QUERIES: dict[str, dict[str, list[Any]]] = {
    "search": {
        "q": ["zebulon", "quillfeather", "CASEA-1", GB, "Common"],
        "kind": ["party", "account", "transaction"],
    },
    "list_accounts": {"flag": ["invalid_number"]},
    "explain_trace": {"to": [DE, FR]},
    "get_statistics": {"year": [2026]},
    "export_statistics_csv": {"year": [2026]},
    **{
        f"export_neighbourhood_{fmt}": {"account": [GB, DE]}
        for fmt in ("graphml", "gexf", "i2_entities", "i2_links", "ftm")
    },
}


def _reads() -> list[APIRoute]:
    return [r for r in api_routes() if "GET" in r.methods]


def _params(dependant: Dependant) -> tuple[list[Any], list[Any]]:
    """The path and query parameters of an operation and of the dependencies it calls."""
    path, query = list(dependant.path_params), list(dependant.query_params)
    for sub in dependant.dependencies:
        more = _params(sub)
        path += more[0]
        query += more[1]
    return path, query


def _calls(
    route: APIRoute, world: World, b: CaseB, *, of_b: bool
) -> list[tuple[str, dict[str, Any], str | None]]:
    """(url, query, url of a record that does not exist) for every filling of the route; no
    such url where the route is filled with one of B's objects, and none of those unless
    `of_b` (only B's members, who may not see A, could read A's data there)."""
    refs, opened = _refs(world, b), _opened(b)
    if not of_b:
        refs = {n: [v for v in values if v not in opened.get(n, ())] for n, values in refs.items()}
    # what the route's dependencies read too (a trace's routes take its id in one)
    path_params, query_params = _params(route.dependant)
    names = sorted({p.name for p in path_params})
    unknown = [n for n in names if n not in refs]
    assert not unknown, f"{route.path}: say which of A's records to read through {unknown}"
    given = QUERIES.get(route.name, {})
    queries = [q for q in query_params if q.name in given]
    required = [q.name for q in query_params if q.field_info.is_required()]
    assert set(required) <= given.keys(), f"{route.path}: give values for {required}"
    out = []
    for values in itertools.product(*(refs[n] for n in names)):
        url, missing = route.path, route.path
        for name, value in zip(names, values, strict=True):
            url = re.sub(r"\{" + name + r"(:\w+)?\}", value, url)
            missing = re.sub(r"\{" + name + r"(:\w+)?\}", MISSING.get(name, "999999"), missing)
        assert "{" not in url, f"{url}: a path parameter left unfilled"
        ours = any(v in opened.get(n, ()) for n, v in zip(names, values, strict=True))
        compare = None if ours else missing
        for query in itertools.product(*(given[q.name] for q in queries)):
            out.append((url, dict(zip((q.name for q in queries), query, strict=True)), compare))
    return out


def _caller(
    client: TestClient, session: Session, world: World, b: CaseB, role: Role, *, member: bool
):
    """A key of `role` on case A (member) or else on case B."""
    if role is Role.INGEST:
        # An ingest key is in a case's compartment by being bound to it.
        r = client.post(
            "/api/v1/keys",
            json={
                "name": "a feed",
                "role": "ingest",
                "case_id": world.case_id if member else b.case_id,
            },
            headers=world.admin,
        )
        assert r.status_code == 201, r.text
        return bearer(r.json()["key"])
    secret = make_key(session, role, name=f"{role} {'member' if member else 'outsider'}")
    if role in (Role.INVESTIGATOR, Role.ANALYST):
        add_member(client, world, id_of(session, secret), str(role), None if member else b)
    return bearer(secret)


@pytest.mark.parametrize("membership", ["member", "outsider"])
@pytest.mark.parametrize("role", list(Role))
def test_no_ledger_read_leaks_case_a_to_whoever_may_not_see_it(
    client: TestClient, session: Session, role: Role, membership: str
) -> None:
    world = build(client, session)
    b = grow(client, session, world)
    member = membership == "member"
    key = _caller(client, session, world, b, role, member=member)
    sees = role in (Role.ADMIN, Role.SUPERVISOR) or member
    a_ids = {str(i) for i in b.a_transactions}
    leaks, shown, opened = [], "", 0
    routes = _reads()
    assert len(routes) > 15
    for route in routes:
        for url, params, missing in _calls(route, world, b, of_b=not sees):
            r = client.get(url, params=params, headers=key)
            if r.status_code == 200:
                shown += r.text
                found = [s for s in SECRETS if s in r.text]
                found += [f"transaction {i}" for i in TRANSACTION_IDS.findall(r.text) if i in a_ids]
                if found and not sees:
                    leaks.append(f"{url} {params}: {found}")
                opened += missing is None
            elif missing is not None and not sees and r.status_code != 403:
                other = client.get(missing, params=params, headers=key)
                said = (r.status_code, r.json().get("code"))
                if said != (other.status_code, other.json().get("code")):
                    leaks.append(f"{url} {params}: {said} tells it exists")
    assert not leaks, "\n".join(leaks)
    if sees and Scope.LEDGER_READ in ROLE_SCOPES[role]:
        assert [s for s in SECRETS if s not in shown] == []
    if not sees and Scope.CASES_READ in ROLE_SCOPES[role]:
        # B's members open B's objects: the routes above read them, not a 404.
        assert opened > 30


def _load(client: TestClient, key: dict[str, str], case_id: int | None, rows: list[Any]) -> Any:
    body = {"source": source("STATEMENT-7", case_id), "transactions": rows}
    return client.post("/api/v1/transactions/batch", json=body, headers=key)


def test_a_shared_record_is_corrected_in_the_shared_pool_not_in_a_case(
    client: TestClient, session: Session
) -> None:
    # A correction takes the old record out of the ledger every trace reads: filed in case A,
    # it would change an outsider's figures while the outsider could not see what replaced it.
    world = build(client, session)
    outsider = bearer(make_key(session, Role.INVESTIGATOR, name="outsider"))
    shared = [
        tx("Q-1", DE, FR, "70.00", value_time="2026-02-28T09:00:00Z"),
        tx("P-1", FR, DE, "70.00", value_time="2026-03-01T09:00:00Z"),
    ]
    assert _load(client, outsider, None, shared).status_code == 201
    made = client.post(
        "/api/v1/traces", json={"seeds": [{"transaction": "Q-1"}], "rule": "fifo"}, headers=outsider
    )
    assert made.status_code == 201, made.text

    def correct(case_id: int | None, external_id: str) -> Any:
        return client.post(
            "/api/v1/transactions/P-1/corrections",
            json={
                "source": source(f"CORRECTION-{external_id}", case_id),
                "reason": "the bank's second letter",
                "transaction": tx(external_id, FR, DE, "75.00", value_time="2026-03-01T09:00:00Z"),
            },
            headers=world.lead,
        )

    refused = correct(world.case_id, "CASEA-9")
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["loc"] == ["body", "source", "case_id"]
    same = client.post(f"/api/v1/traces/{made.json()['id']}/rerun", headers=outsider)
    assert same.status_code == 201, same.text
    assert same.json()["records_replaced"] == []
    assert (same.json()["amounts_changed"], same.json()["ledger_changed"]) == ([], False)
    assert client.get("/api/v1/transactions/CASEA-9", headers=world.lead).status_code == 404

    assert correct(None, "P-1B").status_code == 201
    rerun = client.post(f"/api/v1/traces/{made.json()['id']}/rerun", headers=outsider)
    assert rerun.status_code == 201, rerun.text
    assert [r["external_id"] for r in rerun.json()["records_replaced"]] == ["P-1"]
    assert not [s for s in SECRETS if s in rerun.text]


def test_a_traces_duplicate_warning_counts_only_matches_its_readers_may_see(
    client: TestClient, session: Session
) -> None:
    # Case A restates a shared payment: the match is A's to decide. An outsider's trace of the
    # shared payment must not warn of it (the count would tell them case A holds that payment);
    # the lead's trace, which reads A's record, does.
    world = build(client, session)
    outsider = bearer(make_key(session, Role.INVESTIGATOR, name="outsider"))
    paid = tx("Q-1", DE, FR, "70.00", value_time="2026-02-28T09:00:00Z")
    assert _load(client, outsider, None, [paid]).status_code == 201
    again = tx("CASEA-Q", DE, FR, "70.00", value_time="2026-02-28T10:00:00Z")
    assert _load(client, world.lead, world.case_id, [again]).status_code == 201
    matches = client.get("/api/v1/duplicates", headers=world.lead).json()["items"]
    assert "CASEA-Q" in [m["transaction"]["external_id"] for m in matches]

    def warnings(key: dict[str, str]) -> list[Any]:
        body = {"seeds": [{"transaction": "Q-1"}], "rule": "fifo"}
        r = client.post("/api/v1/traces", json=body, headers=key)
        assert r.status_code == 201, r.text
        return list(r.json()["summary"].get("warnings", []))

    assert warnings(outsider) == []
    assert [(w["code"], w["count"]) for w in warnings(world.lead)] == [("probable_duplicates", 1)]
