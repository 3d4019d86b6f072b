import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.principal import Role
from app.search import repository
from tests.app.access.compartment_world import CASE_A, source
from tests.factories import DE, FR, batch, bearer, make_key, tx

GB = "iban:GB29NWBK60161331926819"
PEOPLE = {
    "source": {"kind": "bank_production", "reference": "PO-SEARCH"},
    "parties": [
        {"key": "person:petrov", "kind": "person", "name": "Владимир Петров", "country": "RU"},
        {"key": "person:tsipras", "kind": "person", "name": "Αλέξης Τσίπρας", "country": "GR"},
        {"key": "person:salman", "kind": "person", "name": "سلمان العلي", "country": "AE"},
        {"key": "person:mueller", "kind": "person", "name": "Jürgen Müller", "country": "DE"},
        {"key": "company:acme", "kind": "legal_entity", "name": "Acme Trading GmbH"},
    ],
    "accounts": [
        {"key": DE, "institution": "Commerzbank", "holders": [{"party": "person:mueller"}]},
        {"key": GB, "institution": "NatWest", "holders": [{"party": "person:petrov"}]},
    ],
}


def _load(client: TestClient, key: dict[str, str]) -> None:
    r = client.post("/api/v1/accounts/batch", json=PEOPLE, headers=key)
    assert r.status_code == 201, r.text
    rows = batch(
        tx("INV-2026-0042", DE, FR, "1500.00", narrative="Rechnung Übersee Logistik"),
        tx("INV-2026-0043", FR, GB, "99.00", narrative="consulting fee march"),
        tx("WIRE-77", GB, DE, "12.50", narrative="loan repayment"),
    )
    r = client.post("/api/v1/transactions/batch", json=rows, headers=key)
    assert r.status_code == 201, r.text


def _search(client: TestClient, key: dict[str, str], q: str, kind: str = "party", **params):
    r = client.get("/api/v1/search", params={"q": q, "kind": kind, **params}, headers=key)
    assert r.status_code == 200, r.text
    return r.json()


def _keys(page) -> list[str]:
    return [h["key"] for h in page["items"]]


def test_names_match_across_scripts_case_accents_and_order(
    client: TestClient, session: Session
) -> None:
    key = bearer(make_key(session))
    _load(client, key)
    assert _keys(_search(client, key, "vladimir petrov")) == ["person:petrov"]
    assert _keys(_search(client, key, "PETROV Vladimir")) == ["person:petrov"]
    assert _keys(_search(client, key, "Alexis Tsipras")) == ["person:tsipras"]
    assert _keys(_search(client, key, "salman")) == ["person:salman"]
    assert _keys(_search(client, key, "jurgen muller")) == ["person:mueller"]
    assert _keys(_search(client, key, "Müller")) == ["person:mueller"]
    # A prefix finds the name; a word no name holds finds nothing.
    assert _keys(_search(client, key, "acme trad")) == ["company:acme"]
    assert _search(client, key, "vladimir smith")["items"] == []
    hit = _search(client, key, "petrov")["items"][0]
    assert (hit["name"], hit["detail"], hit["linked_party_ids"]) == (
        "Владимир Петров",
        "person, RU",
        [],
    )


def test_accounts_by_key_institution_and_holder(client: TestClient, session: Session) -> None:
    key = bearer(make_key(session))
    _load(client, key)
    assert _keys(_search(client, key, "DE89 3704 0044", "account")) == [DE]
    assert _keys(_search(client, key, "0532013000", "account")) == [DE]
    assert _keys(_search(client, key, "natwest", "account")) == [GB]
    # By the holder's name, in another script than the one stored.
    found = _search(client, key, "vladimir petrov", "account")["items"]
    assert [(h["key"], h["name"]) for h in found] == [(GB, "Владимир Петров")]
    assert found[0]["detail"] == "NatWest; held by Владимир Петров"


def test_transactions_by_external_id_and_narrative(client: TestClient, session: Session) -> None:
    key = bearer(make_key(session))
    _load(client, key)
    assert _keys(_search(client, key, "INV-2026-0042", "transaction")) == ["INV-2026-0042"]
    assert sorted(_keys(_search(client, key, "inv 2026", "transaction"))) == [
        "INV-2026-0042",
        "INV-2026-0043",
    ]
    hit = _search(client, key, "repayment loan", "transaction")["items"][0]
    assert (hit["key"], hit["detail"]) == ("WIRE-77", f"12.50 EUR {GB} → {DE}")
    assert _keys(_search(client, key, "Übersee", "transaction")) == ["INV-2026-0042"]


def test_results_are_paged_best_first(client: TestClient, session: Session) -> None:
    key = bearer(make_key(session))
    parties = [
        {"key": f"person:berg-{i}", "kind": "person", "name": f"Anna Berg {i:02d}"}
        for i in range(5)
    ]
    parties.append({"key": "person:berg", "kind": "person", "name": "Anna Berg"})
    body = {"source": {"kind": "register", "reference": "R-1"}, "parties": parties}
    assert client.post("/api/v1/accounts/batch", json=body, headers=key).status_code == 201
    first = _search(client, key, "anna berg", limit=4)
    # The name that is nothing but the words asked for ranks first.
    assert _keys(first)[0] == "person:berg"
    assert len(first["items"]) == 4
    assert first["next_cursor"]
    second = _search(client, key, "anna berg", limit=4, cursor=first["next_cursor"])
    assert len(second["items"]) == 2
    assert second["next_cursor"] is None
    assert sorted(_keys(first) + _keys(second)) == sorted(p["key"] for p in parties)


def test_transactions_rank_by_the_words_they_hold_and_page(
    client: TestClient, session: Session
) -> None:
    key = bearer(make_key(session))
    _load(client, key)
    rows = batch(
        tx("LN-1", DE, FR, "10.00", narrative="loan for the purchase of a boat in march"),
        tx("LN-2", DE, FR, "11.00", narrative="loan loan"),
        tx("LN-3", DE, FR, "12.00", narrative="loan"),
        tx("LN-5", DE, FR, "14.00", narrative="a loan for a boat"),
        tx("LN-4", DE, FR, "13.00", narrative="rent"),
    )
    assert client.post("/api/v1/transactions/batch", json=rows, headers=key).status_code == 201
    # The word twice beats once in as short a text; a short text beats a long one.
    ranked = _keys(_search(client, key, "loan", "transaction"))
    assert ranked[:2] == ["LN-2", "LN-3"]
    assert set(ranked) == {"LN-1", "LN-2", "LN-3", "LN-5", "WIRE-77"}
    assert ranked.index("LN-5") < ranked.index("LN-1")
    first = _search(client, key, "loan", "transaction", limit=3)
    assert _keys(first) == ranked[:3]
    rest = _search(client, key, "loan", "transaction", limit=3, cursor=first["next_cursor"])
    assert (_keys(rest), rest["next_cursor"]) == (ranked[3:], None)
    # Every word must be there; a prefix of three letters or more is a word's beginning.
    assert _keys(_search(client, key, "loan boat", "transaction")) == ["LN-5", "LN-1"]
    assert set(_keys(_search(client, key, "repay", "transaction"))) == {"WIRE-77"}


def test_search_needs_ledger_read_and_words(client: TestClient, session: Session) -> None:
    ingest = bearer(make_key(session, Role.INGEST))
    r = client.get("/api/v1/search", params={"q": "petrov"}, headers=ingest)
    assert r.status_code == 403
    analyst = bearer(make_key(session, Role.ANALYST))
    r = client.get("/api/v1/search", params={"q": "--"}, headers=analyst)
    assert r.status_code == 422
    assert r.json()["field"] == "q"
    r = client.get("/api/v1/search", params={"q": "x", "kind": "asset"}, headers=analyst)
    assert r.status_code == 422


def test_a_whole_key_or_external_id_is_that_record_alone(
    client: TestClient, session: Session
) -> None:
    key = bearer(make_key(session))
    _load(client, key)
    assert _keys(_search(client, key, "iban:DE89 3704 0044 0532 0130 00", "account")) == [DE]
    found = _search(client, key, "WIRE-77", "transaction")
    assert (_keys(found), found["next_cursor"]) == (["WIRE-77"], None)


def test_the_search_indexes_survive_the_migrations(session: Session) -> None:
    # A later migration that rebuilds parties or accounts on SQLite (batch mode) drops their
    # triggers with the old table: the search would then silently miss new rows.
    if session.get_bind().dialect.name == "sqlite":
        found = session.execute(
            text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'search_%'")
        ).scalars()
        assert sorted(found) == [
            "search_accounts_ad",
            "search_accounts_ai",
            "search_accounts_au",
            "search_parties_ad",
            "search_parties_ai",
            "search_parties_au",
            "search_transactions_ad",
            "search_transactions_au",
        ]
    else:
        found = session.execute(
            text("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'ix_search_%'")
        ).scalars()
        assert sorted(found) == [
            "ix_search_accounts",
            "ix_search_parties",
            "ix_search_transactions",
        ]


def test_ranking_is_over_a_bounded_pool_and_short_words_are_no_prefixes(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = bearer(make_key(session))
    parties = [
        {"key": f"person:berg-{i}", "kind": "person", "name": f"Anna Berg {i:02d}"}
        for i in range(6)
    ]
    body = {"source": {"kind": "register", "reference": "R-2"}, "parties": parties}
    assert client.post("/api/v1/accounts/batch", json=body, headers=key).status_code == 201
    # A word of two characters is that word, not every word it begins.
    assert _keys(_search(client, key, "anna berg 03")) == ["person:berg-3"]
    assert _search(client, key, "anna berg 0")["items"] == []
    # Six match; only the first POOL are ranked, and the pages end there.
    monkeypatch.setattr(repository, "POOL", 4)
    first = _search(client, key, "anna berg", limit=3)
    second = _search(client, key, "anna berg", limit=3, cursor=first["next_cursor"])
    assert (len(first["items"]), len(second["items"])) == (3, 1)
    assert second["next_cursor"] is None
    accounts = _search(client, key, "anna", "account", limit=10)
    assert accounts["items"] == []  # these parties hold no accounts


def test_words_as_written_answer_alone_when_enough_rows_match_them(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = bearer(make_key(session))
    names = {"person:a": "Anna Berg", "person:b": "Berg Anna", "person:c": "Anna Bergmann"}
    parties = [{"key": k, "kind": "person", "name": n} for k, n in names.items()]
    body = {"source": {"kind": "register", "reference": "R-3"}, "parties": parties}
    assert client.post("/api/v1/accounts/batch", json=body, headers=key).status_code == 201
    # Fewer than NARROW_ENOUGH match "anna berg" word for word: prefixes widen it.
    assert sorted(_keys(_search(client, key, "anna berg"))) == ["person:a", "person:b", "person:c"]
    monkeypatch.setattr(repository, "NARROW_ENOUGH", 2)
    assert sorted(_keys(_search(client, key, "anna berg"))) == ["person:a", "person:b"]
    # A prefix alone matches nothing word for word, so the wide query answers.
    assert sorted(_keys(_search(client, key, "anna bergm"))) == ["person:c"]
    assert _keys(_search(client, key, "bergmann", "account")) == []


def test_holders_the_caller_cannot_see_take_no_place_in_the_pool(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    lead = bearer(make_key(session, Role.INVESTIGATOR, name="lead"))
    outsider = bearer(make_key(session, Role.INVESTIGATOR, name="outsider"))
    case = client.post("/api/v1/cases", json=CASE_A, headers=lead).json()["id"]
    # Case A's holders named Anna come first in the index's order, then the shared pool's.
    for reference, case_id, names in (("A-HOLDERS", case, 3), ("SHARED-HOLDERS", None, 1)):
        accounts = [
            {"key": f"acct:{reference}-{i}", "holders": [{"party": f"person:{reference}-{i}"}]}
            for i in range(names)
        ]
        parties = [
            {"key": f"person:{reference}-{i}", "kind": "person", "name": f"Anna Holder {i}"}
            for i in range(names)
        ]
        body = {"source": source(reference, case_id), "parties": parties, "accounts": accounts}
        assert client.post("/api/v1/accounts/batch", json=body, headers=lead).status_code == 201
    monkeypatch.setattr(repository, "POOL", 2)
    # Case A's parties fill no pool of a caller who may not see them.
    assert _keys(_search(client, outsider, "anna holder", "account")) == ["acct:SHARED-HOLDERS-0"]
    assert len(_search(client, lead, "anna holder", "account", limit=10)["items"]) == 2
