"""For benchmarks: a fresh database, and a `moneytrail serve` subprocess on it (free loopback
port, readiness, a key)."""

import contextlib
import os
import platform
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import polars as pl
import psycopg

from app.settings import sqlite_url

PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextlib.contextmanager
def fresh_database(kind: str, folder: Path) -> Iterator[str]:
    """A SQLAlchemy URL of a new, empty database, removed afterwards."""
    if kind == "sqlite":
        path = folder / f"bench-{secrets.token_hex(4)}.db"
        try:
            yield sqlite_url(path)
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    name = f"moneytrail_bench_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass(frozen=True)
class Service:
    base: str
    key: str
    pid: int


def wait_until_ready(
    server: "subprocess.Popen[bytes]", base: str, log_path: Path, *, within: float
) -> None:
    """Until the service at `base` answers /readyz; its exit or `within` seconds end the wait
    with an error that points at its log."""
    deadline = time.monotonic() + within
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"the service exited with {server.returncode}; see {log_path}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the service did not become ready; see {log_path}")
        time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_service(
    url: str,
    log_path: Path,
    *,
    role: str,
    env: dict[str, str] | None = None,
    ready_within: float = 120,
    serve_args: tuple[str, ...] = (),
    code: Path | None = None,
) -> Iterator[Service]:
    """The service on `url` with a key of `role`; stopped (terminated, then killed) after.
    `code`: another checkout to serve (a baseline: its `app` shadows the installed one)."""
    port = free_port()
    environment = {
        **os.environ,
        "MONEYTRAIL_DATABASE_URL": url,
        "MONEYTRAIL_BOOTSTRAP_ADMIN_KEY": "false",
        **(env or {}),
        **({"PYTHONPATH": str(code)} if code is not None else {}),
    }
    command = [sys.executable, "-m", "app.cli"]
    with log_path.open("ab") as log:
        server = subprocess.Popen(
            [*command, "serve", "--host", "127.0.0.1", "--port", str(port), *serve_args],
            env=environment,
            cwd=code,
            stdout=log,
            stderr=log,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(server, base, log_path, within=ready_within)
        created = subprocess.run(
            [*command, "keys", "create", "--role", role],
            env=environment,
            cwd=code,
            capture_output=True,
            text=True,
            check=True,
        )
        yield Service(base, created.stdout.strip().splitlines()[-1], server.pid)
    finally:
        stop(server, within=20)


def stop(server: "subprocess.Popen[bytes]", *, within: float) -> None:
    """Terminate the service; kill it if it outlives `within` seconds."""
    server.terminate()
    try:
        server.wait(timeout=within)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def environment() -> str:
    """The machine and versions a benchmark ran on, with the load average beside them."""
    import sqlite3

    pg = ""
    with contextlib.suppress(psycopg.Error), psycopg.connect(PG_ADMIN_DSN) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        pg = f", PostgreSQL {row[0] if row else '?'}"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} cores (load average {load}), Python {platform.python_version()}, "
        f"Polars {pl.__version__}, SQLite {sqlite3.sqlite_version}{pg}"
    )


def csv_list(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]
