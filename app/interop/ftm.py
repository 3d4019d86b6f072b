"""FollowTheMoney entities out of the ledger and back in, built with the `followthemoney` model.

Ids are stable: `make_id` over a namespace and the ledger's own key, so the same account,
party or transaction gets the same FtM id in every export. An entity's ledger key travels as a
`moneytrail-key:` keyword, so a re-import restores keys exactly; entities from elsewhere get keys
from their content (IBAN, BIC and number, wallet address) or from their FtM id.

FtM dates carry no zone and stop at seconds: times are written in UTC and read back as UTC.

A trace's Payment states the amount the trace attributed (`amount`); FtM has no second amount,
so the full amount rides in `description` as `full amount <amount> <currency>`, which an import
reads back: a trace export re-imports as the ledger it came from.
"""

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from followthemoney import EntityProxy, model
from followthemoney.exc import InvalidData

from app.account.keys import CRYPTO_CHAINS
from app.account.models import Account, AccountHolder
from app.inputs import text_fault_in
from app.interop.graph import Payment
from app.party.models import Party

KEY_PREFIX = "moneytrail-key:"
# An account's role in a trace's network (app.trace.roles), as a keyword an import ignores.
ROLE_PREFIX = "moneytrail-role:"
STAND_IN = "moneytrail-stand-in"
FULL_AMOUNT = "full amount "
PARTY_SCHEMA = {"person": "Person", "legal_entity": "Company"}
_CHAIN_SYMBOL = {chain: symbol.upper() for symbol, chain in CRYPTO_CHAINS.items()}
_IDENTIFIERS = {  # party identifier name -> FtM property
    "id_number": "idNumber",
    "ssn": "idNumber",
    "passport_number": "passportNumber",
    "incorporation_number": "registrationNumber",
    "registration_number": "registrationNumber",
    "tax_number": "taxNumber",
}


@dataclass(frozen=True, slots=True)
class TracedPayment:
    """A payment as one trace saw it: the value attributed to the seeds, not what was paid."""

    payment: Payment
    trace_id: str
    rule: str
    traced_amount: str | None  # None: a reachability trace measures no value


_P = TypeVar("_P", Payment, TracedPayment)


def full_amount(proxy: EntityProxy) -> str | None:
    """The full amount a trace's Payment carries beside the amount traced, if it does."""
    for text in proxy.get("description", quiet=True):
        if text.startswith(FULL_AMOUNT):
            return text[len(FULL_AMOUNT) :].partition(" ")[0]
    return None


def _entity(schema: str, *parts: str) -> EntityProxy:
    proxy = model.make_entity(schema)
    proxy.make_id("moneytrail", *parts)
    return proxy


def ftm_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


class Exporter:
    """Collects entities once each, in a stable order, for one export."""

    def __init__(
        self,
        holders: dict[str, list[AccountHolder]] | None = None,
        roles: dict[str, list[str]] | None = None,
    ) -> None:
        self.entities: dict[str, EntityProxy] = {}
        self.payers: dict[str, str] = {}
        # Holders per account key when they are not today's (a trace's, as its ledger knew them).
        self.holders = holders
        self.roles = roles or {}

    def _put(self, proxy: EntityProxy) -> str:
        assert proxy.id is not None
        self.entities.setdefault(proxy.id, proxy)
        return str(proxy.id)  # str() keeps mypy strict where followthemoney is absent (Any)

    def party(
        self, key: str, kind: str, name: str, country: str | None, ids: dict[str, Any]
    ) -> str:
        proxy = _entity(PARTY_SCHEMA.get(kind, "LegalEntity"), "party", key)
        proxy.add("name", name)
        proxy.add("keywords", KEY_PREFIX + key)
        if country:
            proxy.add("country", country.lower())
        for name_, value in sorted(ids.items()):
            if (prop := _IDENTIFIERS.get(name_)) is not None and proxy.schema.get(prop):
                proxy.add(prop, str(value))
        return self._put(proxy)

    def account(self, account: Account) -> str:
        if account.kind == "crypto_wallet":
            proxy = _entity("CryptoWallet", "account", account.key)
            proxy.add("publicKey", account.address)
            proxy.add("currencySymbol", _CHAIN_SYMBOL.get(account.chain or ""))
        else:
            proxy = _entity("BankAccount", "account", account.key)
            proxy.add("iban", account.iban)
            proxy.add("bic", account.bic)
            proxy.add("accountNumber", account.number)
            proxy.add("bankName", account.institution)
            proxy.add("accountType", account.kind)
            proxy.add("currency", account.currency)
        proxy.add("name", account.name)
        proxy.add("keywords", KEY_PREFIX + account.key)
        for role in self.roles.get(account.key, []):
            proxy.add("keywords", ROLE_PREFIX + role)
        account_id = self._put(proxy)
        payer = None
        holders = account.holders if self.holders is None else self.holders[account.key]
        for h in sorted(holders, key=lambda h: (h.role != "holder", h.party.key)):
            p = h.party
            party_id = self.party(p.key, p.kind, p.name, p.country, p.identifiers)
            payer = payer or party_id
            if account.kind == "crypto_wallet":
                proxy.add("holder", party_id)
                continue
            link = _entity("Ownership", "holder", account.key, p.key, h.role)
            link.add("owner", party_id)
            link.add("asset", account_id)
            link.add("role", h.role)
            self._put(link)
        if payer is None:
            # Payment needs a payer and a beneficiary: an account with no known holder gets a
            # marked stand-in, which an import of this stream skips.
            stand_in = _entity("LegalEntity", "holder-of", account.key)
            stand_in.add("name", account.name or f"holder of {account.key}")
            stand_in.add("keywords", STAND_IN)
            payer = self._put(stand_in)
        self.payers[account.key] = payer
        return account_id

    def payment(self, payment: Payment, accounts: dict[str, Account]) -> str:
        proxy = _entity("Payment", "transaction", payment.name)
        return self._put(self._payment(proxy, payment, accounts, amount=payment.amount))

    def traced_payment(self, traced: TracedPayment, accounts: dict[str, Account]) -> str:
        """`amount` is the traced amount; the full amount is a separate property. The id is the
        trace's own: the same payment exported from the ledger states another amount."""
        payment = traced.payment
        proxy = _entity("Payment", "trace", traced.trace_id, "transaction", payment.external_id)
        proxy = self._payment(proxy, payment, accounts, amount=traced.traced_amount)
        proxy.add("description", f"{FULL_AMOUNT}{payment.amount} {payment.currency}")
        measured = (
            f"traced {traced.traced_amount} {payment.currency} of {payment.amount}"
            if traced.traced_amount is not None
            else "followed; no value attributed"
        )
        proxy.add("summary", f"{measured} (rule {traced.rule}, moneytrail trace {traced.trace_id})")
        return self._put(proxy)

    def _payment(
        self,
        proxy: EntityProxy,
        payment: Payment,
        accounts: dict[str, Account],
        *,
        amount: str | None,
    ) -> EntityProxy:
        for side, key in (("payer", payment.from_account), ("beneficiary", payment.to_account)):
            account_id = self.account(accounts[key])
            proxy.add(side, self.payers[key])
            proxy.add(f"{side}Account", account_id)
        proxy.add("amount", amount)
        proxy.add("currency", payment.currency)
        proxy.add("date", ftm_time(payment.value_time))
        proxy.add("recordId", payment.external_id)
        proxy.add("transactionNumber", payment.external_id)
        if payment.sequence is not None:
            proxy.add("sequenceNumber", str(payment.sequence))
        proxy.add("purpose", payment.narrative)
        return proxy

    def accounts(self, accounts: Iterable[Account]) -> dict[str, Account]:
        """Each account once, by key: what the payments name as their ends."""
        by_key = {a.key: a for a in accounts}
        for account in by_key.values():
            self.account(account)
        return by_key

    def stream(
        self,
        accounts: Iterable[Account],
        payments: Iterable[_P],
        put: Callable[[_P, dict[str, Account]], str],
    ) -> Iterator[str]:
        """The accounts, then each payment as `put` renders it, as sorted lines."""
        by_key = self.accounts(accounts)
        for payment in payments:
            put(payment, by_key)
        return self.lines()

    def lines(self) -> Iterator[str]:
        order = {"Payment": 3, "Ownership": 2, "BankAccount": 1, "CryptoWallet": 1}
        for proxy in sorted(
            self.entities.values(), key=lambda p: (order.get(p.schema.name, 0), p.id or "")
        ):
            yield json.dumps(proxy.to_dict(), sort_keys=True, ensure_ascii=False) + "\n"


def export_lines(
    accounts: Iterable[Account],
    payments: Iterable[Payment],
    *,
    parties: Iterable[Party] = (),
    holders: dict[str, list[AccountHolder]] | None = None,
) -> Iterator[str]:
    exporter = Exporter(holders)
    for p in parties:
        exporter.party(p.key, p.kind, p.name, p.country, p.identifiers)
    return exporter.stream(accounts, payments, exporter.payment)


def export_trace_lines(
    accounts: Iterable[Account],
    payments: Iterable[TracedPayment],
    *,
    holders: dict[str, list[AccountHolder]],
    roles: dict[str, list[str]] | None = None,
) -> Iterator[str]:
    """A trace's accounts, their holders as its ledger knew them, their roles in its network
    (`moneytrail-role:` keywords), and its payments as traced."""
    exporter = Exporter(holders, roles)
    return exporter.stream(accounts, payments, exporter.traced_payment)


def read_lines(
    lines: Iterable[bytes],
) -> tuple[list[tuple[int, EntityProxy]], list[dict[str, object]]]:
    """Entities of an FtM stream, and each line's fault (bad JSON, schema or property)."""
    entities: list[tuple[int, EntityProxy]] = []
    errors: list[dict[str, object]] = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
            if fault := text_fault_in(data):
                raise InvalidData(f"a text value {fault}")
            proxy = model.get_proxy(data, cleaned=False)
            if not proxy.id:
                raise InvalidData("the entity has no id")
            missing = sorted(p for p in proxy.schema.required if not proxy.get(p))
            if missing and STAND_IN not in proxy.get("keywords", quiet=True):
                raise InvalidData(f"{proxy.schema.name} lacks {', '.join(missing)}")
        except (ValueError, TypeError, AttributeError, RecursionError, InvalidData) as exc:
            errors.append(
                {"loc": ["line", number], "line": number, "msg": str(exc)[:500], "type": "ftm"}
            )
            continue
        entities.append((number, model.get_proxy(data, cleaned=True)))
    return entities, errors
