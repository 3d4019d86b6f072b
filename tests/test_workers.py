"""`moneytrail serve --workers 2`: two real processes on one port answer for the same jobs.

A trace job started through one worker is polled through both and cancelled through the one
that does not run it; the first admin key is made and printed once; a key both workers have
served (and keep, app.principal_cache) is refused by both as soon as one revokes it. The engine
is held at its first hop by tests/workers_gate (loaded by each server process), so the job is
surely running.
"""

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from app.demo.service import SEED_TRANSACTIONS
from tests.isolated import count
from tests.served import free_port, served, stop

GATE_PATH = Path(__file__).parent / "workers_gate"
BODY = {"seeds": [{"transaction": t} for t in SEED_TRANSACTIONS], "rule": "fifo"}


class Workers:
    def __init__(self, url: str, folder: Path) -> None:
        self.url, self.port = url, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.gate = folder / "open"
        self.log = folder / "server.log"
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(GATE_PATH), os.environ.get("PYTHONPATH", "")]),
            "MONEYTRAIL_TEST_GATE": str(self.gate),
            "MONEYTRAIL_DATABASE_URL": url,
            "MONEYTRAIL_DATA_DIR": str(folder),
            "MONEYTRAIL_TRACE_WARM_LEDGER": "false",
            "MONEYTRAIL_DEADLINE_SWEEP_ENABLED": "false",
            "MONEYTRAIL_EXPOSE_WORKER_PID": "true",
            "MONEYTRAIL_TRACE_JOB_POLL_SECONDS": "0.1",
            "MONEYTRAIL_LOG_LEVEL": "WARNING",
        }
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "app.cli",
                    "serve",
                    "--workers",
                    "2",
                    "--port",
                    str(self.port),
                ],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def connect_both(self) -> dict[int, httpx.Client]:
        """A kept-alive connection to each worker, by its pid (whichever worker accepts a new
        connection serves it to the end: the kernel picks, so try until both have)."""
        found: dict[int, httpx.Client] = {}
        deadline = time.monotonic() + 600
        while len(found) < 2 and time.monotonic() < deadline:
            client = httpx.Client(base_url=self.base, timeout=60)
            try:
                pid = int(client.get("/healthz").headers["x-worker-pid"])
            except httpx.TransportError:
                client.close()
                time.sleep(0.3)
                continue
            if pid in found:
                client.close()
            else:
                found[pid] = client
        if len(found) < 2:
            for client in found.values():
                client.close()
            raise AssertionError(f"two workers never answered: {self.log.read_text()[-2000:]}")
        return found


def _end(server: Workers) -> None:
    server.gate.touch()
    stop(server.process)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    with served(tmp_path, Workers, _end) as server:
        yield server


def test_a_job_started_on_one_worker_is_polled_and_cancelled_through_the_other(
    workers: Workers,
) -> None:
    by_pid = workers.connect_both()
    try:
        headers = _poll_and_cancel_across(workers, by_pid)
        _revoked_through_one_is_refused_by_both(by_pid, headers)
    finally:
        for client in by_pid.values():
            client.close()


def _revoked_through_one_is_refused_by_both(
    by_pid: dict[int, httpx.Client], admin: dict[str, str]
) -> None:
    first = next(iter(by_pid.values()))
    made = first.post("/api/v1/keys", json={"name": "kept", "role": "analyst"}, headers=admin)
    assert made.status_code == 201, made.text
    analyst = {"Authorization": f"Bearer {made.json()['key']}"}
    for client in by_pid.values():
        for _ in range(3):  # looked up once, then served from each worker's own cache
            assert client.get("/api/v1/sources", headers=analyst).status_code == 200
    revoked = first.post(f"/api/v1/keys/{made.json()['id']}/revoke", headers=admin)
    assert revoked.status_code == 200, revoked.text
    for pid, client in by_pid.items():
        refused = client.get("/api/v1/sources", headers=analyst)
        assert (refused.status_code, int(refused.headers["x-worker-pid"])) == (401, pid)


def _poll_and_cancel_across(workers: Workers, by_pid: dict[int, httpx.Client]) -> dict[str, str]:
    pids = set(by_pid)
    log = workers.log.read_text()
    assert log.count("FIRST START") == 1, log
    assert "workers_spawned" not in log, log  # forked: they share the parent's pages
    assert count(workers.url, "api_keys") == 1
    found = re.search(r"Authorization: Bearer (\S+)", log)
    assert found is not None
    headers = {"Authorization": f"Bearer {found.group(1)}"}

    starter = next(iter(by_pid.values()))
    assert starter.post("/api/v1/demo", headers=headers).status_code == 201
    started = starter.post("/api/v1/traces", params={"mode": "async"}, json=BODY, headers=headers)
    assert started.status_code == 202, started.text
    runner = int(started.headers["x-worker-pid"])
    (other,) = pids - {runner}
    trace_id = started.json()["id"]

    # Polled through the worker that does not run it: running, with the progress the runner
    # wrote to the database.
    deadline = time.monotonic() + 30
    while True:
        seen = by_pid[other].get(f"/api/v1/traces/{trace_id}", headers=headers)
        assert (seen.status_code, int(seen.headers["x-worker-pid"])) == (200, other)
        assert seen.json()["status"] == "running"
        if seen.json()["progress"]["hops_done"] == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert seen.json()["progress"] == {"hops_done": 1, "accounts_reached": 2, "events_replayed": 0}
    assert (
        by_pid[runner].get(f"/api/v1/traces/{trace_id}", headers=headers).json()["progress"]
        == (seen.json()["progress"])
    )

    cancelled = by_pid[other].post(f"/api/v1/traces/{trace_id}/cancel", headers=headers)
    assert (cancelled.status_code, int(cancelled.headers["x-worker-pid"])) == (200, other)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        final = {
            pid: client.get(f"/api/v1/traces/{trace_id}", headers=headers).json()
            for pid, client in by_pid.items()
        }
        if all(body["status"] == "cancelled" for body in final.values()):
            break
        time.sleep(0.1)
    for body in final.values():
        assert (body["status"], body["error"]["code"], body["progress"]) == (
            "cancelled",
            "cancelled",
            None,
        )

    # Both workers trace on from there, each on the one index built for the ledger. At once:
    # a connection left idle while the other worker builds would be closed (uvicorn's 5 s
    # keep-alive) and its retry could reach either worker.
    workers.gate.touch()
    with ThreadPoolExecutor(len(by_pid)) as pool:
        answers = {
            pid: pool.submit(client.post, "/api/v1/traces", json=BODY, headers=headers)
            for pid, client in by_pid.items()
        }
        for pid, answer in answers.items():
            done = answer.result()
            assert (done.status_code, int(done.headers["x-worker-pid"])) == (201, pid), done.text
            assert done.json()["summary"]["held"] == "43000.00"
    index = workers.env["MONEYTRAIL_DATA_DIR"] + "/ledger-index"
    versions = [p for p in Path(index).iterdir() if p.is_dir()]
    assert [p.name for p in versions] == [done.json()["ledger_fingerprint"]]
    return headers


def test_importing_the_service_starts_no_polars_pool() -> None:
    """`moneytrail serve --workers N` forks its workers only while no Polars pool runs in the
    parent, which imports the service first (`app.workers.fork_workers`). A probe run at the
    engine's import (tracing.columns) started the pool, and the workers were spawned, each
    importing everything into private memory again."""
    probe = (
        "import app.main, app.cli\nfrom app.workers import _pool_threads\nprint(_pool_threads())"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert found.stdout.strip() == "[]", found.stderr
