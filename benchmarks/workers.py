"""Memory of two worker processes against one, with the same ledger loaded (issue 23).

One deterministic synthetic ledger (``benchmarks.synthetic``, 1M transactions by default) is
uploaded into a fresh SQLite database. Then, on that database:

1. ``moneytrail serve --workers 1``: one trace loads the ledger into the process; its PSS is
   read from ``/proc/PID/smaps_rollup``.
2. ``moneytrail serve --workers 2``: a kept-alive connection to each worker (told apart by the
   debug-only ``X-Worker-Pid`` header, ``MONEYTRAIL_EXPOSE_WORKER_PID``), one trace through
   each (the first builds the shared index in ``<data_dir>/ledger-index``, the other maps it),
   then the PSS of both workers, summed. PSS counts a page shared by two processes half in
   each, so the sum counts the mapped index once.

Target: the two workers' total PSS at most 1.3x the one worker's. The supervisor process that
uvicorn adds with ``--workers 2`` holds no ledger; its PSS is printed apart.

Usage (from the repository root)::

    .venv/bin/python -m benchmarks.workers                 # 1M transactions
    .venv/bin/python -m benchmarks.workers --transactions 200000
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from app import migrate
from benchmarks.api_trace import upload
from benchmarks.service import free_port, fresh_database, stop, wait_until_ready
from benchmarks.synthetic import generate_ledger

MIB = 1024 * 1024


def smaps(pid: int) -> dict[str, int]:
    """The fields of /proc/PID/smaps_rollup, in bytes."""
    found = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        match = re.match(r"(\w+):\s+(\d+) kB", line)
        if match:
            found[match.group(1)] = int(match.group(2)) * 1024
    return found


def breakdown(pid: int) -> dict[str, dict[str, int]]:
    """PSS and private bytes of /proc/PID/smaps, by kind of mapping.

    Kinds: the mapped ledger index (``ledger-index`` files), other files (libraries and
    Python's own files), executable anonymous memory (the compiled kernels' machine code),
    the brk heap (glibc's main arena: small objects), large anonymous mappings of at least
    64 MiB (Polars' jemalloc and Numba's arenas reserve such), and the other anonymous ones
    (glibc's mmapped blocks: NumPy arrays of 128 KiB and more, thread arenas, CPython's arenas).
    """
    kinds: dict[str, dict[str, int]] = {}
    kind = ""
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \d+\s*(.*)", line)
        if head:
            size = int(head.group(2), 16) - int(head.group(1), 16)
            kind = _kind(head.group(3), head.group(4).strip(), size)
            continue
        field = re.match(r"(Pss|Private_Clean|Private_Dirty):\s+(\d+) kB", line)
        if field:
            figures = kinds.setdefault(kind, {"pss": 0, "private": 0})
            key = "pss" if field.group(1) == "Pss" else "private"
            figures[key] += int(field.group(2)) * 1024
    return kinds


def _kind(perms: str, path: str, size: int) -> str:
    if "ledger-index" in path:
        return "index files"
    if path.startswith("/"):
        return "other files"
    if path == "[heap]":
        return "brk heap"
    if path.startswith("["):
        return "stack, vdso"
    if "x" in perms:
        return "anon executable"
    return "anon >= 64 MiB" if size >= 64 * MIB else "anon < 64 MiB"


@contextlib.contextmanager
def serving(url: str, folder: Path, workers: int) -> Iterator[tuple[str, str, int]]:
    """`moneytrail serve --workers N`: its base URL, the admin key it printed, its pid."""
    port, log = free_port(), folder / f"serve-{workers}.log"
    env = {
        **os.environ,
        "MONEYTRAIL_DATABASE_URL": url,
        "MONEYTRAIL_DATA_DIR": str(folder),
        "MONEYTRAIL_EXPOSE_WORKER_PID": "true",
        "MONEYTRAIL_TRACE_SYNC_WAIT_SECONDS": "600",
        "MONEYTRAIL_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "app.cli", "serve", "--port", str(port)]
    with log.open("wb") as out:
        server = subprocess.Popen(
            [*command, "--workers", str(workers)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(server, base, log, within=300)
        yield base, _key(url, log), server.pid
    finally:
        stop(server, within=30)


def _key(url: str, log: Path) -> str:
    found = re.search(r"Authorization: Bearer (\S+)", log.read_text())
    if found is not None:
        return found.group(1)
    created = subprocess.run(
        [sys.executable, "-m", "app.cli", "keys", "create", "--role", "admin"],
        env={**os.environ, "MONEYTRAIL_DATABASE_URL": url},
        capture_output=True,
        text=True,
        check=True,
    )
    return created.stdout.strip().splitlines()[-1]


def per_worker(base: str, count: int) -> dict[int, httpx.Client]:
    """A kept-alive connection to each of `count` workers (the kernel picks who accepts)."""
    found: dict[int, httpx.Client] = {}
    deadline = time.monotonic() + 300
    while len(found) < count and time.monotonic() < deadline:
        client = httpx.Client(base_url=base, timeout=600)
        pid = int(client.get("/healthz").headers["x-worker-pid"])
        if pid in found:
            client.close()
        else:
            found[pid] = client
    if len(found) < count:
        raise RuntimeError(f"only {len(found)} of {count} workers answered")
    return found


def load_ledger(client: httpx.Client, key: str, seed: str) -> dict[str, Any]:
    body = {"seeds": [{"transaction": seed}], "rule": "fifo", "max_hops": 3}
    started = time.perf_counter()
    r = client.post("/api/v1/traces", json=body, headers={"Authorization": f"Bearer {key}"})
    if r.status_code != 201:
        raise RuntimeError(f"trace answered {r.status_code}: {r.text[:500]}")
    return {"seconds": time.perf_counter() - started, "pid": int(r.headers["x-worker-pid"])}


def measure(url: str, folder: Path, workers: int, seed: str) -> dict[str, Any]:
    with serving(url, folder, workers) as (base, key, parent):
        clients = per_worker(base, workers)
        try:
            loads = [load_ledger(client, key, seed) for client in clients.values()]
            time.sleep(2)  # let freed build scratch settle before reading the figures
            figures = {pid: smaps(pid) for pid in clients}
            kinds = {pid: breakdown(pid) for pid in clients}
            pss = {pid: f["Pss"] for pid, f in figures.items()}
            shared = {pid: f.get("Pss_File", 0) for pid, f in figures.items()}
            supervisor = smaps(parent)["Pss"] if parent not in clients else 0
        finally:
            for client in clients.values():
                client.close()
    return {"pss": pss, "file": shared, "supervisor": supervisor, "loads": loads, "kinds": kinds}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    started = " ".join(f"{x:.2f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp:
        folder = Path(tmp)
        frame = generate_ledger(args.transactions)
        parquet = folder / "ledger.parquet"
        frame.write_parquet(parquet)
        seed = str(frame["external_id"][len(frame) // 2])
        with fresh_database("sqlite", folder) as url:
            migrate.upgrade(url)
            with serving(url, folder, 1) as (base, key, _), httpx.Client(timeout=1800) as c:
                c.headers["Authorization"] = f"Bearer {key}"
                upload(c, base, parquet, args.transactions)
            one = measure(url, folder, 1, seed)
            two = measure(url, folder, 2, seed)
    single, pair = sum(one["pss"].values()), sum(two["pss"].values())
    load = os.getloadavg()
    print(f"ledger: {args.transactions:,} transactions; load average at the start {started}")
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"one worker:  PSS {single / MIB:8.1f} MiB (file-backed {_mib(one['file'])})")
    print(f"two workers: PSS {pair / MIB:8.1f} MiB = {_mib(two['pss'])} (file {_mib(two['file'])})")
    print(f"supervisor process (no ledger): PSS {two['supervisor'] / MIB:.1f} MiB")
    print(f"ratio two/one: {pair / single:.2f} (target <= 1.30)")
    print(f"ledger loads: one {_loads(one)}; two {_loads(two)}")
    print("by mapping, PSS / private MiB: one worker | two workers (each)")
    names = sorted({k for run in (one, two) for kinds in run["kinds"].values() for k in kinds})
    for name in names:
        cells = [
            _kind_cell(kinds.get(name)) for run in (one, two) for kinds in run["kinds"].values()
        ]
        print(f"  {name:<16} {cells[0]:>15} | {'  '.join(cells[1:])}")


def _kind_cell(figures: dict[str, int] | None) -> str:
    if figures is None:
        return "-"
    return f"{figures['pss'] / MIB:.1f} / {figures['private'] / MIB:.1f}"


def _mib(figures: dict[int, int]) -> str:
    return " + ".join(f"{v / MIB:.1f}" for v in figures.values()) + " MiB"


def _loads(run: dict[str, Any]) -> str:
    return ", ".join(f"{load['seconds']:.1f} s" for load in run["loads"])


if __name__ == "__main__":
    main()
