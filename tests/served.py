"""The service as a process of its own, for the tests that start one (crash, workers, memory):
a free port, a migrated database it is started on, and its stop whatever the test did."""

import socket
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from tests.conftest import migrated_database

S = TypeVar("S")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop(process: "subprocess.Popen[bytes] | None", *, within: float = 30) -> None:
    """Terminate a server still running, and kill it if it outlives `within` seconds."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=within)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=within)


@contextmanager
def served(folder: Path, make: Callable[[str, Path], S], end: Callable[[S], None]) -> Iterator[S]:
    """`make(url, folder)` on a fresh migrated database; `end` it after the test, passed or not."""
    with migrated_database(folder) as url:
        server = make(url, folder)
        try:
            yield server
        finally:
            end(server)
