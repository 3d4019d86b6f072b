"""Callers looked up lately are kept (app.principal_cache), and never past a change of standing:
a revocation, a membership removal or an expiry counts at the next request, in this process and
in any other that shares the data directory."""

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.apikey.models import ApiKey
from app.db import make_engine
from app.main import create_app
from app.principal import Principal, Role
from app.principal_cache import GenerationFile, PrincipalCache
from tests.app.case.test_cases import CRIMINAL
from tests.app.core.test_compartments import principal
from tests.conftest import app_settings
from tests.factories import bearer, make_key, tx

ACCOUNT = "iban:DE89370400440532013000"


def counting_lookups(app: Any) -> list[str]:
    """The secrets the app went to the database for, in order."""
    asked: list[str] = []
    lookup = app.state.key_lookup

    def counted(session: Session, secret: str) -> Principal | None:
        asked.append(secret)
        return lookup(session, secret)

    app.state.key_lookup = counted
    return asked


def test_a_key_is_looked_up_once_and_dropped_as_soon_as_it_is_revoked(
    client: TestClient, session: Session
) -> None:
    admin, other = make_key(session), make_key(session, Role.ANALYST, name="analyst")
    asked = counting_lookups(client.app)
    for _ in range(3):
        assert client.get("/api/v1/sources", headers=bearer(other)).status_code == 200
    assert asked == [other]

    keys = client.get("/api/v1/keys", headers=bearer(admin)).json()
    other_id = next(k["id"] for k in keys if k["name"] == "analyst")
    r = client.post(f"/api/v1/keys/{other_id}/revoke", headers=bearer(admin))
    assert r.status_code == 200, r.text
    r = client.get("/api/v1/sources", headers=bearer(other))
    assert r.status_code == 401, r.text
    assert asked.count(other) == 2  # asked again: the revocation changed its standing


def test_a_member_taken_off_a_case_stops_seeing_it_at_the_next_request(
    client: TestClient, session: Session
) -> None:
    lead, analyst = make_key(session, Role.INVESTIGATOR), make_key(session, Role.ANALYST)
    case = client.post("/api/v1/cases", json=CRIMINAL, headers=bearer(lead))
    assert case.status_code == 201, case.text
    case_id = case.json()["id"]
    batch = {
        "source": {"kind": "bank_statement", "reference": "CACHE-1", "case_id": case_id},
        "transactions": [tx("CACHE-T1", ACCOUNT, "acct:cache-b", "10.00")],
    }
    r = client.post("/api/v1/transactions/batch", json=batch, headers=bearer(lead))
    assert r.status_code == 201, r.text
    analyst_id = principal(session, analyst).id
    member = {"api_key_id": analyst_id, "role": "observer"}
    r = client.put(f"/api/v1/cases/{case_id}/members", json=member, headers=bearer(lead))
    assert r.status_code == 200, r.text

    asked = counting_lookups(client.app)
    for _ in range(2):
        assert client.get(f"/api/v1/accounts/{ACCOUNT}", headers=bearer(analyst)).status_code == 200
    assert asked.count(analyst) == 1

    r = client.delete(f"/api/v1/cases/{case_id}/members/{analyst_id}", headers=bearer(lead))
    assert r.status_code == 200, r.text
    assert client.get(f"/api/v1/accounts/{ACCOUNT}", headers=bearer(analyst)).status_code == 404


def test_a_revocation_by_the_cli_counts_at_once_for_a_running_service(
    isolated_database: str, tmp_path: Path
) -> None:
    engine = make_engine(isolated_database)
    with Session(engine) as s:
        admin = make_key(s, name="admin")
        investigator = make_key(s, Role.INVESTIGATOR, name="kept")
        kept_id = s.query(ApiKey.id).filter_by(name="kept").scalar()
    engine.dispose()
    app = create_app(app_settings(isolated_database, tmp_path))
    asked = counting_lookups(app)
    with TestClient(app) as client:
        for _ in range(2):
            assert client.get("/api/v1/sources", headers=bearer(investigator)).status_code == 200
        assert asked == [investigator]
        # Another process, as an operator would run it beside the service.
        env = {
            **os.environ,
            "MONEYTRAIL_DATABASE_URL": isolated_database,
            "MONEYTRAIL_DATA_DIR": str(tmp_path),
        }
        done = subprocess.run(
            [sys.executable, "-m", "app.cli", "keys", "revoke", kept_id],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert client.get("/api/v1/sources", headers=bearer(investigator)).status_code == 401
        assert client.get("/api/v1/sources", headers=bearer(admin)).status_code == 200


def test_a_change_no_process_here_saw_counts_once_the_entry_is_older_than_its_bound(
    isolated_database: str, tmp_path: Path
) -> None:
    engine = make_engine(isolated_database)
    with Session(engine) as s:
        secret = make_key(s, Role.INVESTIGATOR, name="far")
    app = create_app(app_settings(isolated_database, tmp_path, principal_cache_seconds=0.5))
    with TestClient(app) as client:
        assert client.get("/api/v1/sources", headers=bearer(secret)).status_code == 200
        # As another host's service would revoke it: no ORM session here, no shared directory.
        with engine.begin() as conn:
            conn.execute(
                update(ApiKey).where(ApiKey.name == "far").values(revoked_at=datetime.now(UTC))
            )
        time.sleep(0.6)
        assert client.get("/api/v1/sources", headers=bearer(secret)).status_code == 401
    engine.dispose()


def test_no_cache_when_its_age_bound_is_zero(client: TestClient, session: Session) -> None:
    secret = make_key(session)
    client.app.state.principals = PrincipalCache(
        data_dir=Path(client.app.state.settings.data_dir),
        max_entries=100,
        max_bytes=100_000,
        max_age_seconds=0,
    )
    asked = counting_lookups(client.app)
    for _ in range(3):
        assert client.get("/api/v1/sources", headers=bearer(secret)).status_code == 200
    assert asked == [secret] * 3


def test_an_expired_key_is_not_served_from_the_cache(tmp_path: Path) -> None:
    cache = PrincipalCache(data_dir=tmp_path, max_entries=10, max_bytes=100_000, max_age_seconds=60)
    soon = datetime.now(UTC) + timedelta(milliseconds=200)
    who = Principal(id="k1", name="soon gone", role=Role.ANALYST, expires_at=soon)
    digest = cache.digest("mt_secret")
    cache.put(digest, who, cache.generation())
    assert cache.get(digest) == who
    time.sleep(0.25)
    assert cache.get(digest) is None
    assert len(cache) == 0


def test_the_cache_is_bounded_by_count_and_by_bytes(tmp_path: Path) -> None:
    cache = PrincipalCache(data_dir=tmp_path, max_entries=3, max_bytes=100_000, max_age_seconds=60)
    for n in range(5):
        who = Principal(id=f"k{n}", name=f"key {n}", role=Role.ANALYST)
        cache.put(cache.digest(f"mt_{n}"), who, cache.generation())
    assert len(cache) == 3
    assert cache.get(cache.digest("mt_0")) is None  # the least recently used went first
    assert cache.get(cache.digest("mt_4")) is not None

    small = PrincipalCache(data_dir=tmp_path, max_entries=100, max_bytes=1_000, max_age_seconds=60)
    for n in range(20):
        who = Principal(id=f"k{n}", name=f"key {n}", role=Role.ANALYST)
        small.put(small.digest(f"mt_{n}"), who, small.generation())
    assert 0 < len(small) < 20
    assert small.held_bytes <= 1_000


def test_two_processes_mapping_one_data_directory_see_each_others_bumps(tmp_path: Path) -> None:
    mine, theirs = GenerationFile(tmp_path), GenerationFile(tmp_path)
    before = mine.read()
    theirs.bump()
    theirs.bump()
    assert mine.read() == before + 2
    script = (
        "import sys; from pathlib import Path; from app.principal_cache import GenerationFile;"
        "GenerationFile(Path(sys.argv[1])).bump()"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True, timeout=60)
    assert mine.read() == before + 3
