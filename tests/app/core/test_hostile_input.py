"""Hostile and broken input: each gets a 4xx problem and nothing is stored."""

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

URL = "/api/v1/transactions/batch"


def nothing_stored(session: Session) -> bool:
    counts = [
        session.scalar(select(func.count()).select_from(m)) for m in (Transaction, SourceDocument)
    ]
    return counts == [0, 0]


def assert_problem(r, status: int | set[int]) -> None:
    assert r.status_code in ({status} if isinstance(status, int) else status), r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert "Traceback" not in r.text


@pytest.fixture
def key(session: Session) -> dict[str, str]:
    return bearer(make_key(session))


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"source": {"kind": "x", "reference": "y"}, "transactions": [', "application/json"),
        (
            b'{"source": {"kind": "\xff\xfe", "reference": "y"}, "transactions": []}',
            "application/json",
        ),
        (b"external_id,amount\nT,1\n", "text/csv"),
        (b"<xml/>", "application/xml"),
        (b"", "application/json"),
    ],
    ids=["truncated-json", "invalid-utf8", "csv-as-json", "xml", "empty"],
)
def test_unreadable_bodies(
    client: TestClient, session: Session, key, content: bytes, content_type: str
) -> None:
    r = client.post(URL, content=content, headers={**key, "Content-Type": content_type})
    assert_problem(r, {400, 415, 422})
    assert nothing_stored(session)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", "1" + "0" * 40),
        ("amount", "0"),
        ("amount", "0.00"),
        ("amount", "-12.50"),
        ("amount", "1e3"),
        ("amount", "NaN"),
        ("amount", "Infinity"),
        ("value_time", "0000-01-01T00:00:00Z"),
        ("value_time", "9999-12-31T23:59:59Z"),
        ("value_time", "2026-02-30T10:00:00Z"),
        ("from_account", "'; DROP TABLE transactions; --"),
        ("to_account", "<script>alert(1)</script>"),
        ("currency", "EUR'); DELETE FROM accounts; --"),
        ("external_id", "x" * 5000),
        ("sequence", 10**30),
        ("sequence", -1),
    ],
)
def test_bad_values_are_refused_whole(
    client: TestClient, session: Session, key, field: str, value
) -> None:
    good = tx("H-1", DE, FR, "10.00")
    r = client.post(URL, json=batch(good, {**tx("H-2", DE, FR, "1.00"), field: value}), headers=key)
    assert_problem(r, 422)
    assert nothing_stored(session)


def test_sql_and_markup_in_free_text_are_evidence_kept_verbatim(
    client: TestClient, session: Session, key
) -> None:
    # A narrative is what the bank printed; it is stored exactly and never executed or rendered.
    text = "Robert'); DROP TABLE transactions;-- <script>alert(1)</script>"
    r = client.post(URL, json=batch(tx("H-1", DE, FR, "10.00", narrative=text)), headers=key)
    assert r.status_code == 201
    assert client.get("/api/v1/transactions/H-1", headers=key).json()["narrative"] == text
    assert session.scalar(select(func.count()).select_from(Transaction)) == 1


def test_batches_beyond_the_row_limit_are_refused(session: Session, settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"batch_max_rows": 2}))
    app.state.audit_sink = [].append
    app.dependency_overrides[get_session] = lambda: session
    with TestClient(app) as c:
        rows = [tx(f"L-{i}", DE, FR, "1.00") for i in range(3)]
        r = c.post(URL, json=batch(*rows), headers=bearer(make_key(session)))
    assert_problem(r, 413)
    assert nothing_stored(session)


def test_oversized_bodies_are_refused_before_reading(session: Session, settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"json_body_max_bytes": 10}))
    app.state.audit_sink = [].append
    app.dependency_overrides[get_session] = lambda: session
    with TestClient(app) as c:
        r = c.post(
            URL,
            content=b"{" + b" " * 3_000_000 + b"}",
            headers={**bearer(make_key(session)), "Content-Type": "application/json"},
        )
    assert_problem(r, 413)
    assert r.json()["code"] == "payload_too_large"
    assert r.json()["setting"] == "MONEYTRAIL_JSON_BODY_MAX_BYTES"


def test_absurd_query_values_are_problems(client: TestClient, key) -> None:
    for params in ({"start": "0000-00-00"}, {"limit": 10**30}, {"limit": -5}, {"cursor": "%%%"}):
        r = client.get(f"/api/v1/accounts/{DE}/transactions", params=params, headers=key)
        assert_problem(r, {404, 422})


def test_digits_that_are_not_ascii_are_not_ids(client: TestClient, key) -> None:
    for ref in ("²", "٣", "\uff11\uff12"):  # superscript, Arabic-Indic, full-width digits
        assert_problem(client.get(f"/api/v1/accounts/{ref}", headers=key), 404)
        assert_problem(client.get(f"/api/v1/transactions/{ref}", headers=key), 404)


def test_malformed_json_is_named_by_line_and_column(client: TestClient, session: Session, key):
    content = b'{\n  "source": {"kind": "x", "reference": "y"},\n  "transactions": [,]\n}'
    r = client.post(URL, content=content, headers={**key, "Content-Type": "application/json"})
    assert_problem(r, 422)
    (error,) = r.json()["errors"]
    assert (error["loc"], error["line"], error["column"]) == (["body"], 3, 20)
    assert "line 3, column 20" in error["msg"]
    assert nothing_stored(session)


def test_an_iban_without_its_scheme_is_refused_with_the_key_that_was_meant(
    client: TestClient, session: Session, key
) -> None:
    row = tx("H-1", "DE89 3704 0044 0532 0130 00", FR, "10.00")
    r = client.post(URL, json=batch(row), headers=key)
    assert_problem(r, 422)
    (error,) = r.json()["errors"]
    assert error["loc"] == ["transactions", 0, "from_account"]
    assert "did you mean iban:DE89370400440532013000?" in error["msg"]
    assert nothing_stored(session)
