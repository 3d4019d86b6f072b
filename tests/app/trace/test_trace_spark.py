"""Traces with MONEYTRAIL_TRACE_ENGINE=spark over HTTP: a job with progress per hop, cancel,
the sub-ledger limit, and the in-memory engine's figures on the demo case."""

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.demo.service import SEED_TRANSACTIONS
from app.settings import Settings
from app.trace import spark_engine
from app.trace.lake_sync import sync_lake
from lake import Lake
from tests.isolated import held_back, live_app, wait_for_trace
from tests.lake.conftest import HAVE_SPARK

pytestmark = pytest.mark.skipif(not HAVE_SPARK, reason="needs the spark extra and Java 17+")

BODY = {"seeds": [{"transaction": t} for t in SEED_TRANSACTIONS], "rule": "fifo"}


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str], Settings]]:
    spark = {"trace_engine": "spark", "spark_master": "local[1]", "lake_dir": tmp_path / "lake"}
    with live_app(tmp_path, trace_workers=1, **spark) as (client, key, settings):
        state = client.app.state  # type: ignore[attr-defined]
        assert client.post("/api/v1/traces", json=BODY, headers=key).json()["code"] == (
            "lake_not_found"
        )
        assert client.post("/api/v1/demo", headers=key).status_code == 201
        with state.sessionmaker() as session:
            sync_lake(session, tmp_path / "lake", buckets=4)
        yield client, key, settings


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, list[int]]:
    """Holds the Spark engine until released and records the hops it reports."""
    seen: list[int] = []
    real = spark_engine.trace_lake

    def recorded(*args, progress, **kwargs):
        def report(p):
            seen.append(p.hops_done)
            progress(p)

        return real(*args, progress=report, **kwargs)

    monkeypatch.setattr(spark_engine, "trace_lake", recorded)
    return held_back(monkeypatch, spark_engine, "trace_lake", within=60), seen


def wait_for(client: TestClient, key: dict[str, str], trace_id: str, status: str) -> dict:
    # Spark starts slowly: a longer wait, polled less often.
    return wait_for_trace(client, key, trace_id, status, within=300, pause=0.2)


def test_a_spark_trace_is_a_job_with_the_memory_engines_figures(live, hops) -> None:
    client, key, settings = live
    opened, seen = hops
    r = client.post("/api/v1/traces", json=BODY, headers=key)
    assert r.status_code == 202  # always a job
    job = r.json()
    running = client.get(f"/api/v1/traces/{job['id']}", headers=key).json()
    assert running["progress"] == {"hops_done": 0, "accounts_reached": 0, "events_replayed": 0}
    opened.set()
    done = wait_for(client, key, job["id"], "done")
    # The figures of tests/app/trace/test_trace_jobs.py's in-memory FIFO run on the same demo.
    assert done["summary"]["held"] == "43000.00"
    assert done["summary"]["exited"] == "3500.00"
    assert seen[: seen.index(max(seen)) + 1] == list(range(1, max(seen) + 1))  # one per hop
    manifest = Lake(settings.lake_dir).require_manifest()
    assert done["ledger_fingerprint"] == manifest.id
    ran = done["summary"]["executed_by"]
    assert (ran["name"], ran["master"], ran["lake_manifest"]) == ("spark", "local[1]", manifest.id)
    # The stored canonical JSON (what result_sha256 covers) carries the same provenance.
    stored = client.get(f"/api/v1/traces/{job['id']}/result.json", headers=key)
    assert stored.json()["provenance"]["engine"] == ran
    # Explaining works on the sub-ledger's result as on the whole ledger's.
    paths = client.get(
        f"/api/v1/traces/{job['id']}/explain",
        params={"to": "iban:CY17002001280000001200527600"},
        headers=key,
    )
    assert paths.status_code == 200, paths.text
    assert paths.json()[0]["steps"][-1]["to_account"] == "iban:CY17002001280000001200527600"


def test_a_running_spark_trace_can_be_cancelled(live, hops) -> None:
    client, key, _ = live
    opened, _ = hops
    job = client.post("/api/v1/traces", json=BODY, headers=key).json()
    assert client.post(f"/api/v1/traces/{job['id']}/cancel", headers=key).status_code == 200
    opened.set()
    final = wait_for(client, key, job["id"], "cancelled")
    assert final["error"]["code"] == "cancelled"


def test_a_sub_ledger_above_the_limit_is_refused_with_advice(live) -> None:
    client, key, settings = live
    settings.spark_max_subledger = 3
    job = client.post("/api/v1/traces", json=BODY, headers=key).json()
    failed = wait_for(client, key, job["id"], "failed")
    assert failed["error"]["code"] == "TraceTooLarge"
    assert "max_counterparties" in failed["error"]["detail"]
