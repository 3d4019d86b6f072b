"""The database itself refuses a transaction naming an account or source document it lacks.

SQLite enforces the references with foreign keys; PostgreSQL with triggers that check each
statement's rows at once (migration 2026-11-29-1215). These tests go around the app, with raw
SQL and COPY, to prove the refusal does not depend on the app's own checks.
"""

from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import bindparam, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db import UTCDateTime
from tests.factories import DE, FR, batch, bearer, make_key, tx

pytestmark = pytest.mark.db

_INSERT = text(
    "INSERT INTO transactions (external_id, engine_id, from_account_id, to_account_id,"
    " amount_minor, currency, value_time, source_document_id, source_row)"
    " VALUES (:ext, :ext, :src, :dst, 100, 'EUR', :at, :doc, 1)"
).bindparams(bindparam("at", type_=UTCDateTime()))
_COPY = (
    "COPY transactions (external_id, engine_id, from_account_id, to_account_id, amount_minor,"
    " currency, value_time, source_document_id, source_row) FROM STDIN (FORMAT csv)"
)
_MISSING_ACCOUNT = 987_654_321
_MISSING_DOCUMENT = "f" * 32


@pytest.fixture
def stored(client: TestClient, session: Session) -> dict[str, Any]:
    """Two accounts and a source document, stored through the API."""
    key = make_key(session)
    response = client.post(
        "/api/v1/transactions/batch", json=batch(tx("R-1", DE, FR, "1.00")), headers=bearer(key)
    )
    assert response.status_code == 201, response.text
    ids = dict(
        session.execute(
            text("SELECT key, id FROM accounts WHERE key IN (:de, :fr)"), {"de": DE, "fr": FR}
        ).all()
    )
    return {
        "src": ids[DE],
        "dst": ids[FR],
        "doc": response.json()["source_document_id"],
        "at": datetime(2026, 1, 6, 10, tzinfo=UTC),
    }


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


@pytest.mark.parametrize(
    ("field", "value", "constraint"),
    [
        ("src", _MISSING_ACCOUNT, "fk_transactions_from_account_id_accounts"),
        ("dst", _MISSING_ACCOUNT, "fk_transactions_to_account_id_accounts"),
        ("doc", _MISSING_DOCUMENT, "fk_transactions_source_document_id_source_documents"),
    ],
)
def test_an_insert_naming_an_unknown_reference_is_refused(
    session: Session, stored: dict[str, Any], field: str, value: object, constraint: str
) -> None:
    params = {**stored, "ext": "R-2", field: value}
    with pytest.raises(IntegrityError) as caught, session.begin_nested():
        session.execute(_INSERT, params)
    if _dialect(session) == "postgresql":
        error = caught.value.orig
        assert isinstance(error, psycopg.errors.ForeignKeyViolation)
        assert error.sqlstate == "23503"
        assert error.diag.constraint_name == constraint
        assert str(value) in (error.diag.message_detail or "")
    assert session.execute(text("SELECT count(*) FROM transactions")).scalar_one() == 1


def test_a_valid_insert_is_accepted(session: Session, stored: dict[str, Any]) -> None:
    with session.begin_nested():
        session.execute(_INSERT, {**stored, "ext": "R-2"})
    assert session.execute(text("SELECT count(*) FROM transactions")).scalar_one() == 2


def test_one_bad_row_among_good_ones_refuses_the_whole_statement(
    session: Session, stored: dict[str, Any]
) -> None:
    many = text(
        "INSERT INTO transactions (external_id, engine_id, from_account_id, to_account_id,"
        " amount_minor, currency, value_time, source_document_id, source_row)"
        " WITH g (n) AS (VALUES (1), (2), (3), (4), (5))"
        " SELECT 'M-' || n, 'M-' || n, :src, CASE WHEN n = 3 THEN :missing ELSE :dst END, 100,"
        " 'EUR', :at, :doc, n FROM g"
    ).bindparams(bindparam("at", type_=UTCDateTime()))
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(many, {**stored, "missing": _MISSING_ACCOUNT})
    assert session.execute(text("SELECT count(*) FROM transactions")).scalar_one() == 1


def test_an_update_to_an_unknown_account_is_refused(
    session: Session, stored: dict[str, Any]
) -> None:
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(
            text("UPDATE transactions SET to_account_id = :missing"), {"missing": _MISSING_ACCOUNT}
        )


@pytest.mark.parametrize(
    ("statement", "params"),
    [
        ("DELETE FROM accounts WHERE id = :src", {}),
        ("DELETE FROM accounts WHERE id = :dst", {}),
        ("UPDATE accounts SET id = :missing WHERE id = :src", {"missing": _MISSING_ACCOUNT}),
        ("DELETE FROM source_documents WHERE id = :doc", {}),
    ],
)
def test_a_referenced_row_cannot_be_deleted_or_renumbered(
    session: Session, stored: dict[str, Any], statement: str, params: dict[str, Any]
) -> None:
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(text(statement), {**stored, **params})
    assert (
        session.execute(text("SELECT count(*) FROM accounts WHERE id = :src"), stored).scalar_one()
        == 1
    )


def _copy(session: Session, payload: str) -> None:
    raw: Any = session.connection().connection.dbapi_connection
    with raw.cursor() as cur, cur.copy(_COPY) as copy:
        copy.write(payload)


def _pg_only(session: Session) -> None:
    if _dialect(session) != "postgresql":
        pytest.skip("COPY and triggers are PostgreSQL's; SQLite keeps foreign keys")


@pytest.mark.parametrize("field", ["src", "dst", "doc"])
def test_a_copy_naming_an_unknown_reference_is_refused(
    session: Session, stored: dict[str, Any], field: str
) -> None:
    _pg_only(session)
    good = [{**stored, "ext": f"C-{n}"} for n in range(1000)]
    good[500][field] = _MISSING_DOCUMENT if field == "doc" else _MISSING_ACCOUNT
    payload = "".join(
        f"{r['ext']},{r['ext']},{r['src']},{r['dst']},100,EUR,{r['at'].isoformat()},{r['doc']},{n}\n"
        for n, r in enumerate(good, start=1)
    )
    with pytest.raises(psycopg.errors.ForeignKeyViolation), session.begin_nested():
        _copy(session, payload)
    assert session.execute(text("SELECT count(*) FROM transactions")).scalar_one() == 1


@pytest.mark.parametrize("table", ["accounts", "source_documents"])
def test_evidence_tables_cannot_be_truncated(session: Session, table: str) -> None:
    _pg_only(session)
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(text(f"TRUNCATE {table} CASCADE"))


def test_postgresql_enforces_the_references_by_its_triggers(session: Session) -> None:
    _pg_only(session)
    triggers = set(
        session.execute(
            text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'D'")
        ).scalars()
    )
    assert {
        "transactions_references_insert",
        "transactions_references_update",
        "accounts_kept",
        "source_documents_kept",
        "accounts_not_truncated",
        "source_documents_not_truncated",
    } <= triggers
