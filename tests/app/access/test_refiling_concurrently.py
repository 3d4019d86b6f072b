"""Two admins refile one document at once (issue 19, review of the refiling): the second reads
the document's filing only once the first has committed, so it records the first one's target
as where the document came from, and the history is a chain.

The interleaving is forced: the first refiling is held, after it read the filing and before it
writes, until the second one has read it too (or a few seconds, when the second cannot read it
because the first holds the row's lock).
"""

import threading
from pathlib import Path
from typing import Any

import pytest

from app.transaction import service as transaction_service
from tests.app.casework import criminal_case
from tests.factories import DE
from tests.isolated import live_app

# How long the first refiling waits for the second one to read the filing: past it, the second
# is taken to be held off by the row's lock.
HOLD_SECONDS = 3.0


def test_two_refilings_at_once_record_a_chain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with live_app(tmp_path) as (client, admin, _):

        def post(url: str, body: dict[str, Any]) -> dict[str, Any]:
            r = client.post(url, json=body, headers=admin)
            assert r.is_success, r.text
            found: dict[str, Any] = r.json()
            return found

        a, b = (post("/api/v1/cases", criminal_case(n))["id"] for n in ("CASE-A", "CASE-B"))
        source = {"kind": "bank_production", "reference": "POOL-1", "case_id": None}
        batch = {"source": source, "parties": [], "accounts": [{"key": DE, "name": "Kingfisher"}]}
        document = post("/api/v1/accounts/batch", batch)["source_document_id"]
        url = f"/api/v1/sources/{document}/compartment"

        # Called by a refiling after it read the document's filing, before it writes it.
        real = transaction_service.refile_engine_ids
        first_in, second_in = threading.Event(), threading.Event()

        def held(*args: Any) -> None:
            if not first_in.is_set():
                first_in.set()
                second_in.wait(timeout=HOLD_SECONDS)
            else:
                second_in.set()
            real(*args)

        monkeypatch.setattr(transaction_service, "refile_engine_ids", held)
        answers: dict[int, Any] = {}

        def refile(case_id: int) -> None:
            body = {"case_id": case_id, "reason": f"into case {case_id}"}
            answers[case_id] = client.post(url, json=body, headers=admin)

        first = threading.Thread(target=refile, args=(a,))
        first.start()
        assert first_in.wait(timeout=30)
        second = threading.Thread(target=refile, args=(b,))
        second.start()
        first.join(timeout=60)
        second.join(timeout=60)
        assert [answers[c].status_code for c in (a, b)] == [200, 200]
        history = client.get(url, headers=admin).json()
        assert [(c["from_case_id"], c["to_case_id"]) for c in history] == [(None, a), (a, b)]
        assert client.get(f"/api/v1/sources/{document}", headers=admin).json()["case_id"] == b
