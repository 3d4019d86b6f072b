"""An admin refiles a document while a load adds details to a row that document created
(issue 19): the load decides which creators share its compartment under their rows' share lock,
so the refiling waits for the load's commit and then takes back what the load wrote on the row;
nothing the load added moves with the row into the creator's new compartment.

The interleaving is forced: the load is held after it decided, until the refiling has answered
(or a few seconds, when the refiling cannot go on because the load holds the document's row).
"""

import threading
from pathlib import Path
from typing import Any

import pytest

from app.account import loading
from app.source import service as source_service
from tests.app.casework import criminal_case
from tests.factories import DE
from tests.isolated import count, live_app

# How long the held load waits for the refiling to answer: past it, the refiling is taken to
# be held off by the load's lock.
HOLD_SECONDS = 3.0


def test_a_refiling_during_a_load_takes_back_what_the_load_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with live_app(tmp_path) as (client, admin, settings):
        case = client.post("/api/v1/cases", json=criminal_case("CASE-A"), headers=admin).json()[
            "id"
        ]

        def batch(reference: str, **account: str) -> dict[str, Any]:
            source = {"kind": "bank_production", "reference": reference, "case_id": case}
            return {"source": source, "parties": [], "accounts": [{"key": DE, **account}]}

        created = client.post(
            "/api/v1/accounts/batch", json=batch("A-1", name="Kingfisher"), headers=admin
        )
        assert created.status_code == 201, created.text
        url = f"/api/v1/sources/{created.json()['source_document_id']}/compartment"

        # The load's state is made once it decided which creators share its compartment.
        real = loading._Load
        decided, refiled = threading.Event(), threading.Event()

        def held(*args: Any) -> loading._Load:
            decided.set()
            refiled.wait(timeout=HOLD_SECONDS)
            return real(*args)

        monkeypatch.setattr(loading, "_Load", held)
        answers: dict[str, Any] = {}

        def load() -> None:
            answers["load"] = client.post(
                "/api/v1/accounts/batch", json=batch("A-2", bic="COBADEFFXXX"), headers=admin
            )

        def refile() -> None:
            body = {"case_id": None, "reason": "into the shared pool"}
            answers["refile"] = client.post(url, json=body, headers=admin)
            refiled.set()

        loader = threading.Thread(target=load)
        loader.start()
        assert decided.wait(timeout=30)
        refiler = threading.Thread(target=refile)
        refiler.start()
        loader.join(timeout=60)
        refiler.join(timeout=60)
        assert [answers[k].status_code for k in ("load", "refile")] == [201, 200]
        # The row, now the shared pool's, shows nothing the case's load added.
        database = settings.effective_database_url
        assert count(database, "accounts WHERE bic IS NOT NULL") == 0
        # The load's statement keeps it, with the case.
        assert (
            count(database, "account_statements WHERE CAST(details AS TEXT) LIKE '%COBADEFFXXX%'")
            == 1
        )


def test_a_load_reads_afresh_the_rows_of_a_creator_refiled_after_it_read_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The creator is refiled out of another case into the shared pool after the load read its
    rows, before it locked the creator: the load compares with the rows as the refiling left
    them, not with what the other case's documents had written on them (taken back)."""
    with live_app(tmp_path) as (client, admin, _):
        a, b = (
            client.post("/api/v1/cases", json=criminal_case(n), headers=admin).json()["id"]
            for n in ("CASE-A", "CASE-B")
        )

        def load(case: int, reference: str, **account: str) -> Any:
            source = {"kind": "bank_production", "reference": reference, "case_id": case}
            body = {"source": source, "parties": [], "accounts": [{"key": DE, **account}]}
            return client.post("/api/v1/accounts/batch", json=body, headers=admin)

        creator = load(b, "B-1", name="Kingfisher").json()["source_document_id"]
        assert load(b, "B-2", bic="COBADEFFXXX").status_code == 201  # on the row, for case B
        real = source_service.documents_held
        refiled: dict[str, Any] = {}
        refilers: list[threading.Thread] = []

        def refile() -> None:
            body = {"case_id": None, "reason": "into the shared pool"}
            url = f"/api/v1/sources/{creator}/compartment"
            refiled["answer"] = client.post(url, json=body, headers=admin)

        def held(*args: Any) -> Any:
            if not refilers:
                refilers.append(threading.Thread(target=refile))
                refilers[0].start()
                # Past the hold the refiling is taken to wait for this load's write lock
                # (SQLite), and runs after it.
                refilers[0].join(timeout=HOLD_SECONDS)
            return real(*args)

        monkeypatch.setattr(source_service, "documents_held", held)
        assert load(a, "A-1", bic="DEUTDEFFXXX").status_code == 201
        refilers[0].join(timeout=60)
        assert refiled["answer"].status_code == 200
