"""An FtM stream as ledger records: parties, accounts with holders, and transactions."""

from dataclasses import dataclass, field
from typing import Any

from followthemoney import EntityProxy

from app.account.keys import CRYPTO_CHAINS, normalise_key
from app.account.schemas import HolderRole
from app.interop.ftm import KEY_PREFIX, STAND_IN, full_amount
from app.money import decimals_of
from app.transaction.ingest import COLUMNS

_IDENTIFIERS = {
    "idNumber": "id_number",
    "passportNumber": "passport_number",
    "registrationNumber": "registration_number",
    "taxNumber": "tax_number",
}
_ROLES = {r.value for r in HolderRole}


def _first(proxy: EntityProxy, prop: str) -> str | None:
    values = proxy.get(prop, quiet=True)
    return values[0] if values else None


def _key_of(proxy: EntityProxy) -> str | None:
    for keyword in proxy.get("keywords", quiet=True):
        if keyword.startswith(KEY_PREFIX):
            return str(keyword[len(KEY_PREFIX) :])  # str(): typed even without followthemoney
    return None


@dataclass
class Ledger:
    """What the stream holds, in the shapes of the ledger's batch inputs."""

    parties: dict[str, dict[str, Any]] = field(default_factory=dict)
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    errors: list[dict[str, object]] = field(default_factory=list)
    party_keys: dict[str, str] = field(default_factory=dict)
    account_keys: dict[str, str] = field(default_factory=dict)

    def fail(self, line: int, msg: str) -> None:
        self.errors.append({"loc": ["line", line], "line": line, "msg": msg, "type": "ftm"})

    def holder(self, account: str, party: str, role: str) -> None:
        holders = self.accounts[account]["holders"]
        if {"party": party, "role": role} not in holders:
            holders.append({"party": party, "role": role})


def _party(ledger: Ledger, proxy: EntityProxy) -> None:
    key = _key_of(proxy) or f"ftm:{proxy.id}"
    country = (_first(proxy, "country") or "").upper()
    ledger.parties[key] = {
        "key": key,
        "kind": "person" if proxy.schema.is_a("Person") else "legal_entity",
        "name": proxy.caption[:500],
        "country": country if len(country) == 2 else None,
        "identifiers": {
            name: value
            for prop, name in _IDENTIFIERS.items()
            if (value := _first(proxy, prop)) is not None
        },
    }
    ledger.party_keys[str(proxy.id)] = key


def _account(ledger: Ledger, line: int, proxy: EntityProxy) -> None:
    key = _key_of(proxy)
    iban, bic, number = (_first(proxy, p) for p in ("iban", "bic", "accountNumber"))
    if key is None and proxy.schema.name == "CryptoWallet":
        symbol = (_first(proxy, "currencySymbol") or "").lower()
        address = _first(proxy, "publicKey") or _first(proxy, "cryptoAddress")
        key = f"{symbol}:{address}" if symbol in CRYPTO_CHAINS and address else None
    elif key is None:
        key = f"iban:{iban}" if iban else (f"bank:{bic}/{number}" if bic and number else None)
        key = key or (f"acct:{number}" if number else None)
    if key is None or (key := normalise_key(key)) is None:
        ledger.fail(line, f"{proxy.schema.name} {proxy.id}: no usable account key")
        return
    currency = (_first(proxy, "currency") or "").upper()
    ledger.accounts[key] = {
        "key": key,
        "name": _first(proxy, "name"),
        "bic": bic.upper() if bic else None,
        "number": number if proxy.schema.name == "BankAccount" else None,
        "institution": _first(proxy, "bankName"),
        "currency": currency if decimals_of(currency) is not None else None,
        "holders": [],
    }
    ledger.account_keys[str(proxy.id)] = key


def _node(ledger: Ledger, payment: EntityProxy, side: str) -> str | None:
    """The account a payment leaves or reaches: its account, else one standing for the party."""
    if (account := _first(payment, f"{side}Account")) is not None:
        return ledger.account_keys.get(account)
    party = ledger.party_keys.get(_first(payment, side) or "")
    if party is None:
        return None
    key = normalise_key(f"ext:{ledger.parties[party]['name']}")
    if key is not None:
        ledger.accounts.setdefault(key, {"key": key, "holders": []})
        ledger.holder(key, party, "holder")
    return key


def to_ledger(entities: list[tuple[int, EntityProxy]]) -> Ledger:
    ledger = Ledger()
    for _, proxy in entities:
        if proxy.schema.is_a("LegalEntity") and STAND_IN not in proxy.get("keywords", quiet=True):
            _party(ledger, proxy)
    for line, proxy in entities:
        if proxy.schema.name in ("BankAccount", "CryptoWallet"):
            _account(ledger, line, proxy)
    for _line, proxy in entities:
        if proxy.schema.name == "Ownership":
            account = ledger.account_keys.get(_first(proxy, "asset") or "")
            party = ledger.party_keys.get(_first(proxy, "owner") or "")
            role = _first(proxy, "role") or "holder"
            if account and party:
                ledger.holder(account, party, role if role in _ROLES else "holder")
        elif proxy.schema.name == "CryptoWallet" and str(proxy.id) in ledger.account_keys:
            for holder in proxy.get("holder"):
                if (party := ledger.party_keys.get(holder)) is not None:
                    ledger.holder(ledger.account_keys[str(proxy.id)], party, "holder")
    for line, proxy in entities:
        if proxy.schema.name != "Payment":
            continue
        source, target = _node(ledger, proxy, "payer"), _node(ledger, proxy, "beneficiary")
        if source is None or target is None:
            ledger.fail(line, f"Payment {proxy.id}: payer or beneficiary is not in the stream")
            continue
        external = _first(proxy, "recordId") or _first(proxy, "transactionNumber")
        sequence = _first(proxy, "sequenceNumber")
        row = {
            "external_id": external or f"ftm:{proxy.id}",
            "from_account": source,
            "to_account": target,
            # A trace's Payment: what was paid, not what the trace attributed.
            "amount": full_amount(proxy) or _first(proxy, "amount"),
            "currency": _first(proxy, "currency"),
            "value_time": _first(proxy, "date") or _first(proxy, "startDate"),
            "sequence": sequence
            if sequence and sequence.isascii() and sequence.isdigit()
            else None,
            "narrative": _first(proxy, "purpose"),
        }
        ledger.rows.append({c: row.get(c) for c in COLUMNS})
        ledger.lines.append(line)
    return ledger
