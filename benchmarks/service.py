"""A `moneytrail serve` subprocess for benchmarks: free loopback port, readiness, a key."""

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass(frozen=True)
class Service:
    base: str
    key: str
    pid: int


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
) -> Iterator[Service]:
    """The service on `url` with a key of `role`; stopped (terminated, then killed) after."""
    port = free_port()
    environment = {
        **os.environ,
        "MONEYTRAIL_DATABASE_URL": url,
        "MONEYTRAIL_BOOTSTRAP_ADMIN_KEY": "false",
        **(env or {}),
    }
    command = [sys.executable, "-m", "app.cli"]
    with log_path.open("ab") as log:
        server = subprocess.Popen(
            [*command, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=environment,
            stdout=log,
            stderr=log,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_within
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"the service exited with {server.returncode}; see {log_path}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the service did not become ready; see {log_path}")
            time.sleep(0.2)
        created = subprocess.run(
            [*command, "keys", "create", "--role", role],
            env=environment,
            capture_output=True,
            text=True,
            check=True,
        )
        yield Service(base, created.stdout.strip().splitlines()[-1], server.pid)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
