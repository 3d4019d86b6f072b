"""Blind convergence (issue 19): a key of my case that a case I cannot see holds too is told to
me as a blind match, and, when my case brought it second, to the other case's lead as a
notification naming my case.

Documents are filed into a case by setting `SourceDocument.case_id` in the test's session and
indexing them as an admin's refiling does, until the filing API lands (helper `compart`).
"""

import os
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.apikey import service as apikey_service
from app.cli import main
from app.matching import secret as match_secret
from app.matching import service as matching
from app.matching.secret import MATCH_KEY, MatchKey, MatchKeyUnusable
from app.principal import Role
from app.settings import get_settings
from app.source.models import SourceDocument
from tests.app.casework import Api, criminal_case
from tests.factories import BTC, DE, FR, batch, bearer, make_key, tx

NUMBER = "DE89370400440532013000"


class Person:
    def __init__(self, client: TestClient, session: Session, role: Role, name: str) -> None:
        key, secret = apikey_service.create_key(session, name=name, role=role, created_by=None)
        self.id, self.api = key.id, Api(client, bearer(secret))

    def enrol(self, case_id: int, member: "Person") -> None:
        """As the case's lead, put `member` on it as an analyst."""
        body = {"api_key_id": member.id, "role": "analyst"}
        url = f"/api/v1/cases/{case_id}/members"
        self.api.client.put(url, json=body, headers=self.api.key).raise_for_status()


def file_into(session: Session, document_id: str, case_id: int | None) -> int:
    """What an admin's refiling does: the document's compartment, then its index."""
    document = session.get(SourceDocument, document_id)
    assert document is not None
    document.case_id = case_id
    made = matching.index_document(session, document_id)
    session.commit()
    return made


@pytest.fixture
def world(client: TestClient, session: Session) -> dict[str, Any]:
    admin = Api(client, bearer(make_key(session)))
    lead_a = Person(client, session, Role.INVESTIGATOR, "Lead of A")
    lead_b = Person(client, session, Role.INVESTIGATOR, "Lead of B")
    member_b = Person(client, session, Role.ANALYST, "Analyst on B")
    both = Person(client, session, Role.ANALYST, "Analyst on A and B")
    a = lead_a.api.post("/api/v1/cases", criminal_case("SECRET-A-77", title="Operation Kingfisher"))
    b = lead_b.api.post("/api/v1/cases", criminal_case("CASE-B-12", title="Harbour fraud"))
    for lead, case, who in ((lead_a, a, both), (lead_b, b, both), (lead_b, b, member_b)):
        lead.enrol(case["id"], who)
    # Case A's bank records: DE paid FR. Case B's: DE paid a wallet. DE is in both.
    doc_a = admin.post("/api/v1/transactions/batch", batch(tx("A-1", DE, FR, "9000.00")))
    doc_b = admin.post("/api/v1/transactions/batch", batch(tx("B-1", DE, BTC, "120.00")))
    made_a = file_into(session, doc_a["source_document_id"], a["id"])
    made_b = file_into(session, doc_b["source_document_id"], b["id"])
    return {
        "admin": admin,
        "lead_a": lead_a,
        "lead_b": lead_b,
        "member_b": member_b,
        "both": both,
        "a": a,
        "b": b,
        "doc_a": doc_a["source_document_id"],
        "doc_b": doc_b["source_document_id"],
        "made": (made_a, made_b),
    }


def test_a_member_of_b_sees_a_blind_match_and_nothing_of_a(world: dict[str, Any]) -> None:
    r = world["member_b"].api.client.get("/api/v1/convergence", headers=world["member_b"].api.key)
    assert r.status_code == 200, r.text
    (entry,) = r.json()["items"]
    assert entry["blind"] is True
    assert (entry["entity"], entry["key"]) == ("account", DE)
    assert (entry["matched_on"], entry["matched_key"]) == ("account", DE)
    assert [(c["reference"], c["roles"]) for c in entry["cases"]] == [
        ("CASE-B-12", ["in_evidence"])
    ]
    assert entry["contacts"] == []
    assert (entry["name"], entry["same_as"]) == (None, [])
    # Nothing of A: not its reference, title, id, lead, nor the account only A's records hold.
    for secret in ("SECRET-A-77", "Kingfisher", "Lead of A", FR, "9000"):
        assert secret not in r.text
    assert f'"case_id":{world["a"]["id"]}' not in r.text.replace(" ", "")


def test_only_the_case_that_held_the_key_first_is_notified_naming_the_newcomer(
    world: dict[str, Any], session: Session
) -> None:
    assert world["made"] == (0, 1)  # A's document matched nothing yet; B's told A's lead
    (to_a,) = world["lead_a"].api.get("/api/v1/notifications")["items"]
    assert to_a["case"] == {"case_id": world["a"]["id"], "reference": "SECRET-A-77"}
    assert to_a["other_case"] == {"case_id": world["b"]["id"], "reference": "CASE-B-12"}
    assert (to_a["matched_on"], to_a["matched_key"], to_a["decision"]) == ("account", DE, None)
    # B's lead, whose case came second, learns only that a match exists: never A's reference.
    r = world["lead_b"].api.client.get("/api/v1/notifications", headers=world["lead_b"].api.key)
    assert (r.status_code, r.json()["items"]) == (200, [])
    (blind,) = world["lead_b"].api.get("/api/v1/convergence")["items"]
    assert blind["blind"] is True
    assert "SECRET-A-77" not in r.text + str(blind)
    # Members who do not lead a case get none; indexing again, from either side, notifies
    # nobody twice (a pair of cases and a key is told once, whichever side was told).
    assert world["member_b"].api.get("/api/v1/notifications")["items"] == []
    assert world["both"].api.get("/api/v1/notifications")["items"] == []
    assert file_into(session, world["doc_b"], world["b"]["id"]) == 0
    assert file_into(session, world["doc_a"], world["a"]["id"]) == 0
    assert len(world["lead_a"].api.get("/api/v1/notifications")["items"]) == 1
    assert world["lead_b"].api.get("/api/v1/notifications")["items"] == []


def test_a_member_of_both_cases_sees_a_visible_match(world: dict[str, Any]) -> None:
    (entry,) = world["both"].api.get("/api/v1/convergence")["items"]
    assert entry["blind"] is False
    assert (entry["entity"], entry["key"]) == ("account", DE)
    assert [(c["reference"], c["roles"]) for c in entry["cases"]] == [
        ("SECRET-A-77", ["in_evidence"]),
        ("CASE-B-12", ["in_evidence"]),
    ]
    # Admins see every compartment: visible, never blind.
    assert [i["blind"] for i in world["admin"].get("/api/v1/convergence")["items"]] == [False]


def test_the_lead_decides_and_the_other_side_learns_only_the_contact(
    world: dict[str, Any], session: Session, audited: list[dict[str, Any]]
) -> None:
    lead_a, lead_b, member_b = world["lead_a"], world["lead_b"], world["member_b"]
    (to_a,) = lead_a.api.get("/api/v1/notifications")["items"]
    url = f"/api/v1/notifications/{to_a['id']}/decision"
    # Not theirs (B's lead answering A's): as if it did not exist.
    refused = lead_b.api.client.post(url, json={"decision": "contact"}, headers=lead_b.api.key)
    assert refused.status_code == 404, refused.text
    assert refused.json()["code"] == "notification_not_found"
    assert member_b.api.get("/api/v1/convergence")["items"][0]["contacts"] == []
    decided = lead_a.api.client.post(
        url, json={"decision": "contact", "note": "ext. 4711"}, headers=lead_a.api.key
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["decision"] == "contact"
    again = lead_a.api.client.post(url, json={"decision": "decline"}, headers=lead_a.api.key)
    assert (again.status_code, again.json()["code"]) == (409, "notification_decided")
    contact = {"api_key_id": lead_a.id, "name": "Lead of A", "note": "ext. 4711"}
    (entry,) = member_b.api.get("/api/v1/convergence")["items"]
    assert entry["contacts"] == [contact]
    assert "SECRET-A-77" not in str(entry)
    # Every answer is audited, who gave it and on which notification.
    answers = [(e["key_id"], e["outcome"]) for e in audited if e["path"] == url]
    assert answers == [(lead_b.id, 404), (lead_a.id, 200), (lead_a.id, 409)]


def test_the_shared_pool_makes_no_blind_match(world: dict[str, Any], session: Session) -> None:
    # A shared-pool document with A's other account: visible to all, no row, no match.
    shared = world["admin"].post("/api/v1/transactions/batch", batch(tx("S-1", FR, BTC, "5.00")))
    assert file_into(session, shared["source_document_id"], None) == 0
    items = world["member_b"].api.get("/api/v1/convergence")["items"]
    assert [(i["key"], i["blind"]) for i in items] == [(DE, True)]
    # Refiling A's document into the shared pool ends the blind match: nothing hidden remains.
    file_into(session, world["doc_a"], None)
    assert world["member_b"].api.get("/api/v1/convergence")["items"] == []


PARTIES_A = {
    "source": {"kind": "bank_production", "reference": "PO-A"},
    "parties": [
        {
            "key": "person:a-anna",
            "kind": "person",
            "name": "Anna Bergström",
            "identifiers": {"national_id": "L01X00T47"},
        }
    ],
    "accounts": [],
}
PARTIES_B = {
    "source": {"kind": "bank_production", "reference": "PO-B"},
    "parties": [
        {
            "key": "person:b-anna",
            "kind": "person",
            "name": "BERGSTROM, anna",
            "identifiers": {"national_id": "l01-x00-t47", "birth_date": "1980-01-01"},
        }
    ],
    "accounts": [],
}


def test_parties_match_on_identity_numbers_and_names(
    world: dict[str, Any], session: Session
) -> None:
    admin = world["admin"]
    doc_a = admin.post("/api/v1/accounts/batch", PARTIES_A)["source_document_id"]
    doc_b = admin.post("/api/v1/accounts/batch", PARTIES_B)["source_document_id"]
    file_into(session, doc_a, world["a"]["id"])
    assert file_into(session, doc_b, world["b"]["id"]) == 2  # two keys, told to A's lead
    items = world["member_b"].api.get("/api/v1/convergence")["items"]
    found = {(i["matched_on"], i["matched_key"], i["key"]) for i in items}
    assert found == {
        ("account", DE, DE),
        ("identifier", "national_id:L01X00T47", "person:b-anna"),
        ("name", "anna bergstrom", "person:b-anna"),
    }
    assert "person:a-anna" not in str(items)
    keys = {
        (n["matched_on"], n["matched_key"])
        for n in world["lead_a"].api.get("/api/v1/notifications")["items"]
    }
    assert keys == {
        ("account", DE),
        ("identifier", "national_id:L01X00T47"),
        ("name", "anna bergstrom"),
    }
    # A third case, C, holds DE and B's wallet: to a member of A and B, three visible matches,
    # then two blind ones; pages of one item walk through all five in that order.
    c = world["lead_a"].api.post("/api/v1/cases", criminal_case("SECRET-C-3"))["id"]
    doc_c = admin.post("/api/v1/transactions/batch", batch(tx("C-1", BTC, DE, "3.00")))
    file_into(session, doc_c["source_document_id"], c)
    walked, cursor = [], None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = world["both"].api.get("/api/v1/convergence", **params)
        walked += page["items"]
        if (cursor := page["next_cursor"]) is None:
            break
    assert [(i["blind"], i["matched_key"]) for i in walked] == [
        (False, None),
        (False, None),
        (False, None),
        (True, BTC),
        (True, DE),
    ]
    assert "SECRET-C-3" not in str(walked)


def test_the_match_tables_hold_nothing_readable(world: dict[str, Any], session: Session) -> None:
    admin = world["admin"]
    doc_a = admin.post("/api/v1/accounts/batch", PARTIES_A)["source_document_id"]
    doc_b = admin.post("/api/v1/accounts/batch", PARTIES_B)["source_document_id"]
    file_into(session, doc_a, world["a"]["id"])
    file_into(session, doc_b, world["b"]["id"])
    rows = [
        " ".join(str(v) for v in row).lower()
        for table in ("match_keys", "match_notifications")
        for row in session.execute(text(f"SELECT * FROM {table}"))
    ]
    # Digests: DE and FR in A's records, DE and BTC in B's, an identity number and a name in
    # each case's parties; notifications: three shared keys, told to A's lead.
    assert len(rows) == 2 + 2 + 2 + 2 + 3
    forms = [
        NUMBER,
        "de89 3704 0044 0532 0130 00",
        "iban",
        "fr1420041010050500013m02606",
        "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
        "anna",
        "berg",
        "l01x00t47",
        "l01-x00-t47",
        "national_id",
        "person:",
    ]
    for row in rows:
        for form in forms:
            assert form.lower() not in row, (form, row)


def test_reindex_fills_the_table_for_documents_filed_before_it(
    client: TestClient, session: Session
) -> None:
    admin = Api(client, bearer(make_key(session)))
    lead = Api(client, bearer(make_key(session, Role.INVESTIGATOR)))
    a = lead.post("/api/v1/cases", criminal_case("OLD-A"))["id"]
    b = lead.post("/api/v1/cases", criminal_case("OLD-B"))["id"]
    for ref, case in (("O-1", a), ("O-2", b)):
        doc = admin.post("/api/v1/transactions/batch", batch(tx(ref, DE, FR, "1.00")))
        document = session.get(SourceDocument, doc["source_document_id"])
        assert document is not None
        document.case_id = case  # filed without indexing, as before this table existed
    session.commit()
    assert session.execute(text("SELECT count(*) FROM match_keys")).scalar_one() == 0
    assert matching.reindex(session) == (2, 2)  # DE and FR in both cases, told to the first
    assert session.execute(text("SELECT count(*) FROM match_keys")).scalar_one() == 4
    assert matching.reindex(session) == (2, 0)


def test_reindex_under_a_new_secret_tells_nobody_twice(
    world: dict[str, Any], session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    lead_a, member_b = world["lead_a"], world["member_b"]
    (told,) = lead_a.api.get("/api/v1/notifications")["items"]
    url = f"/api/v1/notifications/{told['id']}/decision"
    lead_a.api.post(url, {"decision": "contact", "note": "ext. 4711"}, status=200)
    before = session.execute(text("SELECT digest FROM match_keys")).scalars().all()
    monkeypatch.setattr(MATCH_KEY, "_given", SecretStr("a new secret of 32 characters..."))
    monkeypatch.setattr(MATCH_KEY, "_key", None)
    assert matching.reindex(session) == (2, 0)
    after = session.execute(text("SELECT digest FROM match_keys")).scalars().all()
    assert not set(before) & set(after)  # every digest changed with the secret
    # The notification made under the old secret is the same one, with its key and answer.
    (again,) = lead_a.api.get("/api/v1/notifications")["items"]
    assert (again["id"], again["matched_key"], again["decision"]) == (told["id"], DE, "contact")
    assert world["lead_b"].api.get("/api/v1/notifications")["items"] == []
    (entry,) = member_b.api.get("/api/v1/convergence")["items"]
    assert [c["name"] for c in entry["contacts"]] == ["Lead of A"]
    assert matching.reindex(session) == (2, 0)


def test_the_secret_file_appears_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "match-key"
    seen_while_writing: list[bool] = []
    fsync = os.fsync

    def watched(fd: int) -> None:  # the secret is written, not yet in place
        seen_while_writing.append(path.exists())
        fsync(fd)

    monkeypatch.setattr(os, "fsync", watched)
    made = MatchKey()
    made.configure(key=None, path=path)
    digest = made.digest("account", DE)
    # Another process never finds the file half-written: it appears once whole, linked in
    # (then its directory is synced, so the name survives a crash).
    assert seen_while_writing == [False, True]
    assert [p.name for p in tmp_path.iterdir()] == ["match-key"]  # no temporary file left
    assert len(path.read_text()) == 64
    assert path.stat().st_mode & 0o777 == 0o600
    # A second maker that lost the race keeps the file it finds, not its own secret.
    match_secret._create(path)
    again = MatchKey()
    again.configure(key=None, path=path)
    assert again.digest("account", DE) == digest


def test_without_hard_links_the_secret_file_is_made_by_an_exclusive_create(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(src: str, dst: str) -> None:
        raise PermissionError(1, "Operation not permitted")  # SMB, some FUSE mounts

    monkeypatch.setattr(os, "link", no_links)
    path = tmp_path / "match-key"
    made = MatchKey()
    made.configure(key=None, path=path)
    digest = made.digest("account", DE)
    assert [p.name for p in tmp_path.iterdir()] == ["match-key"]
    assert len(path.read_text()) == 64
    assert path.stat().st_mode & 0o777 == 0o600
    match_secret._create(path)  # a second maker keeps the file it finds
    again = MatchKey()
    again.configure(key=None, path=path)
    assert again.digest("account", DE) == digest


def test_the_cli_rebuilds_the_match_table(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("MONEYTRAIL_DATABASE_URL", f"sqlite:///{tmp_path}/cli.db")
    monkeypatch.setenv("MONEYTRAIL_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        assert main(["db", "upgrade"]) == 0
        assert main(["convergence", "reindex"]) == 0
    finally:
        get_settings.cache_clear()
    assert "match table rebuilt from 0 document(s)" in capsys.readouterr().out


def test_digests_are_keyed_by_the_server_secret(tmp_path: Path) -> None:
    made = MatchKey()
    made.configure(key=None, path=tmp_path / "match-key")
    digest = made.digest("account", DE)
    assert (tmp_path / "match-key").stat().st_mode & 0o777 == 0o600
    again = MatchKey()
    again.configure(key=None, path=tmp_path / "match-key")
    assert again.digest("account", DE) == digest  # the file made once is the key kept
    other = MatchKey()
    other.configure(key=SecretStr("x" * 32), path=tmp_path / "unused")
    assert other.digest("account", DE) != digest
    assert re.fullmatch("[0-9a-f]{64}", digest)
    short = MatchKey()
    short.configure(key=SecretStr("too short"), path=tmp_path / "unused")
    with pytest.raises(MatchKeyUnusable):
        short.digest("account", DE)


def test_an_admins_refiling_through_the_api_moves_what_blind_convergence_matches(
    world: dict[str, Any],
) -> None:
    # A third document, loaded into the shared pool, names an account of case A's: no match yet.
    admin = world["admin"]
    shared = admin.post("/api/v1/transactions/batch", batch(tx("S-1", FR, BTC, "50.00")))
    assert world["member_b"].api.get("/api/v1/convergence")["items"][0]["key"] == DE
    # Filed into case B by the admin's refiling, FR (held by A) becomes a blind match for B.
    url = f"/api/v1/sources/{shared['source_document_id']}/compartment"
    admin.post(url, {"case_id": world["b"]["id"], "reason": "production order"}, status=200)
    keys = sorted(e["key"] for e in world["member_b"].api.get("/api/v1/convergence")["items"])
    assert keys == [DE, FR]
    to_a = world["lead_a"].api.get("/api/v1/notifications")["items"]
    assert sorted(n["matched_key"] for n in to_a) == [DE, FR]
    # Filed back into the shared pool: FR is everyone's again and no longer a blind match.
    admin.post(url, {"case_id": None, "reason": "filed in error"}, status=200)
    keys = [e["key"] for e in world["member_b"].api.get("/api/v1/convergence")["items"]]
    assert keys == [DE]
