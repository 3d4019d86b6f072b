"""The compartments a caller may see: the shared pool, the cases they are on, every one for
admins and supervisors (issue 19's foundation)."""

from fastapi.testclient import TestClient
from sqlalchemy import column, table
from sqlalchemy.orm import Session

from app.apikey import service as apikey_service
from app.apikey.models import KeyCompartment
from app.case.service import member_compartments
from app.compartments import EVERY, SHARED_ONLY, Compartments, compartments_of
from app.principal import CaseReach, Role
from tests.app.case.test_cases import CRIMINAL
from tests.factories import bearer, make_key


def principal(session: Session, secret: str):
    found = apikey_service.principal_for(session, secret)
    assert found is not None
    return found


def test_callers_see_the_shared_pool_and_the_cases_they_are_on(
    client: TestClient, session: Session
) -> None:
    lead_secret = make_key(session, Role.INVESTIGATOR, name="lead")
    other_secret = make_key(session, Role.ANALYST, name="analyst")
    supervisor = principal(session, make_key(session, Role.SUPERVISOR))
    created = client.post("/api/v1/cases", json=CRIMINAL, headers=bearer(lead_secret))
    assert created.status_code == 201, created.text
    case_id = created.json()["id"]

    lead = principal(session, lead_secret)
    analyst = principal(session, other_secret)
    assert compartments_of(session, lead, member_compartments).cases == {case_id}
    assert compartments_of(session, analyst, member_compartments) == SHARED_ONLY
    assert compartments_of(session, supervisor, member_compartments) == EVERY

    # An ingest key bound to the case sees that compartment too.
    ingest_secret = make_key(session, Role.INGEST, name="bank feed")
    ingest = principal(session, ingest_secret)
    session.add(KeyCompartment(api_key_id=ingest.id, case_id=case_id))
    session.flush()
    assert compartments_of(session, ingest, member_compartments).cases == {case_id}


def test_a_compartment_set_has_a_stable_name_and_one_sql_test(session: Session) -> None:
    mine = Compartments(every=False, cases=frozenset({7, 3}))
    assert (mine.key, SHARED_ONLY.key, EVERY.key) == ("shared,3,7", "shared", "all")
    assert [mine.admits(c) for c in (None, 3, 4)] == [True, True, False]
    assert [EVERY.admits(4), SHARED_ONLY.admits(3)] == [True, False]

    docs = table("docs", column("case_id"))
    for comps, expected in (
        (EVERY, "true"),
        (SHARED_ONLY, "docs.case_id IS NULL"),
        (mine, "docs.case_id IS NULL OR docs.case_id IN (3, 7)"),
    ):
        sql = str(comps.documents(docs.c.case_id).compile(compile_kwargs={"literal_binds": True}))
        assert sql == expected


def test_the_key_lookup_reads_the_cases_a_key_sees_at_each_request(
    client: TestClient, session: Session
) -> None:
    lead_secret = make_key(session, Role.INVESTIGATOR, name="lead")
    analyst_secret = make_key(session, Role.ANALYST, name="analyst")
    created = client.post("/api/v1/cases", json=CRIMINAL, headers=bearer(lead_secret))
    assert created.status_code == 201, created.text
    case_id = created.json()["id"]
    analyst = principal(session, analyst_secret)
    member = {"api_key_id": analyst.id, "role": "observer"}
    r = client.put(f"/api/v1/cases/{case_id}/members", json=member, headers=bearer(lead_secret))
    assert r.status_code == 200, r.text

    # What the ledger reads' compartments come from, without a query of their own.
    assert principal(session, lead_secret).reach == CaseReach(frozenset({case_id}))
    assert principal(session, analyst_secret).reach == CaseReach(frozenset({case_id}))
    ingest_secret = make_key(session, Role.INGEST, name="bank feed")
    session.add(KeyCompartment(api_key_id=principal(session, ingest_secret).id, case_id=case_id))
    session.flush()
    assert principal(session, ingest_secret).reach == CaseReach(frozenset({case_id}), case_id)

    # Taken off the case, the analyst's next request no longer sees its compartment.
    r = client.delete(f"/api/v1/cases/{case_id}/members/{analyst.id}", headers=bearer(lead_secret))
    assert r.status_code == 200, r.text
    assert principal(session, analyst_secret).reach == CaseReach(frozenset())
