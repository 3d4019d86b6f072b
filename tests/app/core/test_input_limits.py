"""What an input may cost to read is bounded: each bound answers a 413 naming it and its setting,
before the cost is paid, and nothing is stored (issue 13, item 5)."""

import io
import json
import zipfile
from collections.abc import Iterator

import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db import get_session
from app.main import create_app
from app.settings import Settings
from app.source.models import SourceDocument
from app.transaction.models import Transaction
from tests.factories import DE, FR, batch, bearer, make_key, tx

HEADER = "external_id,from_account,to_account,amount,currency,value_time"
ROW = f"T-1,{DE},{FR},1.00,EUR,2026-01-05T10:00:00Z"


@pytest.fixture
def key(session: Session) -> dict[str, str]:
    return bearer(make_key(session))


def _limited(client: TestClient, settings: Settings, **bounds: int) -> None:
    client.app.state.settings = settings.model_copy(update=bounds)  # type: ignore[attr-defined]


def assert_refused(r, setting: str, session: Session) -> None:
    assert r.status_code == 413, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert (body["code"], body["setting"]) == ("limit_exceeded", setting)
    assert isinstance(body["limit"], int)
    assert setting in body["detail"]
    counts = [
        session.scalar(select(func.count()).select_from(m)) for m in (Transaction, SourceDocument)
    ]
    assert counts == [0, 0]


def upload(client: TestClient, key, content: bytes, name: str = "t.csv"):
    return client.post(
        "/api/v1/transactions/upload",
        headers=key,
        files={"file": (name, content)},
        data={"kind": "bank_statement", "reference": "LIMITS-1"},
    )


def goaml(client: TestClient, key, content: bytes, name: str = "r.zip"):
    return client.post("/api/v1/imports/goaml", headers=key, files={"file": (name, content)})


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buffer.getvalue()


def test_a_csv_with_a_hundred_thousand_extra_columns_is_refused(client, key, session) -> None:
    extra = ",".join(f"x{i}" for i in range(100_000))
    content = f"{HEADER},{extra}\n{ROW}{',' * 100_000}\n".encode()
    assert_refused(upload(client, key, content), "MONEYTRAIL_TABLE_MAX_COLUMNS", session)


def test_a_csv_line_beyond_the_line_bound_is_refused(client, key, session) -> None:
    content = f"{HEADER},narrative\n{ROW},{'n' * 2_000_000}\n".encode()
    assert_refused(upload(client, key, content), "MONEYTRAIL_LINE_MAX_BYTES", session)


def test_a_csv_within_its_bounds_is_stored(client, key, settings, session) -> None:
    _limited(client, settings, table_max_columns=7, line_max_bytes=len(ROW) + 10)
    r = upload(client, key, f"{HEADER},channel\n{ROW},sepa\n".encode())
    assert r.status_code == 201, r.text


def test_a_parquet_file_with_too_many_columns_is_refused(client, key, settings, session) -> None:
    _limited(client, settings, table_max_columns=10)
    frame = pl.read_csv(io.BytesIO(f"{HEADER}\n{ROW}\n".encode()), infer_schema=False)
    frame = frame.with_columns(pl.lit("x").alias(f"extra_{i}") for i in range(5))
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    r = upload(client, key, buffer.getvalue(), "t.parquet")
    assert_refused(r, "MONEYTRAIL_TABLE_MAX_COLUMNS", session)


def test_a_goaml_report_of_many_tiny_elements_is_refused_by_count(client, key, settings, session):
    _limited(client, settings, xml_max_elements=10_000)
    content = b"<report>" + b"<a/>" * 20_000 + b"</report>"
    assert_refused(goaml(client, key, content, "r.xml"), "MONEYTRAIL_XML_MAX_ELEMENTS", session)


def test_a_goaml_report_nested_too_deep_is_refused(client, key, session) -> None:
    deep = b"<report>" + b"<a>" * 40 + b"</a>" * 40 + b"</report>"
    assert_refused(goaml(client, key, deep, "r.xml"), "MONEYTRAIL_XML_MAX_DEPTH", session)


def test_a_goaml_report_beyond_the_report_size_is_refused(client, key, settings, session):
    _limited(client, settings, xml_max_bytes=1000)
    content = b"<report>" + b"<a/>" * 300 + b"</report>"
    assert_refused(goaml(client, key, content, "r.xml"), "MONEYTRAIL_XML_MAX_BYTES", session)


def test_a_zip_of_too_many_members_is_refused(client, key, settings, session) -> None:
    _limited(client, settings, zip_max_members=2)
    content = zipped({f"r{i}.xml": b"<report/>" for i in range(3)})
    assert_refused(goaml(client, key, content), "MONEYTRAIL_ZIP_MAX_MEMBERS", session)


def test_a_zip_unpacking_beyond_its_total_bound_is_refused(client, key, settings, session):
    _limited(client, settings, zip_unpacked_max_bytes=10_000)
    report = b"<report>" + bytes(range(256)) * 30 + b"</report>"  # packs poorly: no ratio alarm
    content = zipped({"r1.xml": report, "r2.xml": report})
    assert_refused(goaml(client, key, content), "MONEYTRAIL_ZIP_UNPACKED_MAX_BYTES", session)


def test_a_zip_whose_member_lies_about_its_size_is_refused(client, key, session) -> None:
    content = bytearray(zipped({"r.xml": b"<report>" + b" " * 5000 + b"</report>"}))
    # The central directory says 20 bytes: only what is really unpacked can tell.
    directory = content.rindex(b"PK\x01\x02")
    content[directory + 24 : directory + 28] = (20).to_bytes(4, "little")
    r = goaml(client, key, bytes(content))
    # zipfile stops at the declared size, and the checksum then fails: refused, not unpacked.
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"


def test_a_damaged_zip_member_is_a_client_error(client, key, session) -> None:
    content = bytearray(zipped({"r.xml": b"<report>" + b" " * 500 + b"</report>"}))
    directory = content.rindex(b"PK\x01\x02")
    content[directory + 16 : directory + 20] = b"\0\0\0\0"  # the member's CRC-32
    r = goaml(client, key, bytes(content))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"


def test_a_chunked_json_body_beyond_the_json_bound_is_refused(session, settings, key) -> None:
    app = create_app(settings.model_copy(update={"json_body_max_bytes": 1000}))
    app.state.audit_sink = [].append
    app.dependency_overrides[get_session] = lambda: session
    data = json.dumps(batch(*[tx(f"J-{i}", DE, FR, "1.00") for i in range(50)])).encode()

    def chunks() -> Iterator[bytes]:
        # No Content-Length: only counting what arrives can stop it.
        for i in range(0, len(data), 100):
            yield data[i : i + 100]

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post(
            "/api/v1/transactions/batch",
            content=chunks(),
            headers={**key, "Content-Type": "application/json"},
        )
    assert r.status_code == 413, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert (r.json()["code"], r.json()["setting"]) == (
        "payload_too_large",
        "MONEYTRAIL_JSON_BODY_MAX_BYTES",
    )
    assert session.scalar(select(func.count()).select_from(Transaction)) == 0


def test_an_ftm_line_beyond_the_line_bound_is_refused(client, key, settings, session) -> None:
    _limited(client, settings, line_max_bytes=1000)
    line = b'{"id": "x", "schema": "Person", "properties": {"name": ["' + b"n" * 2000 + b'"]}}\n'
    r = client.post(
        "/api/v1/imports/ftm",
        headers=key,
        files={"file": ("e.ndjson", line)},
        data={"reference": "FTM-LIMITS"},
    )
    assert_refused(r, "MONEYTRAIL_LINE_MAX_BYTES", session)
