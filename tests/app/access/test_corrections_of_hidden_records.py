"""A correction is refused as for any record the caller may not see (issue 19, review of the
refiling): case A's document alone created account DE, party p17 and transaction CASE-A-1; an
investigator who is not on A files a correction of them, in the shared pool or in their own
case, and gets the 404 the read routes give, and nothing is stored.
"""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.account.models import AccountCorrection
from app.principal import Role
from app.source.models import SourceDocument
from app.transaction.models import TransactionCorrection
from tests.app.casework import criminal_case
from tests.app.convergence.test_blind_convergence import Person
from tests.factories import BTC, DE, FR

P17 = "person:p17"


def _source(case_id: int | None, reference: str) -> dict[str, Any]:
    return {"kind": "bank_production", "reference": reference, "case_id": case_id}


def _tx(external_id: str, amount: str) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "value_time": "2026-01-05T10:00:00Z",
        "from_account": BTC,
        "to_account": FR,
        "amount": amount,
        "currency": "EUR",
    }


# Who calls, by the name the tests give them: A's lead, B's lead (on nothing of A), a loader.
ROLES = {"lead_a": Role.INVESTIGATOR, "lead_b": Role.INVESTIGATOR, "ingest": Role.INGEST}


@pytest.fixture
def world(client: TestClient, session: Session) -> dict[str, Any]:
    found: dict[str, Any] = {n: Person(client, session, r, n).api for n, r in ROLES.items()}
    lead_a = found["lead_a"]
    for case, lead in (("a", lead_a), ("b", found["lead_b"])):
        found[case] = lead.post("/api/v1/cases", criminal_case(f"CASE-{case}"))["id"]
    party = {"key": P17, "kind": "person", "name": "Anna Bergström"}
    account = {"key": DE, "name": "Kingfisher Holdings", "holders": [{"party": P17}]}
    a = found["a"]
    lead_a.post(
        "/api/v1/accounts/batch",
        {"source": _source(a, "PO-A"), "parties": [party], "accounts": [account]},
    )
    moves = {"source": _source(a, "PO-A-TX"), "transactions": [_tx("CASE-A-1", "10.00")]}
    lead_a.post("/api/v1/transactions/batch", moves)
    found["account_id"] = lead_a.get(f"/api/v1/accounts/{DE}")["id"]
    return found


# (who, filed in, the account named by): an investigator on B only, in the pool or in B, and a
# loader on no case; by key and by id, and an account only A's transaction created.
CALLERS = [
    ("lead_b", None, "key"),
    ("lead_b", "b", "key"),
    ("lead_b", None, "id"),
    ("ingest", None, "key"),
    ("lead_b", None, "moved"),
]


def _stored(session: Session) -> tuple[int, int, int]:
    session.expire_all()
    return (
        session.scalar(select(func.count()).select_from(SourceDocument)) or 0,
        session.scalar(select(func.count()).select_from(AccountCorrection)) or 0,
        session.scalar(select(func.count()).select_from(TransactionCorrection)) or 0,
    )


@pytest.mark.parametrize(("who", "filed_in", "by"), CALLERS)
def test_a_correction_of_an_account_only_a_created_is_refused_as_unseen(
    world: dict[str, Any], session: Session, who: str, filed_in: str | None, by: str
) -> None:
    lead_b = world[who]
    case_id = world[filed_in] if filed_in else None
    ref = {"key": DE, "id": str(world["account_id"]), "moved": FR}[by]
    before = _stored(session)
    body = {
        "source": _source(case_id, "FIX"),
        "details": {"name": "Not Kingfisher"},
        "reason": "a letter",
    }
    r = lead_b.client.post(f"/api/v1/accounts/{ref}/corrections", json=body, headers=lead_b.key)
    read = lead_b.client.get(f"/api/v1/accounts/{ref}", headers=world["lead_b"].key)
    assert (r.status_code, r.json()) == (
        404,
        {
            **read.json(),
            "instance": f"/api/v1/accounts/{ref}/corrections",
            "request_id": r.json()["request_id"],
        },
    )
    assert "Kingfisher" not in r.text
    assert _stored(session) == before
    assert world["lead_a"].get(f"/api/v1/accounts/{ref}")["name"] != "Not Kingfisher"


@pytest.mark.parametrize(("who", "filed_in", "by"), CALLERS[:2] + CALLERS[3:4])
def test_a_correction_of_a_transaction_only_a_stored_is_refused_as_unseen(
    world: dict[str, Any], session: Session, who: str, filed_in: str | None, by: str
) -> None:
    lead_b = world[who]
    case_id = world[filed_in] if filed_in else None
    before = _stored(session)
    body = {
        "source": _source(case_id, "FIX"),
        "reason": "a letter",
        "transaction": _tx("CASE-A-1-FIX", "12.00"),
    }
    url = "/api/v1/transactions/CASE-A-1/corrections"
    r = lead_b.client.post(url, json=body, headers=lead_b.key)
    assert (r.status_code, r.json()["code"]) == (404, "transaction_not_found"), r.text
    assert _stored(session) == before
    assert world["lead_a"].get("/api/v1/transactions/CASE-A-1")["amount"] == "10.00"
