"""Plain factory functions for test data."""

from typing import Any

from sqlalchemy.orm import Session

from app.apikey import service as apikey_service
from app.principal import Role


def make_key(session: Session, role: Role = Role.ADMIN, **overrides: Any) -> str:
    _, secret = apikey_service.create_key(
        session,
        name=overrides.pop("name", f"test {role}"),
        role=role,
        created_by=None,
        **overrides,
    )
    return secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def tx(external_id: str, src: str, dst: str, amount: str, **overrides: Any) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "from_account": src,
        "to_account": dst,
        "amount": amount,
        "currency": overrides.pop("currency", "EUR"),
        "value_time": overrides.pop("value_time", "2026-01-05T10:00:00Z"),
        **overrides,
    }


DE = "iban:DE89370400440532013000"
FR = "iban:FR1420041010050500013M02606"
BTC = "btc:bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"


def batch(*transactions: dict[str, Any], reference: str = "PO-2026-017") -> dict[str, Any]:
    return {
        "source": {"kind": "bank_statement", "reference": reference},
        "transactions": list(transactions),
    }
