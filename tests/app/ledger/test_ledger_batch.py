import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.account.models import Account
from app.principal import Role
from app.source.models import SourceDocument
from app.transaction.models import Transaction
from tests.factories import BTC, DE, FR, batch, bearer, make_key, tx


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_batch_is_stored_and_read_back(client: TestClient, session: Session) -> None:
    key = bearer(make_key(session, Role.INVESTIGATOR))
    body = batch(
        tx("T-1", DE, FR, "1500.00", sequence=1),
        tx("T-2", FR, BTC, "250.5", value_time="2026-01-06T09:30:00+01:00", narrative="x"),
    )
    r = client.post("/api/v1/transactions/batch", json=body, headers=key)
    assert r.status_code == 201, r.text
    result = r.json()
    assert result["inserted"] == 2
    assert result["already_present"] == 0
    assert result["accounts_created"] == 3

    account = client.get(f"/api/v1/accounts/{FR}", headers=key).json()
    assert account["kind"] == "bank"
    assert account["iban"] == "FR1420041010050500013M02606"
    assert account["totals"] == [
        {
            "currency": "EUR",
            "count_in": 1,
            "total_in": "1500.00",
            "count_out": 1,
            "total_out": "250.50",
        }
    ]
    assert account["first_activity"] == "2026-01-05T10:00:00Z"
    assert account["last_activity"] == "2026-01-06T08:30:00Z"

    history = client.get(f"/api/v1/accounts/{FR}/transactions", headers=key).json()
    assert [(t["external_id"], t["direction"], t["amount"]) for t in history["items"]] == [
        ("T-1", "in", "1500.00"),
        ("T-2", "out", "250.50"),
    ]
    assert history["next_cursor"] is None

    by_id = client.get(f"/api/v1/accounts/{account['id']}", headers=key).json()
    assert by_id["key"] == FR
    wallet = client.get(f"/api/v1/accounts/{BTC}", headers=key).json()
    assert (wallet["kind"], wallet["chain"]) == ("crypto_wallet", "bitcoin")

    t1 = client.get("/api/v1/transactions/T-1", headers=key).json()
    assert t1["source_document_id"] == result["source_document_id"]
    assert t1["value_time"] == "2026-01-05T10:00:00Z"
    source = client.get(f"/api/v1/sources/{result['source_document_id']}", headers=key).json()
    assert source["reference"] == "PO-2026-017"
    assert len(source["sha256"]) == 64
    assert source["inserted"] == 2


def test_resending_a_batch_stores_nothing_new(client: TestClient, session: Session) -> None:
    key = bearer(make_key(session))
    body = batch(tx("T-1", DE, FR, "10.00"), tx("T-2", FR, DE, "5.00"))
    first = client.post("/api/v1/transactions/batch", json=body, headers=key)
    again = client.post("/api/v1/transactions/batch", json=body, headers=key)
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json() == {
        **first.json(),
        "inserted": 0,
        "already_present": 2,
        "accounts_created": 0,
    }
    assert count(session, Transaction) == 2
    assert count(session, SourceDocument) == 1

    overlap = batch(tx("T-2", FR, DE, "5.00"), tx("T-3", DE, FR, "1.00"), reference="PO-2")
    r = client.post("/api/v1/transactions/batch", json=overlap, headers=key)
    assert r.status_code == 201
    assert (r.json()["inserted"], r.json()["already_present"]) == (1, 1)
    assert count(session, Transaction) == 3


def test_one_bad_row_rejects_the_batch_and_names_it(client: TestClient, session: Session) -> None:
    key = bearer(make_key(session))
    body = batch(
        tx("T-1", DE, FR, "10.00"),
        tx("T-2", DE, FR, "10.001"),
        tx("T-3", DE, DE, "-4", currency="XYZ", value_time="2026-01-05T10:00:00"),
    )
    r = client.post("/api/v1/transactions/batch", json=body, headers=key)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["code"] == "batch_rejected"
    found = {(e["row"], e["field"]): e["msg"] for e in problem["errors"]}
    assert found == {
        (1, "amount"): "has 3 decimals; EUR allows 2",
        (2, "to_account"): "the same account as from_account",
        (2, "amount"): "must be positive",
        (2, "currency"): "unknown currency 'XYZ' (ISO 4217 or a listed crypto asset)",
        (2, "value_time"): "has no timezone: add Z or an offset, or state the upload's timezone",
    }
    assert problem["errors"][0]["loc"] == ["transactions", 1, "amount"]
    assert count(session, Transaction) == 0
    assert count(session, Account) == 0
    assert count(session, SourceDocument) == 0


def test_changed_content_under_a_known_id_is_refused(client: TestClient, session: Session) -> None:
    key = bearer(make_key(session))
    client.post("/api/v1/transactions/batch", json=batch(tx("T-1", DE, FR, "10.00")), headers=key)
    r = client.post(
        "/api/v1/transactions/batch",
        json=batch(tx("T-9", DE, FR, "1.00"), tx("T-1", DE, FR, "99.00")),
        headers=key,
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["transactions", 1, "amount"]
    assert "T-1 is already stored with another amount" in r.json()["errors"][0]["msg"]
    stored = client.get("/api/v1/transactions/T-1", headers=key).json()
    assert stored["amount"] == "10.00"
    assert client.get("/api/v1/transactions/T-9", headers=key).status_code == 404


def test_batch_timezone_applies_to_times_without_offset(
    client: TestClient, session: Session
) -> None:
    key = bearer(make_key(session))
    body = {
        **batch(tx("T-1", DE, FR, "1", value_time="2026-07-01 12:00")),
        "timezone": "Europe/Berlin",
    }
    assert client.post("/api/v1/transactions/batch", json=body, headers=key).status_code == 201
    assert client.get("/api/v1/transactions/T-1", headers=key).json()["value_time"] == (
        "2026-07-01T10:00:00Z"
    )


def test_amounts_must_be_json_strings(client: TestClient, session: Session) -> None:
    key = bearer(make_key(session))
    body = batch({**tx("T-1", DE, FR, "1"), "amount": 10.1})
    r = client.post("/api/v1/transactions/batch", json=body, headers=key)
    assert r.status_code == 422
    assert r.json()["code"] == "batch_rejected"
    (error,) = r.json()["errors"]
    assert (error["loc"], error["type"]) == (["transactions", 0, "amount"], "decimal_string")
    assert "decimal string" in error["msg"]
    assert count(session, Transaction) == 0


def test_a_float_amount_is_reported_with_the_other_rows_faults_in_one_answer(
    client: TestClient, session: Session
) -> None:
    key = bearer(make_key(session))
    body = batch(
        {**tx("T-1", DE, FR, "1"), "amount": 10.1},
        tx("T-2", DE, FR, "5.00", currency="XYZ"),
        {**tx("T-3", DE, FR, "1", value_time="01.01.2026"), "amount": 7},
        tx("T-4", DE, FR, "2.50"),
    )
    r = client.post("/api/v1/transactions/batch", json=body, headers=key)
    assert r.status_code == 422
    problem = r.json()
    assert problem["code"] == "batch_rejected"
    assert problem["error_count"] == 4
    assert [(e["row"], e["field"]) for e in problem["errors"]] == [
        (0, "amount"),
        (1, "currency"),
        (2, "amount"),
        (2, "value_time"),
    ]
    assert "10.1" in problem["errors"][0]["msg"]
    assert "unknown currency" in problem["errors"][1]["msg"]
    assert count(session, Transaction) == 0


def test_a_true_amount_is_still_a_type_error(client: TestClient, session: Session) -> None:
    key = bearer(make_key(session))
    body = batch({**tx("T-1", DE, FR, "1"), "amount": True})
    r = client.post("/api/v1/transactions/batch", json=body, headers=key)
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"] == ["body", "transactions", 0, "amount"]


# Decimal's str() would answer "5E-8" for a few satoshi: exact, but not what a client or an
# analyst expects; the currency is stored as the code, whatever its case as given.
@pytest.mark.parametrize(("amount", "currency"), [("0.00012345", "btc"), ("0.00000005", "BTC")])
def test_crypto_amounts_read_back_as_given(
    client: TestClient, session: Session, amount: str, currency: str
) -> None:
    key = bearer(make_key(session))
    wallet = "btc:bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
    body = batch(tx("T-1", BTC, wallet, amount, currency=currency))
    assert client.post("/api/v1/transactions/batch", json=body, headers=key).status_code == 201
    stored = client.get("/api/v1/transactions/T-1", headers=key).json()
    assert (stored["amount"], stored["currency"]) == (amount, "BTC")
