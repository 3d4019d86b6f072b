from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories import DE, FR, batch, bearer, make_key, tx

PARTIES = {
    "source": {"kind": "bank_production", "reference": "PO-9"},
    "parties": [
        {"key": "person:anna", "kind": "person", "name": "Anna Berg", "country": "DE"},
        {"key": "company:acme", "kind": "legal_entity", "name": "Acme GmbH", "country": "DE"},
    ],
    "accounts": [
        {
            "key": "iban:de89 3704 0044 0532 0130 00",
            "bic": "COBADEFFXXX",
            "institution": "Commerzbank",
            "holders": [{"party": "person:anna"}, {"party": "company:acme", "role": "signatory"}],
        },
    ],
}


def test_accounts_and_holders_are_loaded_and_enriched(client: TestClient, session: Session) -> None:
    key = bearer(make_key(session))
    # The account first appears in a transaction, then the bank's production names its holders.
    client.post("/api/v1/transactions/batch", json=batch(tx("T-1", DE, FR, "1.00")), headers=key)
    r = client.post("/api/v1/accounts/batch", json=PARTIES, headers=key)
    assert r.status_code == 201, r.text
    assert r.json() | {"source_document_id": None} == {
        "source_document_id": None,
        "parties_inserted": 2,
        "parties_updated": 0,
        "accounts_inserted": 0,
        "accounts_updated": 1,
        "holders_added": 2,
    }
    account = client.get(f"/api/v1/accounts/{DE}", headers=key).json()
    assert (account["bic"], account["institution"]) == ("COBADEFFXXX", "Commerzbank")
    assert sorted((h["name"], h["role"]) for h in account["holders"]) == [
        ("Acme GmbH", "signatory"),
        ("Anna Berg", "holder"),
    ]
    party = client.get(f"/api/v1/parties/{account['holders'][0]['party_id']}", headers=key)
    assert party.status_code == 200


def test_conflicting_account_details_reject_the_batch(client: TestClient, session: Session) -> None:
    key = bearer(make_key(session))
    assert client.post("/api/v1/accounts/batch", json=PARTIES, headers=key).status_code == 201
    changed = {
        **PARTIES,
        "parties": [],
        "accounts": [
            {
                **PARTIES["accounts"][0],
                "bic": "DEUTDEFFXXX",
                "holders": [{"party": "person:nobody"}],
            }
        ],
    }
    r = client.post("/api/v1/accounts/batch", json=changed, headers=key)
    assert r.status_code == 422
    fields = {(e["row"], e["field"]) for e in r.json()["errors"]}
    assert fields == {(0, "bic"), (0, "holders.0.party")}
    assert client.get(f"/api/v1/accounts/{DE}", headers=key).json()["bic"] == "COBADEFFXXX"


def test_unknown_account_is_404(client: TestClient, session: Session) -> None:
    key = bearer(make_key(session))
    for ref in ("iban:DE00000000000000000000", "999999", "not a key"):
        r = client.get(f"/api/v1/accounts/{ref}", headers=key)
        assert r.status_code == 404
        assert r.json()["code"] == "account_not_found"


def test_account_history_pages_in_time_order_with_a_window(
    client: TestClient, session: Session
) -> None:
    key = bearer(make_key(session))
    rows = [
        tx(
            f"H-{i}",
            DE if i % 2 else FR,
            FR if i % 2 else DE,
            f"{i}.00",
            value_time=f"2026-01-{10 + i // 3:02d}T10:00:00Z",
            sequence=i % 3,
        )
        for i in range(1, 13)
    ]
    client.post("/api/v1/transactions/batch", json=batch(*rows), headers=key)
    seen, cursor = [], None
    while True:
        params = {"limit": 5, **({"cursor": cursor} if cursor else {})}
        page = client.get(f"/api/v1/accounts/{DE}/transactions", params=params, headers=key).json()
        seen += [t["external_id"] for t in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    expected = sorted(rows, key=lambda t: (t["value_time"], t["sequence"]))
    assert seen == [t["external_id"] for t in expected]
    window = client.get(
        f"/api/v1/accounts/{DE}/transactions",
        params={"start": "2026-01-11T00:00:00Z", "end": "2026-01-12T00:00:00Z"},
        headers=key,
    ).json()
    assert [t["external_id"] for t in window["items"]] == ["H-3", "H-4", "H-5"]
    bad = client.get(f"/api/v1/accounts/{DE}/transactions", params={"cursor": "xx"}, headers=key)
    assert bad.status_code == 422


def test_keys_with_a_slash_are_addressable(client: TestClient, session: Session) -> None:
    key = bearer(make_key(session))
    bank = "bank:COBADEFFXXX/0532013000"
    assert (
        client.post(
            "/api/v1/transactions/batch", json=batch(tx("S-1", bank, FR, "5.00")), headers=key
        ).status_code
        == 201
    )
    assert client.get(f"/api/v1/accounts/{bank}", headers=key).json()["number"] == (
        "COBADEFFXXX/0532013000"
    )
    history = client.get(f"/api/v1/accounts/{bank}/transactions", headers=key).json()
    assert [t["external_id"] for t in history["items"]] == ["S-1"]
