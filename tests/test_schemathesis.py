"""Schemathesis against our own OpenAPI document, as its command line runs it: every operation,
its examples, the coverage phase's boundary and invalid values, and fuzzing with valid and
invalid data, checked by every check Schemathesis has, for an admin key and for an
investigator's (who sees only the cases it is on). A real, migrated database; the demo loaded.

It must find no server error and no answer that contradicts the document.

One allowance, stated here so it is not hidden in a default: a request the schema calls valid may
still be refused 422 for a rule the schema cannot state (an account seed needs a currency, a
key's expiry lies in the future, a batch's rows must resolve, a cursor must be one this list
gave out). Such a refusal is a problem naming the field; a valid request refused as unreadable
(400) or with any other status is still a failure.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events

from app import migrate
from app.apikey import service as apikey_service
from app.main import create_app
from app.principal import Role
from app.settings import Settings
from tests.conftest import fresh_database
from tests.factories import DE, FR, batch, tx

# Per operation and generation mode. With the examples and coverage phases this makes about
# 2,500 requests per key: about a minute per key on two cores.
MAX_EXAMPLES = 5
DOMAIN_RULES = ["2xx", "401", "403", "404", "409", "412", "422", "428"]
# Read by conftest's terminal summary, so every run states how many cases it generated.
GENERATED = {"cases": 0}


@dataclass(frozen=True)
class Live:
    app: Any
    secrets: dict[Role, str]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with fresh_database(tmp_path_factory.mktemp("fuzz")) as url:
        migrate.upgrade(url)
        app = create_app(
            Settings(
                database_url=url,
                bootstrap_admin_key=False,
                trace_warm_ledger=False,
                deadline_sweep_enabled=False,
                log_level="WARNING",
                # A trace that takes longer answers 202 with a job, well inside the timeout.
                trace_sync_wait_seconds=2,
            )
        )
        with TestClient(app) as client:
            with app.state.sessionmaker() as session:
                secrets = {
                    role: apikey_service.create_key(
                        session, name=f"fuzz {role}", role=role, created_by=None
                    )[1]
                    for role in (Role.ADMIN, Role.INVESTIGATOR)
                }
            admin = {"Authorization": f"Bearer {secrets[Role.ADMIN]}"}
            assert client.post("/api/v1/demo", headers=admin).status_code == 201
            # The first trace compiles the engine's kernels, and the first after new rows those
            # that extend the ledger: both done here, not in a request the run times.
            seeds = {"seeds": [{"transaction": "DEMO-D01"}]}
            assert client.post("/api/v1/traces", json=seeds, headers=admin).is_success
            more = batch(tx("FUZZ-WARM-1", DE, FR, "1.00"), reference="FUZZ-WARM")
            assert client.post("/api/v1/transactions/batch", json=more, headers=admin).is_success
            assert client.post("/api/v1/traces", json=seeds, headers=admin).is_success
            yield Live(app, secrets)


def config(secret: str) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "seed": 13,
            "headers": {"Authorization": f"Bearer {secret}"},
            # A machine shared with other jobs is slow; a hung request still fails.
            "request-timeout": 300,
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True},
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                # Stateful runs chain links the document does not declare; nothing to follow.
                "stateful": {"enabled": False},
            },
            "checks": {
                "enabled": True,
                "positive_data_acceptance": {"expected-statuses": DOMAIN_RULES},
            },
        }
    )


def describe(recorder: Any, case_id: str, check: Any) -> str:
    case = recorder.cases[case_id].value
    interaction = recorder.interactions.get(case_id)
    response = interaction.response if interaction is not None else None
    failure = check.failure_info.failure if check.failure_info else None
    return (
        f"{recorder.label} [{check.name}] {failure.title if failure else ''}: "
        f"{(failure.message if failure else '')[:400]}\n"
        f"  {case.method} {case.formatted_path} query={case.query!r} body={str(case.body)[:200]}\n"
        f"  -> {response.status_code if response else None} "
        f"{(response.content[:300] if response else b'')!r}"
    )


@pytest.mark.parametrize("role", [Role.ADMIN, Role.INVESTIGATOR])
def test_the_api_keeps_its_own_contract(live: Live, role: Role) -> None:
    schema = schemathesis.openapi.from_asgi(
        "/openapi.json", live.app, config=config(live.secrets[role])
    )
    failures: list[str] = []
    errors: list[str] = []
    cases = 0
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            cases += len(recorder.cases)
            for case_id, checks in recorder.checks.items():
                failures.extend(
                    describe(recorder, case_id, c) for c in checks if c.status is Status.FAILURE
                )
        elif isinstance(event, events.NonFatalError):
            errors.append(f"{event.label}: {event.info.format()[:800]}")
        elif isinstance(event, events.FatalError):
            raise event.exception
    GENERATED["cases"] += cases
    assert cases > 1000, cases
    assert errors == [], "\n\n".join(errors)
    assert failures == [], f"{len(failures)} failures:\n\n" + "\n\n".join(failures[:40])
