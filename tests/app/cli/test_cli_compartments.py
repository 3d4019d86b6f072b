from pathlib import Path

from fastapi.testclient import TestClient

from app.cli import main
from app.main import create_app
from app.settings import Settings, get_settings
from tests.app.access.compartment_world import CASE_A


def test_keys_create_binds_an_ingest_key_to_a_case(tmp_path: Path, monkeypatch, capsys) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("MONEYTRAIL_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        assert main(["db", "upgrade"]) == 0
        assert main(["keys", "create", "--role", "investigator"]) == 0
        lead = {"Authorization": f"Bearer {capsys.readouterr().out.strip().splitlines()[-1]}"}
        settings = Settings(
            database_url=url, data_dir=tmp_path, bootstrap_admin_key=False, trace_warm_ledger=False
        )
        with TestClient(create_app(settings)) as c:
            case_id = c.post("/api/v1/cases", json=CASE_A, headers=lead).json()["id"]
        assert main(["keys", "create", "--role", "ingest", "--case", str(case_id)]) == 0
        out = capsys.readouterr().out
        assert f"filing into case {case_id}" in out
        feed = {"Authorization": f"Bearer {out.strip().splitlines()[-1]}"}
        assert main(["keys", "create", "--role", "analyst", "--case", str(case_id)]) == 2
        assert "only an ingest key can be bound" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()
    with TestClient(create_app(settings)) as c:
        body = {
            "source": {"kind": "bank_statement", "reference": "FEED"},
            "transactions": [
                {
                    "external_id": "FEED-1",
                    "from_account": "iban:DE89370400440532013000",
                    "to_account": "iban:FR1420041010050500013M02606",
                    "amount": "1.00",
                    "currency": "EUR",
                    "value_time": "2026-01-05T10:00:00Z",
                }
            ],
        }
        stored = c.post("/api/v1/transactions/batch", json=body, headers=feed)
        assert stored.status_code == 201, stored.text
        document = c.get(f"/api/v1/sources/{stored.json()['source_document_id']}", headers=feed)
        assert document.json()["case_id"] == case_id
