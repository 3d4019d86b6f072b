"""Hostile uploads leave the server's memory flat (issue 13, item 5).

The server runs in a process of its own, so that its peak resident size (VmHWM) measures what
the requests cost and nothing else. Unbounded, each of these inputs took the server up by 0.7
to 2 GB; bounded, each is refused before it is read, and the peak moves by a few MB.
"""

import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.test_crash import Server, server  # noqa: F401 (a fixture)

GROWTH_BOUND_KIB = 100 * 1024


def peak_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmHWM:\s+(\d+) kB", status)
    assert found is not None
    return int(found.group(1))


def _bomb_of_spaces(unpacked: int) -> bytes:
    """A report of `unpacked` bytes, almost all spaces, packed to a few hundred KB."""
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as z,
        z.open("big.xml", "w", force_zip64=True) as member,
    ):
        member.write(b"<report>")
        block = b" " * (1024 * 1024)
        for _ in range(unpacked // len(block)):
            member.write(block)
        member.write(b"</report>")
    return buffer.getvalue()


def _bomb_of_elements(count: int) -> bytes:
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as z,
        z.open("many.xml", "w") as member,
    ):
        member.write(b"<report>")
        for _ in range(count // 100_000):
            member.write(b"<a/>" * 100_000)
        member.write(b"</report>")
    return buffer.getvalue()


def _big_json(size: int) -> Iterator[bytes]:
    row = b'{"external_id": "M-%d", "from_account": "acct:a", "to_account": "acct:b", '
    yield b'{"source": {"kind": "x", "reference": "y"}, "transactions": ['
    sent, i = 0, 0
    while sent < size:
        chunk = b",".join(
            row % n + b'"amount": "1.00", "currency": "EUR", "value_time": "2026-01-05T10:00:00Z"}'
            for n in range(i, i + 10_000)
        )
        yield (b"," if i else b"") + chunk
        sent += len(chunk)
        i += 10_000
    yield b"]}"


@pytest.mark.slow
def test_hostile_uploads_leave_the_server_memory_flat(server: Server) -> None:  # noqa: F811
    key = server.cli("keys", "create", "--role", "admin").strip().splitlines()[-1]
    server.start()
    assert server.process is not None
    headers = {"Authorization": f"Bearer {key}"}
    spaces, elements = _bomb_of_spaces(300 * 1024 * 1024), _bomb_of_elements(6_000_000)
    assert max(len(spaces), len(elements)) < 1024 * 1024  # each packs to well under 1 MB
    with httpx.Client(base_url=server.base, headers=headers, timeout=120) as client:
        # Warm: the first goAML import and batch load every module the refusals pass through.
        warm = client.post(
            "/api/v1/imports/goaml", files={"file": ("w.xml", b"<report><a/></report>")}
        )
        assert warm.status_code == 422, warm.text
        before = peak_kib(server.process.pid)
        answers = [
            client.post("/api/v1/imports/goaml", files={"file": (name, content)})
            for name, content in (("spaces.zip", spaces), ("elements.zip", elements))
        ]
        # Sent without a Content-Length: the server counts what arrives and stops.
        answers.append(
            client.post(
                "/api/v1/transactions/batch",
                content=_big_json(200 * 1024 * 1024),
                headers={"Content-Type": "application/json"},
            )
        )
        growth = peak_kib(server.process.pid) - before
    assert growth < GROWTH_BOUND_KIB, f"the server's peak grew by {growth // 1024} MB"
    assert [(r.status_code, r.json()["code"]) for r in answers] == [
        (413, "limit_exceeded"),
        (413, "limit_exceeded"),
        (413, "payload_too_large"),
    ]
