import re
from pathlib import Path

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.db import get_session
from app.main import create_app
from app.settings import Settings
from tests.factories import bearer, make_key


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ok"}


def test_readiness_fails_without_a_migrated_database(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/empty.db", bootstrap_admin_key=False)
    with TestClient(create_app(settings)) as c:
        r = c.get("/readyz")
    assert r.status_code == 503
    assert r.json()["code"] == "database_unavailable"


def test_every_response_carries_a_request_id(client: TestClient) -> None:
    r = client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])
    given = client.get("/healthz", headers={"X-Request-ID": "case-42-req-0001"})
    assert given.headers["x-request-id"] == "case-42-req-0001"
    hostile = client.get("/healthz", headers={"X-Request-ID": "<script>"})
    assert hostile.headers["x-request-id"] != "<script>"


def test_unknown_errors_are_a_bare_500_problem(
    session: Session, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app(settings)
    boom = APIRouter()

    @boom.get("/boom")
    def explode() -> None:
        raise RuntimeError("secret internals")

    app.include_router(boom)
    app.state.audit_sink = [].append
    app.dependency_overrides[get_session] = lambda: session
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom")
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == "internal_error"
    assert "secret internals" not in r.text
    assert "Traceback" not in r.text
    assert body["request_id"] == r.headers["x-request-id"]
    logged = capsys.readouterr().err
    assert "secret internals" in logged
    assert body["request_id"] in logged


def test_unknown_route_is_a_problem(client: TestClient) -> None:
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"


def test_malformed_json_is_a_problem(client: TestClient, session: Session) -> None:
    r = client.post(
        "/api/v1/transactions/batch",
        content=b"{not json",
        headers={**bearer(make_key(session)), "Content-Type": "application/json"},
    )
    assert r.status_code == 422
    assert r.json()["code"] == "validation_error"


def test_docs_load_nothing_from_outside(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
        urls += re.findall(r"""url:\s*['"]([^'"]+)['"]""", html)
        assert urls, page
        for url in urls:
            assert not re.match(r"^(https?:)?//", url), f"{page} loads {url} from elsewhere"
            asset = client.get(url)
            assert asset.status_code == 200, url
            assert len(asset.content) > 0
        assert "cdn" not in html.lower()
        # What a bundle itself asks for off the service is refused by the browser.
        policy = client.get(page).headers["content-security-policy"]
        assert "default-src 'self'" in policy
        assert "img-src 'self' data: blob:" in policy
    bundle = client.get("/static/docs/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    assert "javascript" in bundle.headers["content-type"]
