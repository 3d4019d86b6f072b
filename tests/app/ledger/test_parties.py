"""A party by its key as well as its id, with its accounts and the cases the caller may see."""

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.principal import Role
from tests.app.casework import IBAN, PEOPLE, Api, criminal_case
from tests.factories import bearer, make_key


def test_a_party_by_key_or_id_lists_its_accounts_and_only_the_cases_the_caller_sees(
    client: TestClient, session: Session
) -> None:
    owner = Api(client, bearer(make_key(session, Role.INVESTIGATOR, name="owner")))
    outsider = Api(client, bearer(make_key(session, Role.INVESTIGATOR, name="outsider")))
    owner.post("/api/v1/accounts/batch", PEOPLE)
    drugs = owner.post("/api/v1/cases", criminal_case())
    owner.post(f"/api/v1/cases/{drugs['id']}/subjects", {"party": "person:anna", "role": "suspect"})

    by_key = owner.get("/api/v1/parties/person:anna")
    assert (by_key["key"], by_key["name"]) == ("person:anna", "Anna Berg")
    assert by_key["accounts"] == [
        {"account_id": by_key["accounts"][0]["account_id"], "key": IBAN, "role": "holder"}
    ]
    assert by_key["cases"] == [
        {
            "case_id": drugs["id"],
            "reference": drugs["reference"],
            "title": drugs["title"],
            "role": "suspect",
        }
    ]
    assert owner.get(f"/api/v1/parties/{by_key['id']}") == by_key
    # The party is ledger data any reader sees; the case it is named in is not.
    seen_by_outsider = outsider.get("/api/v1/parties/person:anna")
    assert seen_by_outsider == {**by_key, "cases": []}


def test_an_unknown_party_key_is_a_404_problem(client: TestClient, session: Session) -> None:
    r = client.get("/api/v1/parties/person:nobody", headers=bearer(make_key(session)))
    assert (r.status_code, r.json()["code"]) == (404, "party_not_found")
    assert "person:nobody" in r.json()["detail"]
