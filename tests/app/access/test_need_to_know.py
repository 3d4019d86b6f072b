"""Need to know: what belongs to a case is seen by its current members, admins and supervisors,
and a refusal never tells an outsider about a case it is not on, nor its figures."""

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.apikey.models import ApiKey
from app.principal import Role
from tests.app.casework import PEOPLE, Api, bank_balance, criminal_case, order
from tests.factories import bearer, make_key

TRACE_PATH = "/api/v1/traces/{trace_id}"


def key_id(session: Session, name: str) -> str:
    return next(k.id for k in session.query(ApiKey).filter_by(name=name))


def trace_operations(client: TestClient) -> list[tuple[str, str]]:
    """Every operation on one trace, read from the document so a new one cannot be missed."""
    paths = client.get("/openapi.json").json()["paths"]
    return [
        (method, path)
        for path, operations in paths.items()
        if path == TRACE_PATH or path.startswith(TRACE_PATH + "/")
        for method in operations
    ]


def call(
    client: TestClient,
    method: str,
    path: str,
    trace_id: str,
    key: dict[str, str],
    body: dict[str, Any] | None = None,
) -> Any:
    url = path.replace("{trace_id}", trace_id)
    params = {"to": "iban:DE75512108001245126199"} if url.endswith("/explain") else None
    json = body if url.endswith("/proposals") else None
    return client.request(method, url, params=params, json=json, headers=key)


def test_a_member_removed_from_a_case_no_longer_reads_the_traces_they_ran_for_it(
    client: TestClient, session: Session
) -> None:
    admin = bearer(make_key(session))
    assert client.post("/api/v1/demo", headers=admin).status_code == 201
    lead = Api(client, bearer(make_key(session, Role.INVESTIGATOR, name="lead")))
    runner = Api(client, bearer(make_key(session, Role.INVESTIGATOR, name="runner")))
    case_id = lead.post("/api/v1/cases", criminal_case())["id"]
    runner_id = key_id(session, "runner")
    member = {"api_key_id": runner_id, "role": "investigator"}
    assert client.put(f"/api/v1/cases/{case_id}/members", json=member, headers=lead.key).is_success
    seeds = [{"transaction": "DEMO-D01"}]
    on_case = runner.post("/api/v1/traces", {"seeds": seeds, "rule": "libr", "case_id": case_id})
    own = runner.post("/api/v1/traces", {"seeds": seeds, "rule": "libr"})
    operations = trace_operations(client)
    assert len(operations) >= 18, operations
    for method, path in operations:
        r = call(client, method, path, on_case["id"], runner.key, {"case_id": case_id})
        assert r.status_code != 404, (method, path)

    r = client.delete(f"/api/v1/cases/{case_id}/members/{runner_id}", headers=lead.key)
    assert r.status_code == 200, r.text

    for method, path in operations:
        r = call(client, method, path, on_case["id"], runner.key, {"case_id": case_id})
        assert (r.status_code, r.json()["code"]) == (404, "trace_not_found"), (method, path)
    # The list: the case's trace is gone, the trace the runner ran for no case stays theirs.
    assert [t["id"] for t in runner.get("/api/v1/traces")["items"]] == [own["id"]]
    # The reruns made above are the case's traces as well; the lead sees them, not `own`.
    listed = {t["id"] for t in lead.get("/api/v1/traces")["items"]}
    assert on_case["id"] in listed
    assert own["id"] not in listed
    assert all(t["case_id"] == case_id for t in lead.get("/api/v1/traces")["items"])
    supervisor = bearer(make_key(session, Role.SUPERVISOR))
    for key in (lead.key, admin, supervisor):
        assert client.get(f"/api/v1/traces/{on_case['id']}", headers=key).status_code == 200
    assert client.get(f"/api/v1/traces/{own['id']}", headers=supervisor).status_code == 200
    assert client.get(f"/api/v1/traces/{own['id']}", headers=lead.key).status_code == 404
    # Put back on the case, the runner reads it again: access is the membership, now.
    member["role"] = "observer"
    assert client.put(f"/api/v1/cases/{case_id}/members", json=member, headers=lead.key).is_success
    assert client.get(f"/api/v1/traces/{on_case['id']}", headers=runner.key).status_code == 200


def test_a_taken_case_reference_is_not_told_to_someone_not_on_its_case(
    client: TestClient, session: Session
) -> None:
    owner = Api(client, bearer(make_key(session, Role.INVESTIGATOR, name="owner")))
    outsider = Api(client, bearer(make_key(session, Role.INVESTIGATOR, name="outsider")))
    secret = owner.post(
        "/api/v1/cases", criminal_case("OP-ANNA-BERG", title="Anna Berg, cocaine imports")
    )

    r = client.post("/api/v1/cases", json=criminal_case("OP-ANNA-BERG"), headers=outsider.key)
    problem = r.json()
    assert (r.status_code, problem["code"], problem["resolved_by"]) == (
        409,
        "case_reference_taken",
        "supervisor",
    )
    assert "exists" not in problem["detail"]
    assert "supervisor" in problem["detail"]
    assert str(secret["id"]) not in problem["detail"]
    assert "Anna Berg" not in r.text
    assert "case_id" not in problem
    assert outsider.get("/api/v1/cases")["items"] == []

    # Whoever may see the case is told which one holds the reference.
    for key in (owner.key, bearer(make_key(session, Role.SUPERVISOR))):
        r = client.post("/api/v1/cases", json=criminal_case("OP-ANNA-BERG"), headers=key)
        assert (r.status_code, r.json()["case_id"]) == (409, secret["id"])


def test_a_freeze_beyond_the_free_balance_shows_no_figures_of_a_case_the_caller_is_not_on(
    client: TestClient, session: Session
) -> None:
    first = Api(client, bearer(make_key(session, Role.INVESTIGATOR, name="first")))
    second = Api(client, bearer(make_key(session, Role.INVESTIGATOR, name="second")))
    first.post("/api/v1/accounts/batch", PEOPLE)
    theirs = first.post("/api/v1/cases", criminal_case("BKA-2026-0001"))["id"]
    mine = second.post("/api/v1/cases", criminal_case("LKA-2026-0002"))["id"]
    held = first.post(f"/api/v1/cases/{theirs}/assets", bank_balance("1000.00"))["id"]
    assert first.move(held, order("FROZEN", amount="600", currency="EUR")).status_code == 201
    asset = second.post(f"/api/v1/cases/{mine}/assets", bank_balance("1000.00"))["id"]

    r = second.move(asset, order("FROZEN", amount="400.01", currency="EUR"))
    problem = r.json()
    assert (r.status_code, problem["code"], problem["resolved_by"]) == (
        409,
        "balance_exceeded",
        "supervisor",
    )
    assert "available" not in problem
    for figure in ("400.00", "600"):  # what is free, what the other case holds
        assert figure not in problem["detail"], figure
    assert "supervisor" in problem["detail"]

    # A supervisor sees every case, so the figures are theirs to see.
    supervisor = Api(client, bearer(make_key(session, Role.SUPERVISOR)))
    r = supervisor.move(asset, order("FROZEN", amount="400.01", currency="EUR"))
    assert (r.status_code, r.json()["available"]) == (409, "400.00")
    # On both cases, the member sees them too.
    member = {"api_key_id": key_id(session, "second"), "role": "observer"}
    assert client.put(f"/api/v1/cases/{theirs}/members", json=member, headers=first.key).is_success
    r = second.move(asset, order("FROZEN", amount="400.01", currency="EUR"))
    assert (r.status_code, r.json()["available"]) == (409, "400.00")
    assert second.move(asset, order("FROZEN", amount="400", currency="EUR")).status_code == 201
