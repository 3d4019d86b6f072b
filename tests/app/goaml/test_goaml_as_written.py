"""goAML as reporting entities write it (issue 22): .NET dates, repeats, one-party cash
deposits, short swift codes, withdrawn currencies, XSD beside our checks, text as written.

The reports are our own, written in the shapes real exports take; no outside file is copied.
"""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.account import service as account_service
from app.goaml.profile import GoamlProfile
from app.party.models import Party
from app.source.models import SourceDocument
from tests.factories import bearer, make_key

HEADER = (
    "<rentity_id>32</rentity_id><submission_code>E</submission_code>"
    "<report_code>CTR</report_code><entity_reference>{ref}</entity_reference>"
    "<submission_date>2023-10-30T00:00:00</submission_date>"
    "<currency_code_local>{currency}</currency_code_local>"
)


def person(first: str, last: str, ssn: str, tag: str = "t_person") -> str:
    return (
        f"<{tag}><first_name>{first}</first_name><last_name>{last}</last_name>"
        "<birthdate>1976-10-06T00:00:00.000000000</birthdate>"
        f"<ssn>{ssn}</ssn><nationality1>LK</nationality1></{tag}>"
    )


def account(number: str, holder: str, swift: str = "DFCCLKLX", tag: str = "to_account") -> str:
    return (
        f"<{tag}><institution_name>DFCC BANK PLC</institution_name><swift>{swift}</swift>"
        f"<account>{number}</account><currency_code>LKR</currency_code>"
        f"<signatory><is_primary>true</is_primary>{holder}<role>ACHLD</role></signatory>"
        f"</{tag}>"
    )


def deposit(
    number: str,
    *,
    depositor: str | None = None,
    to: str | None = None,
    date: str = "2023-10-24T00:00:00.0000000",
    amount: str = "3800000",
) -> str:
    depositor = depositor or person("Anil", "Perera", "123422244V", "from_person")
    to = to or account("900091775834", person("Anil", "Perera", "123422244V"))
    return (
        f"<transaction><transactionnumber>{number}</transactionnumber>"
        "<transaction_location>NARAHENPITA</transaction_location>"
        "<transaction_description>Cash Deposit</transaction_description>"
        f"<date_transaction>{date}</date_transaction>"
        "<value_date>2023-10-24T00:00:00.0000000</value_date>"
        f"<transmode_code>BRCH</transmode_code><amount_local>{amount}</amount_local>"
        f"<t_from_my_client><from_funds_code>CASH</from_funds_code>{depositor}"
        "<from_country>LK</from_country></t_from_my_client>"
        f"<t_to_my_client><to_funds_code>ELEC</to_funds_code>{to}"
        "<to_country>LK</to_country></t_to_my_client></transaction>"
    )


def report(
    *transactions: str, ref: str = "CTR301023", currency: str = "LKR", extra: str = ""
) -> bytes:
    body = "\n  ".join(transactions)
    header = HEADER.format(ref=ref, currency=currency)
    indicators = "<report_indicators><indicator>CTR</indicator></report_indicators>"
    xml = f'<?xml version="1.0"?>\n<report>\n{header}{extra}\n  {body}\n{indicators}</report>'
    return xml.encode()


@pytest.fixture
def key(session: Session) -> dict[str, str]:
    return bearer(make_key(session))


def send(client: TestClient, key: dict[str, str], data: bytes, name: str = "ctr.xml"):
    return client.post(
        "/api/v1/imports/goaml", headers=key, files={"file": (name, data, "application/xml")}
    )


def use_profile(client: TestClient, settings, tmp_path: Path, profile: GoamlProfile) -> None:
    path = tmp_path / "profile.json"
    path.write_text(profile.model_dump_json())
    client.app.state.settings = settings.model_copy(update={"goaml_profile": path})


def count(session: Session, model) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


# -- 1. dates as .NET and SQL Server write them ----------------------------------------------


def test_seven_fraction_digits_are_a_date_and_nine_in_a_birthdate(client, key):
    r = send(client, key, report(deposit("TT1")))
    assert r.status_code == 201, r.text
    assert r.json()["reports"][0]["notes"] == []  # zeros beyond the microsecond lose nothing
    tx = client.get("/api/v1/transactions/goaml:32:TT1", headers=key).json()
    assert tx["value_time"] == "2023-10-24T00:00:00Z"
    person = client.get("/api/v1/accounts/ext:person:ssn:123422244V", headers=key).json()
    party = client.get(f"/api/v1/parties/{person['holders'][0]['party_id']}", headers=key).json()
    assert party["identifiers"]["birthdate"] == "1976-10-06T00:00:00.000000000"


def test_digits_beyond_the_microsecond_are_flagged_when_not_zero(client, key):
    r = send(client, key, report(deposit("TT2", date="2023-10-24T10:15:30.1234567")))
    assert r.status_code == 201, r.text
    (note,) = r.json()["reports"][0]["notes"]
    assert (note["type"], note["path"]) == ("truncated", "/report/transaction/date_transaction")
    assert "(7)" in note["msg"]
    tx = client.get("/api/v1/transactions/goaml:32:TT2", headers=key).json()
    assert tx["value_time"] == "2023-10-24T10:15:30.123456Z"


def test_a_wrong_date_is_named_by_its_goaml_element(client, key, session):
    data = report(
        deposit("TT3", date="2019-09-02 00:00:00"),
        deposit("TT4", date="2023-10-24T00:00:00.1234567890"),
    )
    r = send(client, key, data)
    assert r.status_code == 422
    by_path = {e["path"]: e["msg"] for e in r.json()["errors"]}
    assert by_path["/report/transaction[1]/date_transaction"].startswith(
        "<date_transaction> '2019-09-02 00:00:00' is not an xs:dateTime"
    )
    assert "10 fraction digits" in by_path["/report/transaction[2]/date_transaction"]
    assert not any("value_time" in msg for msg in by_path.values())
    assert count(session, SourceDocument) == 0


def test_a_date_the_ledger_refuses_is_named_by_its_goaml_element(client, key, settings, tmp_path):
    # 02:30 does not exist in Europe/Berlin on 2024-03-31: only the ledger knows the zone rules.
    use_profile(client, settings, tmp_path, GoamlProfile(timezone="Europe/Berlin"))
    r = send(client, key, report(deposit("TT5", date="2024-03-31T02:30:00.0000000")))
    assert r.status_code == 422
    (error,) = r.json()["errors"]
    assert error["path"] == "/report/transaction/date_transaction"
    assert error["msg"].startswith("<date_transaction>: ")


# -- 2. every fault, or say the list was cut -------------------------------------------------


def test_a_cut_fault_list_says_so_and_gives_the_true_count(client, key, settings):
    data = report(*(deposit(f"TT{i}", amount="1,000") for i in range(5)))
    client.app.state.settings = settings.model_copy(update={"error_list_max": 3})
    body = send(client, key, data).json()
    assert (body["error_count"], body["truncated"], len(body["errors"])) == (5, True, 3)
    assert body["detail"].startswith("5 problem(s)")
    client.app.state.settings = settings
    body = send(client, key, data).json()
    assert (body["error_count"], body["truncated"], len(body["errors"])) == (5, False, 5)


def test_a_ledger_refusal_cut_by_the_ledger_keeps_its_true_count(client, key, settings, session):
    # LKR has two decimals: only the ledger refuses a third, and it lists at most two faults.
    data = report(*(deposit(f"TT{i}", amount="1.001") for i in range(3)))
    client.app.state.settings = settings.model_copy(update={"error_list_max": 2})
    body = send(client, key, data).json()
    assert (body["error_count"], body["truncated"], len(body["errors"])) == (3, True, 2)
    assert body["errors"][0]["msg"].startswith("<amount_local>: ")
    assert count(session, SourceDocument) == 0


# -- 3. repeats inside one report --------------------------------------------------------------


def test_a_byte_identical_repeat_is_stored_once_and_reported(client, key, session):
    r = send(client, key, report(deposit("TT6"), deposit("TT7"), deposit("TT6")))
    assert r.status_code == 201, r.text
    (result,) = r.json()["reports"]
    assert (result["transactions"], result["inserted"], result["repeats"]) == (2, 2, 1)
    (note,) = result["notes"]
    assert (note["type"], note["path"]) == ("repeat", "/report/transaction[3]")
    assert "/report/transaction[1]" in note["msg"]
    assert "'TT6'" in note["msg"]


def test_notes_are_cut_like_faults_and_counted(client, key, settings):
    client.app.state.settings = settings.model_copy(update={"error_list_max": 1})
    r = send(client, key, report(deposit("TT16"), deposit("TT16"), deposit("TT16")))
    assert r.status_code == 201, r.text
    (result,) = r.json()["reports"]
    assert (result["repeats"], result["note_count"], len(result["notes"])) == (2, 2, 1)


def test_a_repeat_with_other_content_names_both_positions(client, key, session):
    data = report(deposit("TT8"), deposit("TT8", amount="3800001"))
    r = send(client, key, data)
    assert r.status_code == 422
    (error,) = r.json()["errors"]
    assert (error["path"], error["type"]) == ("/report/transaction[2]", "conflict")
    assert "'TT8'" in error["msg"]
    assert "/report/transaction[1]" in error["msg"]
    assert count(session, SourceDocument) == 0


# -- 4. one identifier, two names --------------------------------------------------------------


def test_two_names_under_one_ssn_are_both_kept_and_linked(client, key, session):
    depositor = person("Hd Kamal", "Silva", "695405584V", "from_person")
    signatory = person("Nimal", "Fernando", "695405584V")
    data = report(deposit("TT9", depositor=depositor, to=account("661TKT96M36514", signatory)))
    r = send(client, key, data)
    assert r.status_code == 201, r.text
    (result,) = r.json()["reports"]
    (note,) = result["notes"]
    assert note["type"] == "conflict"
    assert "'Hd Kamal Silva'" in note["msg"]
    assert "'Nimal Fernando'" in note["msg"]
    names = {
        p.key: p.name for p in session.scalars(select(Party).where(Party.key.like("%695405584V%")))
    }
    second = "person:ssn:695405584V/name:FERNANDO|NIMAL"
    assert names == {"person:ssn:695405584V": "Hd Kamal Silva", second: "Nimal Fernando"}
    account_row = account_service.resolve_account(session, "bank:DFCCLKLX/661TKT96M36514")
    assert [h.party.key for h in account_row.holders] == [second]
    meta = client.get(f"/api/v1/imports/goaml/{result['source_document_id']}", headers=key).json()
    assert meta["party_links"] == [
        {
            "party_key": second,
            "related_party_key": "person:ssn:695405584V",
            "relation": "probable_same_person",
            "role": None,
        }
    ]


def test_a_name_differing_only_in_case_and_spacing_is_one_person(client, key, session):
    depositor = person("ANIL", "PERERA", "123422244V", "from_person")
    r = send(client, key, report(deposit("TT10", depositor=depositor)))
    assert r.status_code == 201, r.text
    assert r.json()["reports"][0]["notes"] == []
    assert count(session, Party) == 1


# -- 5. swift as the schemas define it --------------------------------------------------------


def test_a_swift_that_is_not_a_bic_is_accepted_and_flagged(client, key, session):
    to = account("3103202708", person("Anil", "Perera", "123422244V"), swift="7454")
    r = send(client, key, report(deposit("TT11", to=to)))
    assert r.status_code == 201, r.text
    (note,) = r.json()["reports"][0]["notes"]
    assert (note["type"], note["path"]) == (
        "flag",
        "/report/transaction/t_to_my_client/to_account/swift",
    )
    stored = account_service.resolve_account(session, "bank:7454/3103202708")
    assert (stored.bic, stored.institution) == (None, "DFCC BANK PLC")


def test_a_profile_can_demand_bics_and_twelve_characters_are_refused(
    client, key, settings, tmp_path
):
    holder = person("Anil", "Perera", "123422244V")
    long_swift = send(client, key, report(deposit("TT12", to=account("1", holder, "DFCCLKLX0001"))))
    assert long_swift.status_code == 422
    assert "longer than 11" in long_swift.json()["errors"][0]["msg"]
    use_profile(client, settings, tmp_path, GoamlProfile(require_bic=True))
    r = send(client, key, report(deposit("TT13", to=account("2", holder, "7454"))))
    assert r.status_code == 422
    (error,) = r.json()["errors"]
    assert error["path"].endswith("/to_account/swift")
    assert "'7454' is not a BIC" in error["msg"]


# -- 6. currencies per FIU ---------------------------------------------------------------------


def test_a_withdrawn_currency_is_refused_unless_the_profile_lists_it(
    client, key, settings, tmp_path
):
    data = report(deposit("TT14", amount="30100.0000"), currency="GHC")
    refused = send(client, key, data)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["msg"] == (
        "currency 'GHC' is not in the goaml-5.0.1-generic list for <currency_code_local>"
    )
    use_profile(
        client,
        settings,
        tmp_path,
        GoamlProfile(name="gh", currency_codes=frozenset({"GHC", "LKR"})),
    )
    r = send(client, key, data)
    assert r.status_code == 201, r.text
    tx = client.get("/api/v1/transactions/goaml:32:TT14", headers=key).json()
    assert (tx["amount"], tx["currency"]) == ("30100.00", "GHC")


def test_a_profile_cannot_list_a_currency_without_known_minor_units():
    with pytest.raises(ValidationError, match="without known minor units: XXY"):
        GoamlProfile(currency_codes=frozenset({"XXY", "EUR"}))


# -- 7. multi-party transactions with one party -----------------------------------------------


def multi_party(number: str, role: str) -> str:
    return (
        f"<transaction><transactionnumber>{number}</transactionnumber>"
        "<transaction_location>Kumasi</transaction_location>"
        "<transaction_description>cash deposit</transaction_description>"
        "<date_transaction>2023-04-11T00:00:00</date_transaction><transmode_code>A</transmode_code>"
        "<amount_local>30100.00</amount_local><involved_parties><party>"
        f"<role>{role}</role>"
        "<entity_my_client><name>Kofi Traders</name>"
        "<incorporation_number>CS-1</incorporation_number>"
        "<incorporation_country_code>GH</incorporation_country_code></entity_my_client>"
        "<country>GH</country></party></involved_parties></transaction>"
    )


def test_a_one_party_transaction_has_the_reports_cash_counterpart(client, key):
    data = report(multi_party("MP1", "payer"), multi_party("MP2", "beneficiary"), ref="CTR-GH-7")
    r = send(client, key, data)
    assert r.status_code == 201, r.text
    cash = "cash:goaml/32/CTR-GH-7"
    paid = client.get("/api/v1/transactions/goaml:32:MP1", headers=key).json()
    assert (paid["from_account"], paid["to_account"]) == ("ext:entity:reg:GH:CS-1", cash)
    got = client.get("/api/v1/transactions/goaml:32:MP2", headers=key).json()
    assert (got["from_account"], got["to_account"]) == (cash, "ext:entity:reg:GH:CS-1")
    counterpart = client.get(f"/api/v1/accounts/{cash}", headers=key).json()
    assert (counterpart["kind"], counterpart["name"]) == (
        "cash",
        "Cash or unknown counterpart, goAML report CTR-GH-7",
    )
    meta = client.get(
        f"/api/v1/imports/goaml/{r.json()['reports'][0]['source_document_id']}", headers=key
    ).json()
    details = {t["transactionnumber"]: t["parties"] for t in meta["transactions"]}
    assert details["MP1"][-1] == {"role": None, "side": "to", "account": cash}


def test_a_one_party_transaction_with_no_direction_is_still_refused(client, key):
    r = send(client, key, report(multi_party("MP3", "agent")))
    assert r.status_code == 422
    (error,) = r.json()["errors"]
    assert error["path"] == "/report/transaction/involved_parties"


# -- 8. XSD beside our own checks -------------------------------------------------------------

XSD = """<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <xs:element name="is_primary" fixed="1"><xs:simpleType>
    <xs:restriction base="xs:boolean"/></xs:simpleType></xs:element>
  <xs:element name="report"><xs:complexType><xs:sequence>
    <xs:any processContents="lax" minOccurs="0" maxOccurs="unbounded"/>
  </xs:sequence></xs:complexType></xs:element>
  <xs:element name="rentity_id"><xs:simpleType><xs:restriction base="xs:int">
    <xs:minInclusive value="1"/></xs:restriction></xs:simpleType></xs:element>
  <xs:element name="first_name"><xs:simpleType><xs:restriction base="xs:string">
    <xs:minLength value="2"/></xs:restriction></xs:simpleType></xs:element>
</xs:schema>"""


def test_schema_faults_and_ours_come_together_and_equal_values_are_not_counted(
    client, key, settings, tmp_path, session
):
    xsd = tmp_path / "fiu.xsd"
    xsd.write_text(XSD)
    use_profile(client, settings, tmp_path, GoamlProfile(xsd=xsd))
    ok = send(client, key, report(deposit("X1")))
    assert ok.status_code == 201, ok.text
    notes = ok.json()["reports"][0]["notes"]
    assert {(n["type"], n["path"]) for n in notes} == {
        ("schema_equal_value", "/report/transaction/t_to_my_client/to_account/signatory/is_primary")
    }
    depositor = person("A", "Perera", "123422244V", "from_person")
    r = send(client, key, report(deposit("X2", depositor=depositor, amount="12,5")))
    assert r.status_code == 422
    body = r.json()
    assert {(e["type"], e["path"].rsplit("/", 1)[-1]) for e in body["errors"]} == {
        ("schema", "first_name"),
        ("value_error", "amount_local"),
    }
    assert body["error_count"] == 2
    (not_counted,) = body["not_counted"]
    assert body["not_counted_count"] == 1
    assert "Equal in value as xs:boolean" in not_counted["msg"]
    assert count(session, SourceDocument) == 1


# -- 9. keep what the report says -------------------------------------------------------------


def test_text_is_kept_as_written_inside_its_blanks(client, key, session):
    reason = "Over the threshold:\n  two deposits,  same day."
    extra = f"<reason>  {reason}\n</reason>"
    depositor = person("Hd  Kamal", "Silva", "223422244V", "from_person")
    data = report(deposit("TRN0477  10 FEB 20   ", depositor=depositor), extra=extra)
    r = send(client, key, data)
    assert r.status_code == 201, r.text
    tx = client.get("/api/v1/transactions/goaml:32:TRN0477  10 FEB 20", headers=key)
    assert tx.status_code == 200, tx.text
    meta = client.get(
        f"/api/v1/imports/goaml/{r.json()['reports'][0]['source_document_id']}", headers=key
    ).json()
    assert meta["reason"] == reason
    assert meta["transactions"][0]["transactionnumber"] == "TRN0477  10 FEB 20"
    party = session.scalar(select(Party).where(Party.key == "person:ssn:223422244V"))
    assert party is not None
    assert party.name == "Hd  Kamal Silva"


def test_directors_become_parties_linked_to_their_entity(client, key, session):
    directors = "".join(
        f"<director_id><first_name>{f}</first_name><last_name>{last}</last_name>"
        f"<passport_number>{n}</passport_number><role>{role}</role></director_id>"
        for f, last, n, role in (("Mala", "Dias", "N111", "DIR"), ("Ravi", "Dias", "N222", "CHR"))
    )
    entity = (
        "<from_entity><name>Dias Holdings</name><incorporation_number>PV 1</incorporation_number>"
        f"<incorporation_country_code>LK</incorporation_country_code>{directors}</from_entity>"
    )
    r = send(client, key, report(deposit("TT15", depositor=entity)))
    assert r.status_code == 201, r.text
    assert r.json()["reports"][0]["party_links"] == 2
    meta = client.get(
        f"/api/v1/imports/goaml/{r.json()['reports'][0]['source_document_id']}", headers=key
    ).json()
    assert meta["party_links"] == [
        {
            "party_key": f"person:passport:no-country:{n}",
            "related_party_key": "entity:reg:LK:PV 1",
            "relation": "director",
            "role": role,
        }
        for n, role in (("N111", "DIR"), ("N222", "CHR"))
    ]
    names = set(session.scalars(select(Party.name).where(Party.key.like("person:passport:%"))))
    assert names == {"Mala Dias", "Ravi Dias"}
