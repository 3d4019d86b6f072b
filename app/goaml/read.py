"""A goAML report as records: parties, accounts, transactions, each with where it was read."""

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree

from app.goaml.parties import PartyReader
from app.goaml.profile import PartySide
from app.goaml.records import AccountRecord, ReportRecord, Side, TransactionRecord
from app.goaml.values import SWIFT_MAX, SqlDate, sql_date, without_zero_places
from app.goaml.xml import child, text
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
    "swift": SWIFT_MAX,
}


class ReportReader(PartyReader):
    """Reads one `<report>`; faults are collected, never raised, so all are reported at once.

    Notes are what is accepted but worth saying: repeats, truncated digits, conflicts.
    """

    # -- small checks -------------------------------------------------------------------------
    def code(self, element: Any, name: str, allowed: frozenset[str] | None, *, need: bool) -> str:
        value = self.required(element, name) if need else text(element, name) or ""
        if value and allowed is not None and value not in allowed:
            self.faults.at(
                element.find(name),
                f"code {value!r} is not in the {self.profile.name} list for <{name}>",
                "code",
            )
        return value

    def written_time(self, element: Any, name: str, *, need: bool) -> datetime | None:
        """The date-time as written: naive unless the report states a zone."""
        value = self.required(element, name) if need else text(element, name)
        if not value:
            return None
        found = sql_date(value)
        if not isinstance(found, SqlDate):
            self.faults.at(element.find(name), f"<{name}> {value!r} {found}")
            return None
        if found.value.year < MIN_YEAR:
            self.faults.at(element.find(name), f"<{name}> {value!r} is before {MIN_YEAR}")
        if found.truncated:
            self.notes.at(
                element.find(name),
                f"<{name}> {value!r}: digits beyond the microsecond ({found.truncated}) dropped",
                "truncated",
            )
        return found.value

    def time(self, element: Any, name: str, *, need: bool) -> datetime | None:
        parsed = self.written_time(element, name, need=need)
        if parsed is None:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=self.zone)

    def decimal(self, element: Any, name: str) -> str:
        value = self.required(element, name)
        try:
            if value and not Decimal(value).is_finite():
                raise InvalidOperation
        except InvalidOperation:
            self.faults.at(element.find(name), f"{value!r} is not a decimal number")
        return value

    def counterpart(self) -> str:
        """The cash or unknown other side of a transaction the report gives one party for."""
        report = self.report
        key = f"cash:goaml/{report.rentity_id}/{report.reference}"
        name = f"Cash or unknown counterpart, goAML report {report.reference}"
        self.report.accounts.setdefault(key, AccountRecord(key=key, name=name[:500]))
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
        currency = self.currency(element, "foreign_currency_code", need=True) or ""
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
                continue  # said above, or kept in the details only
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
        if record.source is None and record.target is None:
            self.faults.at(parties, "a transaction needs a party paying or one receiving")
        elif record.source is None or record.target is None:
            # A cash deposit names only the depositor: the other side is cash, or unknown.
            cash = Side(self.counterpart())
            side = PartySide.FROM if record.source is None else PartySide.TO
            record.parties.append({"role": None, "side": side, "account": cash.account})
            record.source, record.target = record.source or cash, record.target or cash

    def transaction(self, tx: Any) -> None:
        record = TransactionRecord(
            element=tx,
            number=self.required(tx, "transactionnumber"),
            internal_ref=text(tx, "internal_ref_number"),
            time="",
            value_date=self.time(tx, "value_date", need=False),
            transmode_code=self.code(tx, "transmode_code", self.profile.transmode_codes, need=True),
            amount=self.decimal(tx, "amount_local"),
            description=text(tx, "transaction_description"),
            location=text(tx, "transaction_location"),
        )
        record.amount = without_zero_places(record.amount, decimals_of(self.report.currency))
        if (written := self.written_time(tx, "date_transaction", need=True)) is not None:
            record.time = written.isoformat()  # the ledger reads it in the profile's zone
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

    def unrepeated(self, transactions: list[Any]) -> list[Any]:
        """Each transaction once: an exact repeat is noted, one with other content is a fault."""
        first: dict[str, tuple[Any, bytes]] = {}
        kept = []
        for tx in transactions:
            number = text(tx, "transactionnumber")
            content = etree.tostring(tx, with_tail=False)
            if number is None or number not in first:
                kept.append(tx)
                if number is not None:
                    first[number] = (tx, content)
                continue
            earlier, earlier_content = first[number]
            where = earlier.getroottree().getpath(earlier)
            if content == earlier_content:
                self.report.repeats += 1
                self.notes.at(
                    tx,
                    f"repeats {where} byte for byte (transactionnumber {number!r}): stored once",
                    "repeat",
                )
            else:
                self.faults.at(
                    tx,
                    f"transactionnumber {number!r} is also at {where} (line {earlier.sourceline}),"
                    " with other content",
                    "conflict",
                )
        return kept

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
        report.currency = self.currency(root, "currency_code_local", need=True) or ""
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
        for tx in self.unrepeated(transactions):
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
