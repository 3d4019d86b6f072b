"""Two requests race to move one asset: exactly one wins, the other gets 412.

The requests run on two real threads against a database of this test's own (committed data,
separate connections), so on PostgreSQL the two transactions really overlap."""

import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app import migrate
from app.apikey import service as apikey_service
from app.asset import service as asset_service
from app.db import make_engine
from app.main import create_app
from app.measure import service as measure_service
from app.measure.schemas import TransitionCreate
from app.preconditions import IfMatch, PreconditionFailed
from app.principal import Principal, Role
from app.settings import Settings
from tests.app.casework import Api, criminal_case, order
from tests.conftest import fresh_database
from tests.factories import bearer, make_key

CASH = {"type": "cash", "description": "EUR 120,000 in a sports bag"}


def race(client: TestClient, key: dict[str, str], asset_id: int, bodies: list[dict]) -> list[int]:
    etag = client.get(f"/api/v1/assets/{asset_id}", headers=key).headers["ETag"]
    barrier = threading.Barrier(len(bodies))
    statuses: list[int] = []

    def send(body: dict) -> None:
        barrier.wait()
        r = client.post(
            f"/api/v1/assets/{asset_id}/transitions",
            json=body,
            headers={**key, "If-Match": etag},
        )
        statuses.append(r.status_code)

    threads = [threading.Thread(target=send, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(statuses)


def test_of_two_racing_transitions_exactly_one_wins(tmp_path: Path, settings: Settings) -> None:
    with fresh_database(tmp_path) as url:
        migrate.upgrade(url)
        engine = make_engine(url)
        with Session(engine) as s:
            key = bearer(make_key(s, Role.INVESTIGATOR))
        app = create_app(settings.model_copy(update={"database_url": url}))
        with TestClient(app, raise_server_exceptions=False) as client:
            api = Api(client, key)
            case = api.post("/api/v1/cases", criminal_case())
            asset = api.post(f"/api/v1/cases/{case['id']}/assets", CASH)
            # Each pair is legal from wherever the previous round's winner left the asset.
            released = order("RELEASED") | {"release_reason": "withdrawn"}
            rounds = [
                [order("FROZEN", order_reference="A"), order("FROZEN", order_reference="B")],
                [order("FROZEN", expiry_date="2027-01-31"), order("SEIZED", custodian="LKA")],
                [order("CONFISCATION_ORDERED"), released],
            ]
            for bodies in rounds:
                assert race(client, key, asset["id"], bodies) == [201, 412]
            history = api.get(f"/api/v1/assets/{asset['id']}/measures")["items"]
            assert [m["seq"] for m in history] == [1, 2, 3, 4]
            assert api.get(f"/api/v1/assets/{asset['id']}")["version"] == 4
        engine.dispose()


def test_a_writer_that_read_before_the_winner_committed_gets_412(
    tmp_path: Path, settings: Settings
) -> None:
    """The interleaving that If-Match alone cannot catch: both read version 1, one commits,
    then the other writes. The versioned UPDATE of the database refuses it."""
    with fresh_database(tmp_path) as url:
        migrate.upgrade(url)
        engine = make_engine(url)
        with Session(engine) as s:
            key, secret = apikey_service.create_key(
                s, name="racer", role=Role.INVESTIGATOR, created_by=None
            )
            actor = Principal(id=key.id, name=key.name, role=Role.INVESTIGATOR)
        app = create_app(settings.model_copy(update={"database_url": url}))
        with TestClient(app, raise_server_exceptions=False) as client:
            api = Api(client, bearer(secret))
            case = api.post("/api/v1/cases", criminal_case())
            asset_id = api.post(f"/api/v1/cases/{case['id']}/assets", CASH)["id"]
        with Session(engine) as first, Session(engine) as second:
            assert asset_service.get_asset(first, asset_id, actor=actor).version == 1
            assert asset_service.get_asset(second, asset_id, actor=actor).version == 1
            body = TransitionCreate.model_validate(order("FROZEN"))
            measure_service.transition(
                first, asset_id, body, condition=IfMatch(sent=True, version=1), actor=actor
            )
            with pytest.raises(PreconditionFailed):
                measure_service.transition(
                    second, asset_id, body, condition=IfMatch(sent=True, version=1), actor=actor
                )
        with Session(engine) as s:
            asset = asset_service.get_asset(s, asset_id, actor=actor)
            assert (asset.status, asset.version) == ("FROZEN", 2)
        engine.dispose()
