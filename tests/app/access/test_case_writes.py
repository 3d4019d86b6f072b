"""A write into a case's objects names ledger records among what the case's members see (issue
19): the shared pool and the case, as far as the writer sees them too. A member of cases A and
B (A's lead, on B as well) could otherwise put case A's transactions, accounts and parties into
B's assets, subjects and allocations, which all of B's members read. To the writer, a record
only another case holds is not found: the very answer to a record that does not exist."""

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.app.access.compartment_world import GB, ZEBULON, CaseB, World, build, grow
from tests.app.asset.test_asset_management import realised_cash
from tests.app.casework import Api, bank_balance, order
from tests.factories import DE, FR


def _same_as_missing(reply: Any, missing: Any) -> None:
    assert reply.status_code == 404, reply.text
    assert (reply.status_code, reply.json()["code"]) == (
        missing.status_code,
        missing.json()["code"],
    )


def _world(client: TestClient, session: Session) -> tuple[World, CaseB]:
    world = build(client, session)
    return world, grow(client, session, world)


def test_a_member_of_two_cases_names_in_b_no_record_only_a_holds(
    client: TestClient, session: Session
) -> None:
    world, b = _world(client, session)
    house = b.assets[0]
    for key in (world.lead, world.admin):

        def post(url: str, body: dict[str, Any], key: dict[str, str] = key) -> Any:
            return client.post(url, json=body, headers=key)

        links = f"/api/v1/assets/{house}/links"
        for ref in ("CASEA-1", str(world.ids["transaction"])):
            _same_as_missing(
                post(links, {"links": [{"transaction": ref}]}),
                post(links, {"links": [{"transaction": "NO-SUCH-1"}]}),
            )
        assets = f"/api/v1/cases/{b.case_id}/assets"
        at_gb = {**bank_balance(account=GB), "owners": []}
        _same_as_missing(post(assets, at_gb), post(assets, {**at_gb, "account": "999999"}))
        owned = {**bank_balance(account=DE), "owners": [{"party": ZEBULON}]}
        nobody = {**owned, "owners": [{"party": "person:nobody"}]}
        _same_as_missing(post(assets, owned), post(assets, nobody))
        linked = {**bank_balance(account=DE), "owners": [], "links": [{"transaction": "CASEA-4"}]}
        _same_as_missing(
            post(assets, linked), post(assets, {**linked, "links": [{"transaction": "NO-2"}]})
        )
        subjects = f"/api/v1/cases/{b.case_id}/subjects"
        for subject, missing in (
            ({"party": ZEBULON}, {"party": "person:nobody"}),
            ({"account": GB}, {"account": "999999"}),
        ):
            _same_as_missing(
                post(subjects, {**subject, "role": "suspect"}),
                post(subjects, {**missing, "role": "suspect"}),
            )
    # Nor is a trace that read A's records linked to B's asset: its id and figures are A's.
    links = f"/api/v1/assets/{house}/links"
    refused = client.post(links, json={"links": [{"trace_id": b.traces[1]}]}, headers=world.lead)
    assert (refused.status_code, refused.json()["code"]) == (409, "trace_reads_other_compartments")
    assert refused.json()["other_cases"] == [world.case_id]
    linked = client.post(links, json={"links": [{"trace_id": b.traces[0]}]}, headers=world.lead)
    assert linked.status_code == 200, linked.text

    # Into case A, its lead names the same records.
    api = Api(client, world.lead)
    a_assets = f"/api/v1/cases/{world.case_id}/assets"
    api.post(a_assets, {**bank_balance(account=GB), "owners": [{"party": ZEBULON}]})
    api.post(f"/api/v1/cases/{world.case_id}/subjects", {"party": ZEBULON, "role": "suspect"})
    linked_in_a = api.post(a_assets, {**bank_balance(account=DE), "owners": []})["id"]
    api.post(f"/api/v1/assets/{linked_in_a}/links", {"links": [{"transaction": "CASEA-1"}]}, 200)


def test_value_dissipated_from_a_b_asset_goes_to_no_account_only_a_knows(
    client: TestClient, session: Session
) -> None:
    world, b = _world(client, session)
    api = Api(client, world.lead)
    balance = {**bank_balance("1000.00", account=DE), "owners": []}
    asset = api.post(f"/api/v1/cases/{b.case_id}/assets", balance)["id"]
    suspension = order("SUSPENDED", duration={"value": 5, "unit": "working_days"})
    assert api.move(asset, suspension).status_code == 201
    escape = {"to_status": "DISSIPATED", "amount": "950.00", "currency": "EUR"}
    _same_as_missing(
        api.move(asset, {**escape, "destination_account": GB}),
        api.move(asset, {**escape, "destination_account": "999999"}),
    )
    assert api.move(asset, {**escape, "destination_account": FR}).status_code == 201


def test_b_proceeds_go_to_no_victim_only_a_knows(client: TestClient, session: Session) -> None:
    world, b = _world(client, session)
    api = Api(client, world.lead)
    cash = realised_cash(api, b.case_id, "1000.00")
    url = f"/api/v1/assets/{cash}/allocation"
    victim = {"victims": [{"party": ZEBULON, "amount": "100.00"}]}
    nobody = {"victims": [{"party": "person:nobody", "amount": "100.00"}]}
    _same_as_missing(
        client.post(url, json=victim, headers=world.lead),
        client.post(url, json=nobody, headers=world.lead),
    )
    shared = {"victims": [{"party": "person:common", "amount": "100.00"}]}
    assert client.post(url, json=shared, headers=world.lead).status_code == 201
