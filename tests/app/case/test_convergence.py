from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.principal import Role
from tests.app.casework import FLAT, IBAN, PEOPLE, Api, bank_balance, criminal_case
from tests.factories import bearer, make_key


def test_parties_and_accounts_shared_by_cases_converge(
    client: TestClient, session: Session
) -> None:
    api = Api(client, bearer(make_key(session, Role.ANALYST)))
    lead = Api(client, bearer(make_key(session, Role.INVESTIGATOR)))
    lead.post("/api/v1/accounts/batch", PEOPLE)
    drugs = lead.post("/api/v1/cases", criminal_case())["id"]
    fraud = lead.post(
        "/api/v1/cases",
        criminal_case("LKA-2026-77", title="CEO fraud", predicate_offences=["fraud"]),
    )["id"]
    lonely = lead.post("/api/v1/cases", criminal_case("LKA-2026-78"))["id"]
    lead.post(f"/api/v1/cases/{drugs}/assets", FLAT)  # Anna and Acme own it
    lead.post(f"/api/v1/cases/{fraud}/assets", bank_balance())  # Anna owns it, on IBAN
    lead.post(f"/api/v1/cases/{drugs}/subjects", {"account": IBAN, "role": "mule"})
    lead.post(f"/api/v1/cases/{lonely}/subjects", {"party": "person:victim", "role": "victim"})

    found = {(i["entity"], i["key"]): i for i in lead.get("/api/v1/convergence")["items"]}
    assert set(found) == {("party", "person:anna"), ("account", IBAN)}
    anna = found[("party", "person:anna")]
    assert [(c["reference"], c["predicate_offences"], c["roles"]) for c in anna["cases"]] == [
        ("BKA-2026-0001", ["drug_trafficking"], ["asset_owner"]),
        ("LKA-2026-77", ["fraud"], ["asset_owner"]),
    ]
    assert [c["roles"] for c in found[("account", IBAN)]["cases"]] == [["mule"], ["asset_account"]]
    assert anna["name"] == "Anna Berg"

    page = lead.get("/api/v1/convergence", limit=1)
    rest = lead.get("/api/v1/convergence", cursor=page["next_cursor"])
    assert len(page["items"] + rest["items"]) == 2
    assert rest["next_cursor"] is None
    # An analyst on no case sees no link at all.
    assert api.get("/api/v1/convergence")["items"] == []
