import hashlib
import io
from datetime import UTC, datetime
from decimal import Decimal

import polars as pl
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db import get_session
from app.main import create_app
from app.settings import Settings
from app.transaction.models import Transaction
from tests.factories import BTC, DE, FR, bearer, make_key

CSV = (
    "external_id,from_account,to_account,amount,currency,value_time,sequence,narrative\n"
    f"C-1,{DE},{FR},100.00,EUR,2026-02-01T09:00:00Z,1,rent\n"
    f'C-2,{FR},{BTC},"1,5",EUR,2026-02-02T09:00:00Z,,\n'
)


def upload(
    client: TestClient, key: dict[str, str], content: bytes, name: str = "t.csv", **form: str
):
    data = {"kind": "bank_statement", "reference": "PO-7", **form}
    return client.post(
        "/api/v1/transactions/upload", files={"file": (name, content)}, data=data, headers=key
    )


def stored(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Transaction)) or 0


def test_csv_upload_names_bad_rows_and_stores_nothing(client: TestClient, session: Session) -> None:
    key = bearer(make_key(session))
    r = upload(client, key, CSV.encode())
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert [(e["row"], e["field"]) for e in r.json()["errors"]] == [(2, "amount")]
    assert r.json()["errors"][0]["loc"] == ["row", 2, "amount"]
    assert stored(session) == 0


def test_csv_upload_is_stored_with_its_hash(client: TestClient, session: Session) -> None:
    key = bearer(make_key(session))
    content = CSV.replace('"1,5"', "1.50").encode()
    r = upload(client, key, content)
    assert r.status_code == 201, r.text
    assert r.json()["inserted"] == 2
    source = client.get(f"/api/v1/sources/{r.json()['source_document_id']}", headers=key).json()
    assert source["sha256"] == hashlib.sha256(content).hexdigest()
    assert (source["filename"], source["size_bytes"], source["row_count"]) == (
        "t.csv",
        len(content),
        2,
    )
    again = upload(client, key, content)
    assert (again.status_code, again.json()["inserted"], again.json()["already_present"]) == (
        200,
        0,
        2,
    )
    assert stored(session) == 2


def test_parquet_upload_with_typed_columns(client: TestClient, session: Session) -> None:
    key = bearer(make_key(session))
    frame = pl.DataFrame(
        {
            "external_id": ["P-1", "P-2"],
            "from_account": [DE, FR],
            "to_account": [FR, DE],
            "amount": [Decimal("12.34"), Decimal("0.01")],
            "currency": ["EUR", "EUR"],
            "value_time": [
                datetime(2026, 3, 1, 8, tzinfo=UTC),
                datetime(2026, 3, 2, 8, tzinfo=UTC),
            ],
            "sequence": [1, 2],
        },
        schema_overrides={"amount": pl.Decimal(18, 2)},
    )
    buf = io.BytesIO()
    frame.write_parquet(buf)
    r = upload(client, key, buf.getvalue(), name="t.parquet")
    assert r.status_code == 201, r.text
    got = client.get("/api/v1/transactions/P-1", headers=key).json()
    assert (got["amount"], got["value_time"], got["sequence"]) == (
        "12.34",
        "2026-03-01T08:00:00Z",
        1,
    )


def test_parquet_float_amounts_are_refused(client: TestClient, session: Session) -> None:
    key = bearer(make_key(session))
    frame = pl.DataFrame(
        {
            "external_id": ["F-1"],
            "from_account": [DE],
            "to_account": [FR],
            "amount": [0.1],
            "currency": ["EUR"],
            "value_time": ["2026-03-01T08:00:00Z"],
        }
    )
    buf = io.BytesIO()
    frame.write_parquet(buf)
    r = upload(client, key, buf.getvalue(), name="f.parquet")
    assert r.status_code == 422
    assert "floating-point" in r.json()["detail"]
    assert stored(session) == 0


def test_missing_columns_are_named(client: TestClient, session: Session) -> None:
    key = bearer(make_key(session))
    r = upload(client, key, b"external_id,amount\nX,1.00\n")
    assert r.status_code == 422
    assert r.json()["code"] == "missing_columns"
    assert r.json()["missing"] == ["from_account", "to_account", "currency", "value_time"]


def test_unreadable_file_is_a_problem(client: TestClient, session: Session) -> None:
    key = bearer(make_key(session))
    r = upload(client, key, b"\xff\xfe\x00garbage\x00\x81\n\x00")
    assert r.status_code == 422
    assert r.json()["code"] in {"unreadable_file", "missing_columns"}
    assert "Traceback" not in r.text


def test_upload_timezone_is_applied(client: TestClient, session: Session) -> None:
    key = bearer(make_key(session))
    content = (
        "external_id,from_account,to_account,amount,currency,value_time\n"
        f"Z-1,{DE},{FR},1,EUR,2026-01-10 12:00\n"
    )
    r = upload(client, key, content.encode(), timezone="America/New_York")
    assert r.status_code == 201, r.text
    assert (
        client.get("/api/v1/transactions/Z-1", headers=key).json()["value_time"]
        == "2026-01-10T17:00:00Z"
    )


def test_files_over_the_size_limit_are_refused(session: Session, settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"upload_max_bytes": 64}))
    app.state.audit_sink = [].append
    app.dependency_overrides[get_session] = lambda: session
    with TestClient(app) as small:
        r = upload(small, bearer(make_key(session)), CSV.encode())
    assert r.status_code == 413
    assert r.json()["code"] == "payload_too_large"
    assert stored(session) == 0
