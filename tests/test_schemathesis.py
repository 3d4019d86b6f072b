"""Schemathesis against our own OpenAPI document: every operation, an authenticated key, a real
database. It must find no server error and no response that contradicts the document."""

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app import migrate
from app.apikey import service as apikey_service
from app.main import create_app
from app.principal import Role
from app.settings import Settings
from tests.conftest import fresh_database

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_OPERATION = 25
# Read by conftest's terminal summary, so every run states how many cases it generated.
GENERATED = {"cases": 0}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    with fresh_database(tmp_path_factory.mktemp("fuzz")) as url:
        migrate.upgrade(url)
        app = create_app(
            Settings(
                database_url=url,
                bootstrap_admin_key=False,
                trace_warm_ledger=False,
                deadline_sweep_enabled=False,
            )
        )
        with TestClient(app) as client:
            with app.state.sessionmaker() as session:
                _, secret = apikey_service.create_key(
                    session, name="fuzz", role=Role.ADMIN, created_by=None
                )
            assert client.post("/api/v1/demo", headers={"Authorization": f"Bearer {secret}"})
            yield app, secret


def test_the_api_keeps_its_own_contract(live: tuple[Any, str]) -> None:
    app, secret = live
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = {"Authorization": f"Bearer {secret}"}
    failures: list[str] = []
    cases = 0
    for loaded in schema.get_all_operations():
        operation = loaded.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            nonlocal cases
            cases += 1
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except Exception as exc:  # one operation's failure must not hide the others'
            failures.append(f"{operation.label}: {str(exc).strip()[:800]}")
    GENERATED["cases"] = cases
    assert cases > 0
    assert failures == [], "\n\n".join(failures)
