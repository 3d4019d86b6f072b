"""Helpers for the case, asset and measure tests: everything goes through the HTTP API."""

from collections.abc import Iterable
from typing import Any

from fastapi.testclient import TestClient

IBAN = "iban:DE89370400440532013000"
IBAN_FR = "iban:FR1420041010050500013M02606"
PEOPLE = {
    "source": {"kind": "bank_production", "reference": "PO-2026-17"},
    "parties": [
        {"key": "person:anna", "kind": "person", "name": "Anna Berg", "country": "DE"},
        {"key": "person:victim", "kind": "person", "name": "Vera Opfer", "country": "DE"},
        {"key": "company:acme", "kind": "legal_entity", "name": "Acme GmbH", "country": "DE"},
    ],
    "accounts": [
        {"key": IBAN, "currency": "EUR", "holders": [{"party": "person:anna"}]},
        {"key": IBAN_FR, "currency": "EUR", "holders": [{"party": "company:acme"}]},
    ],
}


def criminal_case(reference: str = "BKA-2026-0001", **overrides: Any) -> dict[str, Any]:
    return {
        "reference": reference,
        "kind": "criminal_investigation",
        "title": "Hafen cocaine imports",
        "jurisdiction": "DE",
        "predicate_offences": ["drug_trafficking"],
        "lead_agency": "BKA SO 3",
        **overrides,
    }


def bank_balance(amount: str = "48210.55", account: str = IBAN) -> dict[str, Any]:
    return {
        "type": "bank_balance",
        "description": "Current account balance",
        "account": account,
        "valuation": {"amount": amount, "currency": "EUR", "valued_on": "2026-04-29"},
        "owners": [{"party": "person:anna", "share_percent": "100"}],
    }


FLAT = {
    "type": "real_estate",
    "description": "Flat, 3 rooms, Hafenstraße 12, Hamburg",
    "registry_id": "Grundbuch Hamburg-Altona Blatt 4711",
    "address": "Hafenstraße 12, 20359 Hamburg",
    "valuation": {"amount": "350000", "currency": "EUR", "method": "expert appraisal"},
    "owners": [
        {"party": "person:anna", "share_percent": "50"},
        {"party": "company:acme", "share_percent": "50"},
    ],
}


def order(to_status: str, **fields: Any) -> dict[str, Any]:
    return {
        "to_status": to_status,
        "order_reference": f"ORD-{to_status}",
        "issuing_authority": "Amtsgericht Hamburg",
        "legal_basis": "StPO § 111e",
        "decision_date": "2026-05-06",
        **fields,
    }


class Api:
    def __init__(self, client: TestClient, key: dict[str, str]) -> None:
        self.client, self.key = client, key

    def post(self, url: str, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
        r = self.client.post(url, json=body, headers=self.key)
        assert r.status_code == status, r.text
        return r.json()

    def untold(self, urls: Iterable[str], words: Iterable[str]) -> None:
        """None of `words` in what the caller reads at any of `urls` (whatever the status)."""
        for url in urls:
            text = self.client.get(url, headers=self.key).text
            assert not [w for w in words if w in text], (url, text)

    def get(self, url: str, **params: Any) -> Any:
        r = self.client.get(url, params=params, headers=self.key)
        assert r.status_code == 200, r.text
        return r.json()

    def move(self, asset_id: int, body: dict[str, Any], *, etag: str | None = None):
        if etag is None:
            etag = self.client.get(f"/api/v1/assets/{asset_id}", headers=self.key).headers["ETag"]
        return self.client.post(
            f"/api/v1/assets/{asset_id}/transitions",
            json=body,
            headers={**self.key, "If-Match": etag},
        )
