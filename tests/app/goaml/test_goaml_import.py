"""goAML reports in over HTTP, read back through the ledger's own routes."""

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.account import service as account_service
from app.goaml.profile import GoamlProfile, PartySide
from app.source.models import SourceDocument
from app.transaction.models import Transaction
from tests.factories import bearer, make_key

SAMPLES = Path(__file__).parent
GOMEZ_IBAN = "iban:ES9121000418450200051332"
MALTA = "bank:OTHRMTMTXXX/MT-ACC-0042"
GOMEZ = "person:id:X1234567L"


def send(client: TestClient, key: dict[str, str], name: str, data: bytes | None = None):
    body = data if data is not None else (SAMPLES / name).read_bytes()
    return client.post(
        "/api/v1/imports/goaml", headers=key, files={"file": (name, body, "application/xml")}
    )


@pytest.fixture
def key(session: Session) -> dict[str, str]:
    return bearer(make_key(session))


def count(session: Session, model) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_bi_party_report_is_stored_with_accounts_parties_and_amounts(client, key, session):
    r = send(client, key, "bi_party_str.xml")
    assert r.status_code == 201, r.text
    (report,) = r.json()["reports"]
    assert report["reference"] == "BANK-STR-2026-0007"
    assert (report["transactions"], report["inserted"], report["already_present"]) == (2, 2, 0)
    # Gomez (person), Gomez Trading SL (entity); accounts: his cash side, the IBAN, Malta.
    assert (report["parties_inserted"], report["accounts_inserted"]) == (2, 3)

    deposit = client.get("/api/v1/transactions/goaml:4711:DEP-1001", headers=key).json()
    assert deposit["from_account"] == f"ext:{GOMEZ}"
    assert deposit["to_account"] == GOMEZ_IBAN
    assert (deposit["amount"], deposit["currency"]) == ("9800.00", "EUR")
    assert deposit["value_time"] == "2026-02-27T10:05:00Z"  # the profile's zone: UTC
    assert deposit["channel"] == "A"
    wire = client.get("/api/v1/transactions/goaml:4711:WIRE-88231", headers=key).json()
    assert (wire["from_account"], wire["to_account"]) == (GOMEZ_IBAN, MALTA)
    assert (wire["amount"], wire["narrative"]) == ("9500.00", "Outgoing SEPA transfer")

    account = client.get(f"/api/v1/accounts/{GOMEZ_IBAN}", headers=key).json()
    assert (account["name"], account["bic"], account["number"]) == (
        "Gomez Trading SL",
        "BEXAESMMXXX",
        "0001234567",
    )
    assert account["institution"] == "Banco Ejemplo"
    holders = {(h["party_key"], h["role"], h["kind"]) for h in account["holders"]}
    assert holders == {
        ("entity:reg:ES:B12345678", "holder", "legal_entity"),
        (GOMEZ, "signatory", "person"),
    }
    # `bank:` keys hold a slash, which the account route cannot take: ask by id.
    malta_id = account_service.resolve_account(session, MALTA).id
    malta = client.get(f"/api/v1/accounts/{malta_id}", headers=key).json()
    assert (malta["kind"], malta["bic"], malta["institution"]) == (
        "bank",
        "OTHRMTMTXXX",
        "Other Bank",
    )
    cash_side = client.get(f"/api/v1/accounts/ext:{GOMEZ}", headers=key).json()
    assert cash_side["name"] == "Luis Gomez"
    (holder,) = cash_side["holders"]
    person = client.get(f"/api/v1/parties/{holder['party_id']}", headers=key).json()
    assert (person["name"], person["country"]) == ("Luis Gomez", "ES")
    assert person["identifiers"]["id_number"] == "X1234567L"

    details = client.get(f"/api/v1/imports/goaml/{report['source_document_id']}", headers=key)
    assert details.status_code == 200
    meta = details.json()
    assert (meta["rentity_id"], meta["report_code"], meta["submission_code"]) == (
        "4711",
        "STR",
        "E",
    )
    assert meta["reported_at"] == "2026-03-02T09:15:00Z"
    assert meta["indicators"] == ["STRUC", "XBORD"]
    assert meta["reason"].startswith("Cash deposits just under")
    by_number = {t["transactionnumber"]: t for t in meta["transactions"]}
    assert by_number["WIRE-88231"]["foreign_currency"] == [
        {"side": "from", "currency": "USD", "amount": "10260.00", "exchange_rate": "1.08"}
    ]
    assert by_number["WIRE-88231"]["conductor_party_id"] == holder["party_id"]
    assert by_number["WIRE-88231"]["from_my_client"] is True
    assert by_number["WIRE-88231"]["value_date"] == "2026-02-28T00:00:00Z"
    assert by_number["DEP-1001"]["to_my_client"] is True
    assert by_number["DEP-1001"]["internal_ref_number"] == "INT-77"
    source = client.get(f"/api/v1/sources/{report['source_document_id']}", headers=key).json()
    assert (source["kind"], source["row_count"], source["inserted"]) == ("goaml_report", 2, 2)


def test_multi_party_report_maps_roles_to_a_direction(client, key):
    r = send(client, key, "multi_party_ctr.xml")
    assert r.status_code == 201, r.text
    (report,) = r.json()["reports"]
    assert report["reference"] == "FIU-2026-000123"
    tx = client.get("/api/v1/transactions/goaml:815:MT-5500", headers=key).json()
    assert tx["from_account"] == "ext:person:ssn:1234010190"
    assert tx["to_account"] == "bank:DSRT001/7788990011"
    assert (tx["amount"], tx["currency"]) == ("4250.50", "EUR")
    meta = client.get(f"/api/v1/imports/goaml/{report['source_document_id']}", headers=key).json()
    (detail,) = meta["transactions"]
    assert [p["role"] for p in detail["parties"]] == ["payer", "agent", "beneficiary"]
    assert detail["parties"][1]["account"] == "ext:entity:reg:AT:FN 123456x"
    assert detail["foreign_currency"] == [
        {"side": "to", "currency": "AED", "amount": "17000.00", "exchange_rate": "3.9995"}
    ]
    assert meta["reported_at"] == "2026-04-10T08:00:00Z"


def test_the_same_report_twice_is_stored_once(client, key, session):
    first = send(client, key, "bi_party_str.xml")
    assert first.status_code == 201
    before = (count(session, Transaction), count(session, SourceDocument))
    again = send(client, key, "bi_party_str.xml")
    assert again.status_code == 200, again.text
    (report,) = again.json()["reports"]
    assert report["replay"] is True
    assert report["source_document_id"] == first.json()["reports"][0]["source_document_id"]
    assert (count(session, Transaction), count(session, SourceDocument)) == before


def test_a_zip_of_reports_is_imported_whole(client, key, session):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name in ("bi_party_str.xml", "multi_party_ctr.xml"):
            z.write(SAMPLES / name, name)
    r = client.post(
        "/api/v1/imports/goaml",
        headers=key,
        files={"file": ("reports.zip", buffer.getvalue(), "application/zip")},
    )
    assert r.status_code == 201, r.text
    assert [x["filename"] for x in r.json()["reports"]] == [
        "bi_party_str.xml",
        "multi_party_ctr.xml",
    ]
    assert count(session, Transaction) == 3


def test_a_malformed_report_is_refused_whole_with_paths_and_lines(client, key, session):
    r = send(client, key, "malformed.xml")
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "goaml_rejected"
    found = {(e["path"], e["line"], e["type"]) for e in body["errors"]}
    assert ("/report/report_code", 6, "code") in found
    assert ("/report/transaction[1]/transactionnumber", 10, "missing") in found
    assert ("/report/transaction[1]/amount_local", 14, "value_error") in found
    assert ("/report/transaction[1]/t_from/from_account/iban", 17, "value_error") in found
    assert ("/report/transaction[1]/t_to", 10, "missing") in found
    assert all(e["file"] == "malformed.xml" for e in body["errors"])
    assert ["report", "transaction", 1, "amount_local"] in [e["loc"] for e in body["errors"]]
    assert count(session, Transaction) == 0
    assert count(session, SourceDocument) == 0


def test_a_ledger_refusal_is_told_in_element_paths(client, key, session):
    data = (SAMPLES / "multi_party_ctr.xml").read_bytes().replace(b"4250.50", b"4250.505")
    r = send(client, key, "too_precise.xml", data)
    assert r.status_code == 422
    (error,) = r.json()["errors"]
    assert error["path"] == "/report/transaction/amount_local"
    assert "decimals" in error["msg"]
    assert count(session, SourceDocument) == 0


# VmHWM (peak resident set) belongs to the process image, so unlike ru_maxrss it does not carry
# over the peak of the pytest process that started the child.
_PARSE_IN_CHILD = """
import re, sys
from pathlib import Path
from app.goaml.xml import Faults, parse
faults = Faults()
data = open(sys.argv[1], "rb").read()
assert parse(data, faults, max_elements=1_000_000, max_depth=32) is None
peak = re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1)
print(faults.items[0]["type"], peak)
"""


def test_billion_laughs_is_refused_without_expanding_its_entities(client, key, session):
    r = send(client, key, "billion_laughs.xml")
    assert r.status_code == 422
    assert r.json()["errors"][0]["type"] == "forbidden_dtd"
    assert count(session, SourceDocument) == 0
    # In a process of its own, so that nothing else moves the peak: expanded, the entities would
    # take about 3 GB; the parser's whole process stays far below that.
    child = subprocess.run(
        [sys.executable, "-c", _PARSE_IN_CHILD, str(SAMPLES / "billion_laughs.xml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    kind, peak_kib = child.stdout.split()
    assert kind == "forbidden_dtd"
    assert int(peak_kib) < 100 * 1024


def test_external_entities_and_broken_xml_are_refused(client, key, session):
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<report>&x;</report>"
    )
    r = send(client, key, "xxe.xml", xxe)
    assert r.status_code == 422
    assert r.json()["errors"][0]["type"] == "forbidden_dtd"
    assert "root:" not in r.text
    r = send(client, key, "broken.xml", b"<report><rentity_id>1</report>")
    assert (r.status_code, r.json()["errors"][0]["line"]) == (422, 1)
    assert count(session, SourceDocument) == 0


def test_a_profile_sets_code_lists_and_the_timezone(client, key, settings, tmp_path):
    profile = GoamlProfile(
        name="fiu-test",
        timezone="Asia/Dubai",
        report_codes=frozenset({"CTR"}),
        transmode_codes=frozenset({"MT"}),
        party_roles={"PAY": PartySide.FROM, "BEN": PartySide.TO, "AGT": PartySide.OTHER},
    )
    path = tmp_path / "profile.json"
    path.write_text(profile.model_dump_json())
    client.app.state.settings = settings.model_copy(update={"goaml_profile": path})
    sample = (SAMPLES / "multi_party_ctr.xml").read_bytes()
    refused = send(client, key, "multi_party_ctr.xml", sample).json()
    assert {(e["path"], e["type"]) for e in refused["errors"]} == {
        *((f"/report/transaction/involved_parties/party[{i}]/role", "code") for i in (1, 2, 3)),
        ("/report/transaction/involved_parties", "value_error"),
    }
    assert "fiu-test" in refused["errors"][0]["msg"]
    bi = send(client, key, "bi_party_str.xml").json()
    assert {e["path"] for e in bi["errors"]} == {
        "/report/report_code",
        "/report/transaction[1]/transmode_code",
        "/report/transaction[2]/transmode_code",
    }
    renamed = sample.replace(b"<role>payer</role>", b"<role>PAY</role>")
    renamed = renamed.replace(b"<role>beneficiary</role>", b"<role>BEN</role>")
    two_payers = renamed.replace(b"<role>agent</role>", b"<role>PAY</role>")
    r = send(client, key, "two-payers.xml", two_payers).json()
    assert [e["path"] for e in r["errors"]] == ["/report/transaction/involved_parties/party[2]"]
    ok = send(
        client, key, "renamed.xml", renamed.replace(b"<role>agent</role>", b"<role>AGT</role>")
    )
    assert ok.status_code == 201, ok.text
    tx = client.get("/api/v1/transactions/goaml:815:MT-5500", headers=key).json()
    assert tx["value_time"] == "2026-04-09T19:30:00Z"  # 23:30 in Dubai
    document = ok.json()["reports"][0]["source_document_id"]
    meta = client.get(f"/api/v1/imports/goaml/{document}", headers=key).json()
    assert (meta["profile"], meta["timezone"]) == ("fiu-test", "Asia/Dubai")
    assert meta["reported_at"] == "2026-04-10T04:00:00Z"


def test_one_bad_report_in_a_zip_refuses_the_whole_zip(client, key, session):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name in ("bi_party_str.xml", "malformed.xml"):
            z.write(SAMPLES / name, f"reports/{name}")
    r = client.post(
        "/api/v1/imports/goaml",
        headers=key,
        files={"file": ("reports.zip", buffer.getvalue(), "application/zip")},
    )
    assert r.status_code == 422
    assert {e["file"] for e in r.json()["errors"]} == {"reports/malformed.xml"}
    assert count(session, Transaction) == 0
    assert count(session, SourceDocument) == 0


ACTIVITY = b"""<report>
  <rentity_id>4711</rentity_id><submission_code>M</submission_code><report_code>SAR</report_code>
  <entity_reference>SAR-2026-3</entity_reference><report_date>2026-05-01T12:00:00</report_date>
  <currency_code_local>EUR</currency_code_local>
  <activity><report_parties>
    <report_party><entity><name>Shell Holdings Ltd</name>
      <incorporation_number>C-77</incorporation_number>
      <incorporation_country_code>CY</incorporation_country_code></entity></report_party>
    <report_party><account><swift>BEXAESMMXXX</swift><account>555</account>
      <signatory><is_primary>true</is_primary><t_person><first_name>Ana</first_name>
      <last_name>Sol</last_name><ssn>99</ssn></t_person></signatory></account></report_party>
  </report_parties></activity>
  <report_indicators><indicator>SHELL</indicator></report_indicators>
</report>"""


def test_an_activity_report_stores_parties_and_accounts_only(client, key, session):
    r = send(client, key, "activity.xml", ACTIVITY)
    assert r.status_code == 201, r.text
    (report,) = r.json()["reports"]
    assert (report["transactions"], report["parties_inserted"], report["accounts_inserted"]) == (
        0,
        2,
        2,  # the shell company stands as an `ext:` account, the bank account as itself
    )
    assert count(session, Transaction) == 0
    account = account_service.resolve_account(session, "bank:BEXAESMMXXX/555")
    assert [(h.party.key, h.role) for h in account.holders] == [("person:ssn:99", "holder")]
    assert send(client, key, "activity.xml", ACTIVITY).status_code == 200  # a replay


def test_a_zip_that_unpacks_far_beyond_its_packed_size_is_refused_before_reading(
    client, key, settings, session
):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("big.xml", b"<report>" + b" " * 5_000_000 + b"</report>")
    assert len(buffer.getvalue()) < 100_000  # it packs small
    r = client.post(
        "/api/v1/imports/goaml",
        headers=key,
        files={"file": ("bomb.zip", buffer.getvalue(), "application/zip")},
    )
    assert (r.status_code, r.json()["code"]) == (413, "limit_exceeded")
    assert r.json()["setting"] == "MONEYTRAIL_ZIP_MAX_RATIO"
    assert count(session, SourceDocument) == 0


def test_the_same_report_in_other_bytes_is_a_replay_too(client, key, session):
    first = send(client, key, "bi_party_str.xml").json()["reports"][0]
    before = (count(session, Transaction), count(session, SourceDocument))
    reformatted = (SAMPLES / "bi_party_str.xml").read_bytes().replace(b"  ", b"\t")
    again = send(client, key, "resent.xml", reformatted)
    assert again.status_code == 200, again.text
    (report,) = again.json()["reports"]
    assert (report["replay"], report["source_document_id"]) == (True, first["source_document_id"])
    assert (count(session, Transaction), count(session, SourceDocument)) == before
    # A report that brings one new transaction is stored, with the known one counted as present.
    more = reformatted.replace(b"WIRE-88231", b"WIRE-88232")
    stored = send(client, key, "more.xml", more).json()["reports"][0]
    assert (stored["replay"], stored["inserted"], stored["already_present"]) == (False, 1, 1)


def test_values_longer_than_what_is_kept_are_refused_not_cut(client, key, session):
    data = (SAMPLES / "bi_party_str.xml").read_bytes()
    data = data.replace(
        b"<transmode_code>K</transmode_code>",
        b"<transmode_code>" + b"K" * 21 + b"</transmode_code>",
    )
    data = data.replace(b"<name>Gomez Trading SL</name>", b"<name>" + b"G" * 501 + b"</name>")
    r = send(client, key, "long.xml", data)
    assert r.status_code == 422, r.text
    paths = {e["path"]: e["msg"] for e in r.json()["errors"]}
    assert "longer than 20" in paths["/report/transaction[2]/transmode_code"]
    assert "at most 500" in paths["/report/transaction[1]/t_to_my_client/to_account/t_entity"]
    assert count(session, SourceDocument) == 0
