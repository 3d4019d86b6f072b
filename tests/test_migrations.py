from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text
from sqlalchemy.orm import Session

from app import migrate
from app.db import make_engine
from app.main import create_app
from app.models import Base
from app.principal import Role
from tests.conftest import app_settings, fresh_database
from tests.factories import DE, FR, bearer, make_key, tx


def test_upgrade_downgrade_upgrade_leaves_the_models_schema(tmp_path: Path) -> None:
    with fresh_database(tmp_path) as url:
        migrate.upgrade(url)
        migrate.downgrade(url, "base")
        engine = make_engine(url)
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
        migrate.upgrade(url)
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(
                    conn, opts=migrate.autogenerate_options(conn.dialect.name)
                ),
                Base.metadata,
            )
            assert diff == [], f"models and migrations disagree: {diff}"
            assert {"transactions", "accounts", "source_documents"} <= set(
                inspect(conn).get_table_names()
            )
        engine.dispose()


def test_engine_ids_migrate_a_populated_ledger(tmp_path: Path) -> None:
    """Pool rows keep their external id as engine id, a case's rows take the qualified form,
    and the rows other tables reference survive the table's rebuild (SQLite) both ways."""
    with fresh_database(tmp_path) as url:
        migrate.upgrade(url)
        engine = make_engine(url)
        with Session(engine) as session:
            admin = bearer(make_key(session))
            session.commit()
        with TestClient(create_app(app_settings(url, tmp_path))) as client:
            case = {
                "reference": "M-1",
                "title": "t",
                "kind": "criminal_investigation",
                "jurisdiction": "DE",
                "predicate_offences": ["fraud"],
                "lead_agency": "BKA",
            }
            case_id = client.post("/api/v1/cases", json=case, headers=admin).json()["id"]
            for ref, filed, ext in (("P", None, "P-1"), ("C", case_id, "C-1")):
                body = {
                    "source": {"kind": "bank_statement", "reference": ref, "case_id": filed},
                    "transactions": [tx(ext, DE, FR, "1.00")],
                }
                stored = client.post("/api/v1/transactions/batch", json=body, headers=admin)
                assert stored.status_code == 201, stored.text
        read = text("SELECT external_id, engine_id FROM transactions ORDER BY id")
        matches = text("SELECT count(*) FROM duplicate_matches")
        with engine.connect() as conn:
            assert conn.execute(matches).scalar_one() == 1  # C-1 matches P-1
        migrate.downgrade(url, "5b8d3e6f1a47")
        migrate.upgrade(url)
        with engine.connect() as conn:
            assert [tuple(r) for r in conn.execute(read)] == [
                ("P-1", "P-1"),
                ("C-1", f"C-1@case:{case_id}"),
            ]
            assert conn.execute(matches).scalar_one() == 1
        engine.dispose()


def _rows_of_de(client: TestClient, key: dict[str, str]) -> list[dict[str, object]]:
    page = client.get(f"/api/v1/accounts/{DE}/transactions", headers=key)
    assert page.status_code == 200, page.text
    items: list[dict[str, object]] = page.json()["items"]
    return items


def test_compartments_migrate_existing_data_into_the_shared_pool(tmp_path: Path) -> None:
    """Before compartments every analyst read every record: the migration files what exists in
    the shared pool, so an investigator on no case sees after it all that was seen before it,
    and only an admin's refiling makes a record a case's. The ledger is written at head, taken
    down to the revision before compartments (which drops every filing) and brought up again."""
    before_compartments = "4e7a1c9d2b60"
    with fresh_database(tmp_path) as url:
        migrate.upgrade(url)
        engine = make_engine(url)
        with Session(engine) as session:
            admin = bearer(make_key(session))
            analyst = bearer(make_key(session, Role.ANALYST, name="on no case"))
            session.commit()
        case = {
            "reference": "M-2",
            "title": "t",
            "kind": "criminal_investigation",
            "jurisdiction": "DE",
            "predicate_offences": ["fraud"],
            "lead_agency": "BKA",
        }
        gb = "iban:GB29NWBK60161331926819"
        settings = app_settings(url, tmp_path)
        with TestClient(create_app(settings)) as client:
            case_id = client.post("/api/v1/cases", json=case, headers=admin).json()["id"]
            for ref, filed, row in (
                ("P", None, tx("P-1", DE, FR, "1.00")),
                ("C", case_id, tx("C-1", DE, gb, "2.00")),
            ):
                body = {
                    "source": {"kind": "bank_statement", "reference": ref, "case_id": filed},
                    "transactions": [row],
                }
                stored = client.post("/api/v1/transactions/batch", json=body, headers=admin)
                assert stored.status_code == 201, stored.text
            assert [t["external_id"] for t in _rows_of_de(client, analyst)] == [
                "P-1"
            ]  # today: C-1 is case M-2's
        migrate.downgrade(url, before_compartments)
        with engine.connect() as conn:  # as before compartments: no filing, everyone reads all
            assert "case_id" not in {
                c["name"] for c in inspect(conn).get_columns("source_documents")
            }
        migrate.upgrade(url)
        with engine.connect() as conn:
            filed = text("SELECT reference, case_id FROM source_documents ORDER BY reference")
            assert [tuple(r) for r in conn.execute(filed)] == [("C", None), ("P", None)]
        with TestClient(create_app(settings)) as client:
            seen = _rows_of_de(client, analyst)
            assert sorted(t["external_id"] for t in seen) == ["C-1", "P-1"]
            assert client.get(f"/api/v1/accounts/{gb}", headers=analyst).status_code == 200
            for t in seen:  # each read by the name it bears in the pool
                read = client.get(f"/api/v1/transactions/{t['id']}", headers=analyst)
                assert read.json()["engine_id"] == t["external_id"]
        engine.dispose()
