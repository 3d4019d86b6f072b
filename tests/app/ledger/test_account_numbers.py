import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.account.numbers import eip55, number_fault
from tests.factories import DE, FR, batch, bearer, make_key, tx

BAD_IBAN = "iban:DE88370400440532013000"  # DE89... with its check digits changed


@pytest.mark.parametrize(
    ("key", "fault"),
    [
        (DE, None),
        ("iban:GB29NWBK60161331926819", None),
        (BAD_IBAN, "not a valid IBAN: the check digits do not match"),
        ("iban:DE8937040044053201300", "not a valid IBAN: the check digits do not match"),
        ("bank:COBADEFFXXX/0532013000", None),
        (
            "bank:COBAXXFF/1",
            "not a valid BIC (4-letter bank code, ISO country, location, optional branch)",
        ),
        ("bank:37040044/0532013000", None),  # a national bank code, not a BIC
        ("btc:1BoatSLRHtKNngkdXEeobR76b53LETtpyT", None),
        ("btc:bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", None),
        ("btc:BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", None),  # BIP 173 vector
        (
            "btc:1BoatSLRHtKNngkdXEeobR76b53LETtpyU",
            "not a valid Bitcoin address (base58check or bech32 checksum fails)",
        ),
        ("btc:bc1qother", "not a valid Bitcoin address (base58check or bech32 checksum fails)"),
        # EIP-55's own test vectors, then one with a letter's case flipped.
        ("eth:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", None),
        ("eth:0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359", None),
        ("eth:0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", None),
        ("eth:0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb", None),
        ("eth:0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", None),  # lower case: no checksum
        (
            "eth:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD",
            "not a valid Ethereum address: the EIP-55 mixed-case checksum does not match",
        ),
        ("eth:0x5aAe", "not an Ethereum address (0x and 40 hexadecimal digits)"),
        ("cash:courier", None),
        ("acct:anything-goes", None),
    ],
)
def test_number_checks(key: str, fault: str | None) -> None:
    assert number_fault(key) == fault


def test_eip55_form() -> None:
    lower = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
    assert eip55(lower) == "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


def test_a_batch_with_an_invalid_iban_is_refused_naming_row_and_field(
    client: TestClient, session: Session
) -> None:
    key = bearer(make_key(session))
    body = batch(tx("T-1", DE, FR, "1.00"), tx("T-2", FR, BAD_IBAN, "2.00"))
    r = client.post("/api/v1/transactions/batch", json=body, headers=key)
    assert r.status_code == 422
    (error,) = r.json()["errors"]
    assert (error["row"], error["field"], error["msg"]) == (
        1,
        "to_account",
        "not a valid IBAN: the check digits do not match",
    )
    assert client.get("/api/v1/transactions/T-1", headers=key).status_code == 404


def test_warn_stores_and_flags_the_account(client: TestClient, session: Session) -> None:
    key = bearer(make_key(session))
    body = batch(tx("T-1", DE, BAD_IBAN, "1.00")) | {"account_check": "warn"}
    r = client.post("/api/v1/transactions/batch", json=body, headers=key)
    assert r.status_code == 201, r.text
    assert r.json()["accounts_created"] == 2
    flagged = client.get("/api/v1/accounts", params={"flag": "invalid_number"}, headers=key)
    assert flagged.status_code == 200
    assert [(a["key"], a["number_flag"]) for a in flagged.json()["items"]] == [
        (BAD_IBAN, "invalid_number")
    ]


def test_account_batch_checks_keys_and_bics(client: TestClient, session: Session) -> None:
    key = bearer(make_key(session))
    body = {
        "source": {"kind": "bank_production", "reference": "PO-1"},
        "accounts": [
            {"key": DE, "bic": "COBADEFFXXX"},
            {"key": BAD_IBAN},
            {"key": FR, "bic": "COBAXXFF"},
        ],
    }
    r = client.post("/api/v1/accounts/batch", json=body, headers=key)
    assert r.status_code == 422
    assert [(e["row"], e["field"]) for e in r.json()["errors"]] == [(1, "key"), (2, "bic")]
    r = client.post("/api/v1/accounts/batch", json=body | {"account_check": "warn"}, headers=key)
    assert r.status_code == 201, r.text
    flagged = client.get("/api/v1/accounts", params={"flag": "invalid_number"}, headers=key)
    assert sorted(a["key"] for a in flagged.json()["items"]) == sorted([BAD_IBAN, FR])
