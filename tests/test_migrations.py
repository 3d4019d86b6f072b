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
