"""Persons, entities and accounts of a goAML report, keyed as the ledger keys them."""

from typing import Any
from zoneinfo import ZoneInfo

from app.account.keys import normalise_key
from app.goaml.profile import GoamlProfile, accepted_currencies
from app.goaml.records import AccountRecord, PartyLink, PartyRecord, ReportRecord
from app.goaml.values import BIC, same_name
from app.goaml.xml import Faults, text

# A passport number alone says nothing of who issued it: the key says the country is unknown
# rather than leaving an empty segment that reads like a parsing slip.
NO_COUNTRY = "no-country"


class PartyReader:
    """Reads parties and accounts; faults and notes are collected, never raised."""

    def __init__(self, profile: GoamlProfile, faults: Faults, notes: Faults) -> None:
        self.profile, self.faults, self.notes = profile, faults, notes
        self.zone = ZoneInfo(profile.timezone or "UTC")
        self.currencies = accepted_currencies(profile)
        self.report = ReportRecord()

    def required(self, element: Any, name: str) -> str:
        value = text(element, name)
        if value is None:
            self.faults.below(element, name, f"<{name}> is required here")
        return value or ""

    def currency(self, element: Any, name: str, *, need: bool) -> str | None:
        value = self.required(element, name) if need else text(element, name)
        if value and value not in self.currencies:
            self.faults.at(
                element.find(name),
                f"currency {value!r} is not in the {self.profile.name} list for <{name}>",
                "code",
            )
        return value

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
        by_name = f"{(last or '').upper()}|{(first or '').upper()}"
        if "ssn" in ids:
            key = f"person:ssn:{ids['ssn']}"
        elif "id_number" in ids:
            key = f"person:id:{ids['id_number']}"
        elif "passport_number" in ids:
            issuer = ids.get("passport_country", NO_COUNTRY)
            key = f"person:passport:{issuer}:{ids['passport_number']}"
        else:
            key = f"person:name:{by_name}|{(ids.get('birthdate') or '')[:10]}"
        known = self.report.parties.get(key[:300])
        by_id = not key.startswith("person:name:")
        if known is not None and by_id and not same_name(known.name, name):
            key = self.namesake(known, f"{key}/name:{by_name}", name, element)
        return self.party(key, "person", name, text(element, "nationality1"), ids, element)

    def namesake(self, known: PartyRecord, key: str, name: str, element: Any) -> str:
        """One identifier, two names: both kept as written, linked, and said in the result."""
        if key[:300] not in self.report.parties:
            self.report.links[PartyLink(key[:300], known.key, "probable_same_person")] = None
            first = known.where
            self.notes.at(
                element,
                f"{known.key} is named {known.name!r} at {first.getroottree().getpath(first)} "
                f"(line {first.sourceline}) and {name!r} here: both kept, the second as "
                f"{key[:300]}, linked to the first as a probable same person",
                "conflict",
            )
        return key

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
        key = self.party(key, "legal_entity", name, country, ids, element)
        for director in element.findall("director_id"):
            link = PartyLink(self.person(director), key, "director", text(director, "role"))
            self.report.links[link] = None
        return key

    def party(
        self, key: str, kind: str, name: str, country: str | None, ids: dict[str, str], at: Any
    ) -> str:
        country = country if country and len(country) == 2 and country.isupper() else None
        if key[:300] not in self.report.parties:
            self.report.parties[key[:300]] = PartyRecord(key[:300], kind, name, country, ids, at)
        return key[:300]

    def swift(self, element: Any) -> str | None:
        """A BIC for the account, or None: the schemas take any 1-11 characters here."""
        if (bic := text(element, "swift")) is None or BIC.match(bic):
            return bic
        msg = f"{bic!r} is not a BIC"
        if self.profile.require_bic:
            self.faults.at(element.find("swift"), f"{msg} (the {self.profile.name} profile)")
        else:
            self.notes.at(element.find("swift"), f"{msg}: kept as the institution code", "flag")
        return None

    def account(self, element: Any) -> str | None:
        iban, number = text(element, "iban"), text(element, "account")
        institution_code = text(element, "swift") or text(element, "institution_code")
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
        bic = self.swift(element)
        currency = self.currency(element, "currency_code", need=False)
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
