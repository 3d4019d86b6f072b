"""A goAML report as records: parties, accounts, transactions, each with where it was read."""

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from app.account.keys import normalise_key
from app.goaml.profile import GoamlProfile, PartySide
from app.goaml.xml import Faults, child, text
from app.money import decimals_of

MIN_YEAR = 1753  # goAML's sql_date floor
# What the goAML tables and the ledger keep of each element (longer values are refused, not cut).
LENGTH_LIMITS = {
    "rentity_id": 50,
    "rentity_branch": 255,
    "submission_code": 20,
    "report_code": 20,
    "entity_reference": 255,
    "fiu_ref_number": 255,
    "currency_code_local": 8,
    "transactionnumber": 100,
    "internal_ref_number": 255,
    "transaction_location": 255,
    "transmode_code": 20,
    "from_funds_code": 20,
    "to_funds_code": 20,
    "funds_code": 20,
    "role": 100,
}
_BIC = r"^[A-Z0-9]{8}([A-Z0-9]{3})?$"


@dataclass
class PartyRecord:
    key: str
    kind: str
    name: str
    country: str | None
    identifiers: dict[str, str]
    where: Any


@dataclass
class AccountRecord:
    key: str
    name: str | None = None
    bic: str | None = None
    number: str | None = None
    institution: str | None = None
    currency: str | None = None
    holders: dict[tuple[str, str], None] = field(default_factory=dict)
    where: Any = None


@dataclass
class Side:
    account: str
    my_client: bool = False
    funds_code: str | None = None
    element: Any = None


@dataclass
class TransactionRecord:
    element: Any
    number: str
    internal_ref: str | None
    time: str
    value_date: datetime | None
    transmode_code: str
    amount: str
    description: str | None
    location: str | None
    source: Side | None = None
    target: Side | None = None
    conductor: str | None = None
    foreign: list[dict[str, str]] = field(default_factory=list)
    parties: list[dict[str, str | None]] = field(default_factory=list)


@dataclass
class ReportRecord:
    rentity_id: str = ""
    rentity_branch: str | None = None
    submission_code: str = ""
    report_code: str = ""
    entity_reference: str | None = None
    fiu_ref_number: str | None = None
    reported_at: datetime | None = None
    currency: str = ""
    reason: str | None = None
    action: str | None = None
    indicators: list[str] = field(default_factory=list)
    parties: dict[str, PartyRecord] = field(default_factory=dict)
    accounts: dict[str, AccountRecord] = field(default_factory=dict)
    transactions: list[TransactionRecord] = field(default_factory=list)


class ReportReader:
    """Reads one `<report>`; faults are collected, never raised, so all are reported at once."""

    def __init__(self, profile: GoamlProfile, faults: Faults) -> None:
        self.profile, self.faults = profile, faults
        self.zone = ZoneInfo(profile.timezone or "UTC")
        self.report = ReportRecord()

    # -- small checks -------------------------------------------------------------------------
    def required(self, element: Any, name: str) -> str:
        value = text(element, name)
        if value is None:
            self.faults.below(element, name, f"<{name}> is required here")
        return value or ""

    def code(self, element: Any, name: str, allowed: frozenset[str] | None, *, need: bool) -> str:
        value = self.required(element, name) if need else text(element, name) or ""
        if value and allowed is not None and value not in allowed:
            self.faults.at(
                element.find(name),
                f"code {value!r} is not in the {self.profile.name} list for <{name}>",
                "code",
            )
        return value

    def time(self, element: Any, name: str, *, need: bool) -> datetime | None:
        value = self.required(element, name) if need else text(element, name)
        if not value:
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.faults.at(element.find(name), f"{value!r} is not a goAML date (sql_date)")
            return None
        if parsed.year < MIN_YEAR:
            self.faults.at(element.find(name), f"{value!r} is before {MIN_YEAR}")
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=self.zone)

    def decimal(self, element: Any, name: str) -> str:
        value = self.required(element, name)
        try:
            if value and not Decimal(value).is_finite():
                raise InvalidOperation
        except InvalidOperation:
            self.faults.at(element.find(name), f"{value!r} is not a decimal number")
        return value

    # -- parties and accounts -----------------------------------------------------------------
    def person(self, element: Any) -> str:
        first, last = text(element, "first_name"), text(element, "last_name")
        if first is None and last is None:
            self.faults.below(element, "last_name", "a person needs first_name and last_name")
        ids = {
            name: value
            for name in ("ssn", "id_number", "passport_number", "passport_country", "birthdate")
            if (value := text(element, name)) is not None
        }
        name = " ".join(p for p in (first, text(element, "middle_name"), last) if p) or "?"
        birth = (ids.get("birthdate") or "")[:10]
        if "ssn" in ids:
            key = f"person:ssn:{ids['ssn']}"
        elif "id_number" in ids:
            key = f"person:id:{ids['id_number']}"
        elif "passport_number" in ids:
            key = f"person:passport:{ids.get('passport_country', '')}:{ids['passport_number']}"
        else:
            key = f"person:name:{(last or '').upper()}|{(first or '').upper()}|{birth}"
        country = text(element, "nationality1")
        return self.party(key, "person", name, country, ids, element)

    def entity(self, element: Any) -> str:
        name = self.required(element, "name") or "?"
        country = text(element, "incorporation_country_code")
        ids = {
            n: v
            for n in ("incorporation_number", "tax_number", "commercial_name")
            if (v := text(element, n)) is not None
        }
        if "incorporation_number" in ids:
            key = f"entity:reg:{country or ''}:{ids['incorporation_number']}"
        else:
            key = f"entity:name:{name.upper()}|{country or ''}"
        return self.party(key, "legal_entity", name, country, ids, element)

    def party(
        self, key: str, kind: str, name: str, country: str | None, ids: dict[str, str], at: Any
    ) -> str:
        country = country if country and len(country) == 2 and country.isupper() else None
        if key not in self.report.parties:
            self.report.parties[key] = PartyRecord(key[:300], kind, name, country, ids, at)
        return key[:300]

    def account(self, element: Any) -> str | None:
        iban, number = text(element, "iban"), text(element, "account")
        bic = text(element, "swift")
        institution_code = bic or text(element, "institution_code")
        if iban is not None:
            key = normalise_key(f"iban:{iban}")
            if key is None:
                self.faults.at(element.find("iban"), f"{iban!r} is not an IBAN")
                return None
        elif number is not None:
            raw = f"bank:{institution_code}/{number}" if institution_code else f"acct:{number}"
            if (key := normalise_key(raw)) is None:
                self.faults.at(element.find("account"), f"{raw!r} is not a usable account key")
                return None
        else:
            self.faults.below(element, "account", "an account needs <account> or <iban>")
            return None
        if bic is not None and not re.match(_BIC, bic):
            self.faults.at(element.find("swift"), f"{bic!r} is not a BIC")
            bic = None
        currency = text(element, "currency_code")
        if currency is not None and decimals_of(currency) is None:
            self.faults.at(element.find("currency_code"), f"unknown currency {currency!r}")
        record = self.report.accounts.setdefault(key, AccountRecord(key=key, where=element))
        for attr, value in (
            ("name", text(element, "account_name")),
            ("bic", bic),
            ("number", number),
            ("institution", text(element, "institution_name")),
            ("currency", currency),
        ):
            if getattr(record, attr) is None and value is not None:
                setattr(record, attr, value)
        if (owner := element.find("t_entity")) is not None:
            record.holders[(self.entity(owner), "holder")] = None
        signatories = [*element.findall("signatory"), *element.iterfind("related_persons/*")]
        for signatory in signatories:
            if (person := signatory.find("t_person")) is None:
                continue
            primary = (text(signatory, "is_primary") or "").lower() in ("true", "1")
            record.holders[(self.person(person), "holder" if primary else "signatory")] = None
        return key

    def node(self, element: Any, kind: str) -> str | None:
        """The ledger account of a side: the account itself, or one standing for a party."""
        if kind.endswith("account") or kind.endswith("account_my_client"):
            return self.account(element)
        party = self.person(element) if "person" in kind else self.entity(element)
        key = f"ext:{party}"
        record = self.report.accounts.setdefault(key, AccountRecord(key=key, where=element))
        record.name = record.name or self.report.parties[party].name
        record.holders[(party, "holder")] = None
        return key

    # -- transactions -------------------------------------------------------------------------
    def side(self, tx: Any, direction: str, record: TransactionRecord) -> Side | None:
        mine = f"t_{direction}_my_client"
        name, element = child(tx, mine, f"t_{direction}")
        if element is None:
            return None
        choices = [f"{direction}_account", f"{direction}_person", f"{direction}_entity"]
        kind, party = child(element, *choices)
        if party is None:
            self.faults.below(element, choices[0], f"<{name}> needs one of {', '.join(choices)}")
            return None
        account = self.node(party, kind or "")
        funds = self.code(element, f"{direction}_funds_code", self.profile.funds_codes, need=True)
        if (fx := element.find(f"{direction}_foreign_currency")) is not None:
            record.foreign.append(self.foreign(fx, direction))
        if (conductor := element.find("t_conductor")) is not None:
            record.conductor = self.person(conductor)
        if account is None:
            return None
        return Side(account, my_client=name == mine, funds_code=funds or None, element=party)

    def foreign(self, element: Any, side: str) -> dict[str, str]:
        currency = self.required(element, "foreign_currency_code")
        if currency and decimals_of(currency) is None:
            self.faults.at(element.find("foreign_currency_code"), f"unknown currency {currency!r}")
        return {
            "side": side,
            "currency": currency,
            "amount": self.decimal(element, "foreign_amount"),
            "exchange_rate": self.decimal(element, "foreign_exchange_rate"),
        }

    def involved(self, parties: Any, record: TransactionRecord) -> None:
        kinds = ("account", "account_my_client", "person", "person_my_client", "entity")
        for party in parties.findall("party"):
            role = self.required(party, "role")
            kind, element = child(party, *kinds, "entity_my_client")
            if element is None:
                self.faults.below(party, "account", "a <party> needs an account, person or entity")
                continue
            account = self.node(element, kind or "")
            side = self.profile.party_roles.get(role)
            if role and side is None:
                self.faults.at(
                    party.find("role"),
                    f"role {role!r} has no direction in the {self.profile.name} profile",
                    "code",
                )
            funds = self.code(party, "funds_code", self.profile.funds_codes, need=False)
            if (fx := party.find("foreign_currency")) is not None:
                record.foreign.append(self.foreign(fx, str(side or role)))
            record.parties.append({"role": role, "side": side, "account": account})
            if account is None or side is None or side is PartySide.OTHER:
                continue
            taken = record.source if side is PartySide.FROM else record.target
            if taken is not None:
                self.faults.at(party, f"a second party on the '{side}' side (role {role!r})")
                continue
            found = Side(
                account, my_client=(kind or "").endswith("my_client"), funds_code=funds or None
            )
            found.element = element
            if side is PartySide.FROM:
                record.source = found
            else:
                record.target = found
        if record.source is None or record.target is None:
            self.faults.at(parties, "a transaction needs one party paying and one receiving")

    def transaction(self, tx: Any) -> None:
        record = TransactionRecord(
            element=tx,
            number=self.required(tx, "transactionnumber"),
            internal_ref=text(tx, "internal_ref_number"),
            time=self.required(tx, "date_transaction"),
            value_date=self.time(tx, "value_date", need=False),
            transmode_code=self.code(tx, "transmode_code", self.profile.transmode_codes, need=True),
            amount=self.decimal(tx, "amount_local"),
            description=text(tx, "transaction_description"),
            location=text(tx, "transaction_location"),
        )
        self.time(tx, "date_transaction", need=False)
        if (parties := tx.find("involved_parties")) is not None:
            self.involved(parties, record)
        else:
            record.source = self.side(tx, "from", record)
            record.target = self.side(tx, "to", record)
            for direction, found in (("from", record.source), ("to", record.target)):
                if (
                    found is None
                    and child(tx, f"t_{direction}_my_client", f"t_{direction}")[0] is None
                ):
                    self.faults.below(
                        tx,
                        f"t_{direction}",
                        f"<t_{direction}> or <t_{direction}_my_client> is required",
                    )
        self.report.transactions.append(record)

    def check_lengths(self, root: Any) -> None:
        for name, limit in LENGTH_LIMITS.items():
            for element in root.iter(name):
                if element.text is not None and len(element.text.strip()) > limit:
                    self.faults.at(element, f"<{name}> is longer than {limit} characters")

    def read(self, root: Any) -> ReportRecord:
        report, p = self.report, self.profile
        self.check_lengths(root)
        report.rentity_id = self.required(root, "rentity_id")
        if report.rentity_id and not (
            report.rentity_id.isascii()
            and report.rentity_id.isdigit()
            and int(report.rentity_id) >= 1
        ):
            self.faults.at(root.find("rentity_id"), "rentity_id must be a whole number >= 1")
        report.rentity_branch = text(root, "rentity_branch")
        report.submission_code = self.code(root, "submission_code", p.submission_codes, need=True)
        report.report_code = self.code(root, "report_code", p.report_codes, need=True)
        report.entity_reference = text(root, "entity_reference")
        report.fiu_ref_number = text(root, "fiu_ref_number")
        date_name = "report_date" if root.find("report_date") is not None else "submission_date"
        report.reported_at = self.time(root, date_name, need=True)
        report.currency = self.required(root, "currency_code_local")
        if report.currency and decimals_of(report.currency) is None:
            self.faults.at(
                root.find("currency_code_local"), f"unknown currency {report.currency!r}"
            )
        report.reason, report.action = text(root, "reason"), text(root, "action")
        for indicator in root.iterfind("report_indicators/indicator"):
            if (code := (indicator.text or "").strip()) and (
                p.indicator_codes is None or code in p.indicator_codes
            ):
                report.indicators.append(code)
            else:
                self.faults.at(indicator, f"indicator {code!r} is not in the {p.name} list", "code")
        transactions = root.findall("transaction")
        activity = root.find("activity")
        if not transactions and activity is None:
            self.faults.below(root, "transaction", "a report needs <transaction> or <activity>")
        for tx in transactions:
            self.transaction(tx)
        if activity is not None:
            for party in activity.iterfind("report_parties/report_party"):
                kind, element = child(
                    party, "account", "account_my_client", "person", "person_my_client"
                )
                kind, element = (
                    (kind, element)
                    if element is not None
                    else child(party, "entity", "entity_my_client")
                )
                if element is not None:
                    self.node(element, kind or "")
        return report
