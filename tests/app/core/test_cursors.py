"""Issue 15, item 3: every list pages with its own cursor and refuses any other.

The lists are found from the app's routes (every route that takes the page parameters), so a
list added later is held to the same rule without a line here. A cursor that is garbage, base64
of JSON of any shape, or a cursor another list gave out is answered with a 4xx problem that
names the cursor; never a 500, never a page.
"""

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from app.demo.service import SEED_TRANSACTIONS
from app.main import ROUTERS
from app.pagination import (
    CURSOR_MAX_LENGTH,
    CursorCodec,
    IdKey,
    InvalidCursor,
    Position,
    TimeIdKey,
    TimeRankIdKey,
    TimeSeqIdKey,
    TimeTextKey,
    page_params,
)
from tests.app.casework import Api, criminal_case
from tests.factories import bearer, make_key

LIMASSOL = "iban:CY17002001280000001200527600"

# A key of every shape a list pages by; a new shape fails `test_every_key_shape_has_a_strategy`.
IDS = st.integers(min_value=0, max_value=2**53)
# Hypothesis bounds are naive by its API; the zone comes from `timezones`.
TIMES = st.datetimes(
    min_value=datetime(1970, 1, 1),  # noqa: DTZ001
    max_value=datetime(9000, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
KEYS: dict[type, st.SearchStrategy[Any]] = {
    IdKey: st.builds(IdKey, IDS),
    TimeIdKey: st.builds(TimeIdKey, TIMES, IDS),
    TimeTextKey: st.builds(TimeTextKey, TIMES, st.text("0123456789abcdef", min_size=1)),
    TimeSeqIdKey: st.builds(TimeSeqIdKey, TIMES, st.integers(-1, 2**31), IDS),
    TimeRankIdKey: st.builds(TimeRankIdKey, TIMES, st.integers(0, 99), IDS),
    Position: st.builds(Position, st.integers(0, 10_000)),
}
SAMPLE = {
    IdKey: IdKey(1),
    TimeIdKey: TimeIdKey(datetime(2026, 1, 1, tzinfo=UTC), 1),
    TimeTextKey: TimeTextKey(datetime(2026, 1, 1, tzinfo=UTC), "ab"),
    TimeSeqIdKey: TimeSeqIdKey(datetime(2026, 1, 1, tzinfo=UTC), -1, 1),
    TimeRankIdKey: TimeRankIdKey(datetime(2026, 1, 1, tzinfo=UTC), 1, 1),
    Position: Position(0),
}
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=8,
)


def _dependencies(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependencies(sub)


def list_routes() -> list[APIRoute]:
    return [
        route
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
        and any(d.call is page_params for d in _dependencies(route.dependant))
    ]


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def names_the_cursor(r: Any) -> bool:
    body = r.json()
    return body.get("field") == "cursor" or any(
        "cursor" in e["loc"] for e in body.get("errors") or []
    )


class Lists:
    """Each list route with a URL to call it by, its own codec found by asking it."""

    def __init__(
        self,
        client: TestClient,
        key: dict[str, str],
        ids: dict[str, object],
        per_route: dict[str, dict[str, object]],
    ):
        self.client, self.key = client, key
        self.urls: dict[str, str] = {}
        self.own: dict[str, CursorCodec[Any]] = {}
        self.queries: dict[str, dict[str, Any]] = {}
        for route in list_routes():
            params = {p.name for p in route.dependant.path_params}
            assert params <= ids.keys(), f"{route.path}: give test_cursors an id for {params}"
            url = route.path_format
            url = url.format(**per_route.get(route.path, ids))
            # A list that needs a query (a search's words, a flag) is called with its example.
            required = {
                q.alias: q.field_info.examples
                for q in route.dependant.query_params
                if q.field_info.is_required()
            }
            assert all(required.values()), f"{route.path}: give its required query an example"
            self.queries[url] = {name: examples[0] for name, examples in required.items()}
            accepted = [
                codec
                for codec in CursorCodec.names.values()
                if self.get(url, codec.encode(SAMPLE[codec.key])).status_code == 200
            ]
            assert len(accepted) == 1, f"{route.path} accepts the cursors of {accepted}"
            self.urls[route.path], self.own[route.path] = url, accepted[0]

    def get(self, url: str, cursor: str) -> Any:
        params = {**self.queries.get(url, {}), "cursor": cursor}
        return self.client.get(url, params=params, headers=self.key)


@pytest.fixture
def lists(client: TestClient, session: Session) -> Lists:
    admin = bearer(make_key(session))
    assert client.post("/api/v1/demo", headers=admin).status_code == 201
    api = Api(client, admin)
    case = api.post("/api/v1/cases", criminal_case())["id"]
    cash = {
        "type": "cash",
        "description": "Banknotes",
        "valuation": {"amount": "10", "currency": "EUR"},
    }
    asset = api.post(f"/api/v1/cases/{case}/assets", cash)["id"]
    body = {"seeds": [{"transaction": t} for t in SEED_TRANSACTIONS], "rule": "fifo"}
    trace = api.post("/api/v1/traces", body)["id"]
    ids = {"case_id": case, "asset_id": asset, "trace_id": trace, "account": LIMASSOL}
    # Claimants' shares and sources of funds exist only on traces that ask for them.
    victim = {"account": "iban:DE44500105175407324931", "amount": "9500.00", "currency": "EUR"}
    body = {"seeds": [{**victim, "at": "2026-01-05T09:10:00Z", "claimant": "A"}]}
    claimants = api.post("/api/v1/traces", {**body, "rule": "haircut"})["id"]
    body = {"seeds": [{"transaction": "DEMO-L05"}], "rule": "fifo", "direction": "backward"}
    sources = api.post("/api/v1/traces", body)["id"]
    per_route = {
        "/api/v1/traces/{trace_id}/claimants": {**ids, "trace_id": claimants},
        "/api/v1/traces/{trace_id}/sources": {**ids, "trace_id": sources},
    }
    return Lists(client, admin, ids, per_route)


def test_every_key_shape_has_a_strategy() -> None:
    assert {codec.key for codec in CursorCodec.names.values()} <= KEYS.keys()


def test_each_list_has_a_cursor_of_its_own(lists: Lists) -> None:
    assert len(lists.own) >= 16
    codecs = list(lists.own.values())
    assert len(set(map(id, codecs))) == len(codecs), "two lists share a cursor"


def test_a_cursor_given_out_pages_on(lists: Lists) -> None:
    url = lists.urls["/api/v1/traces/{trace_id}/flows"]
    first = lists.client.get(url, params={"limit": 2}, headers=lists.key).json()
    second = lists.client.get(
        url, params={"limit": 2, "cursor": first["next_cursor"]}, headers=lists.key
    ).json()
    assert first["items"]
    assert second["items"]
    assert first["items"][0] != second["items"][0]


@st.composite
def foreign_cursors(draw: st.DrawFn, own: CursorCodec[Any]) -> str:
    others = [c for c in CursorCodec.names.values() if c is not own]
    kind = draw(st.sampled_from(["bytes", "json", "other_list", "alphabet", "long"]))
    if kind == "bytes":
        return b64(draw(st.binary(min_size=1, max_size=64)))
    if kind == "json":
        return b64(json.dumps(draw(JSON)).encode())
    if kind == "other_list":
        codec = draw(st.sampled_from(others))
        return codec.encode(draw(KEYS[codec.key]))
    if kind == "alphabet":
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        return draw(st.text(alphabet, min_size=1, max_size=40))
    # Out of the document's bounds: not base64url, or longer than any cursor given out.
    return draw(st.sampled_from(["%%%", "a b", "=", "A" * (CURSOR_MAX_LENGTH + 1)]))


@hypothesis_settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_a_foreign_cursor_is_a_problem_that_names_the_cursor(lists: Lists, data) -> None:
    path = data.draw(st.sampled_from(sorted(lists.urls)))
    own = lists.own[path]
    cursor = data.draw(foreign_cursors(own))
    try:
        own.decode(cursor)
    except InvalidCursor:
        pass
    else:  # by chance one of its own: a page, as it should be
        return
    r = lists.get(lists.urls[path], cursor)
    assert 400 <= r.status_code < 500, (path, cursor, r.text)
    assert r.headers["content-type"] == "application/problem+json"
    assert names_the_cursor(r), r.text
    assert r.json()["code"] in {"invalid_cursor", "validation_error"}
    assert "Traceback" not in r.text
