"""Memory of two worker processes against one, with the same ledger loaded (issue 23).

One deterministic synthetic ledger (``benchmarks.synthetic``, 1M transactions by default) is
uploaded into a fresh SQLite database (or one kept from an earlier run: ``--keep``). Then, on
that database, ``--repeats`` times each, alternating, every time with a fresh server and no
ledger index left on disk:

1. ``moneytrail serve --workers 1``;
2. ``moneytrail serve --workers 2``: a kept-alive connection to each worker (told apart by the
   debug-only ``X-Worker-Pid`` header, ``MONEYTRAIL_EXPOSE_WORKER_PID``). The first worker to
   load the ledger builds the shared index in ``<data_dir>/ledger-index``, the other maps it.

Through every worker the same traces run (``WORK``: the first loads the ledger; each answer is
checked to come from that worker), then the benchmark waits until each worker's PSS holds
still (``settle``) and reads ``/proc/PID/smaps_rollup`` (PSS, split into anonymous, file and
shared memory) and ``/proc/PID/smaps`` (by kind of mapping). PSS counts a page shared by two
processes half in each, so the two workers' sum counts the mapped index once.

Target: the two workers' total PSS at most 1.3x the one worker's (the medians over the
repeats; each repeat's own ratio and the spread are printed too). The supervisor process that
uvicorn adds with ``--workers 2`` holds no ledger; its PSS is printed apart.

Usage (from the repository root)::

    .venv/bin/python -m benchmarks.workers                 # 1M transactions, 3 repeats
    .venv/bin/python -m benchmarks.workers --transactions 200000 --repeats 5
    .venv/bin/python -m benchmarks.workers --keep /tmp/w1m  # keep (or reuse) the database
    .venv/bin/python -m benchmarks.workers --keep /tmp/w1m --code /tmp/main  # another checkout
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import statistics
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
def serving(
    url: str, folder: Path, workers: int, code: Path | None = None
) -> Iterator[tuple[str, str, int]]:
    """`moneytrail serve --workers N`: its base URL, the admin key it printed, its pid."""
    port, log = free_port(), folder / f"serve-{workers}.log"
    env = {
        **os.environ,
        "MONEYTRAIL_DATABASE_URL": url,
        "MONEYTRAIL_DATA_DIR": str(folder),
        "MONEYTRAIL_EXPOSE_WORKER_PID": "true",
        "MONEYTRAIL_TRACE_SYNC_WAIT_SECONDS": "600",
        "MONEYTRAIL_LOG_LEVEL": "WARNING",
        **({"PYTHONPATH": str(code)} if code is not None else {}),
    }
    command = [sys.executable, "-m", "app.cli", "serve", "--port", str(port)]
    with log.open("wb") as out:
        server = subprocess.Popen(
            [*command, "--workers", str(workers)],
            env=env,
            cwd=code,
            stdout=out,
            stderr=subprocess.STDOUT,
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


def worker_pids(base: str, count: int) -> list[int]:
    """The pids of the `count` workers, found by asking until each has answered."""
    found: list[int] = []
    deadline = time.monotonic() + 300
    while len(found) < count and time.monotonic() < deadline:
        with httpx.Client(base_url=base, timeout=60) as client:
            pid = int(client.get("/healthz").headers["x-worker-pid"])
        if pid not in found:
            found.append(pid)
    if len(found) < count:
        raise RuntimeError(f"only {len(found)} of {count} workers answered")
    return found


def connect(base: str, pid: int) -> httpx.Client:
    """A connection that worker `pid` accepted (the kernel picks who accepts: new ones until
    that worker does). The server closes it after 5 s idle: reconnect before each request."""
    for _ in range(200):
        client = httpx.Client(base_url=base, timeout=3600)
        if int(client.get("/healthz").headers["x-worker-pid"]) == pid:
            return client
        client.close()
    raise RuntimeError(f"worker {pid} accepted none of 200 connections")


# The traces every worker runs, in this order (rule, hops, which seed): the first loads the
# ledger; the others reach the replay orders and kernels an office's traces use.
WORK = (("fifo", 3, 0), ("lifo", 3, 1), ("haircut", 3, 2), ("fifo", 6, 3))


def run_work(base: str, pid: int, key: str, seeds: list[str]) -> float:
    """Run `WORK` through the worker `pid`, each trace checked to have run there; the seconds
    the first trace took."""
    first = 0.0
    for i, (rule, hops, seed) in enumerate(WORK):
        body = {"seeds": [{"transaction": seeds[seed]}], "rule": rule, "max_hops": hops}
        client = connect(base, pid)
        try:
            started = time.perf_counter()
            r = client.post("/api/v1/traces", json=body, headers={"Authorization": f"Bearer {key}"})
        finally:
            client.close()
        if r.status_code != 201:
            raise RuntimeError(f"trace answered {r.status_code}: {r.text[:500]}")
        if int(r.headers["x-worker-pid"]) != pid:
            raise RuntimeError(f"a trace meant for worker {pid} ran elsewhere")
        if i == 0:
            first = time.perf_counter() - started
    return first


def settle(
    pids: list[int], *, still: float = 2 * MIB, window: int = 5, within: float = 90
) -> float:
    """Wait until every pid's PSS has moved by less than `still` over `window` one-second
    samples (allocators return freed memory with a delay); the seconds waited."""
    started = time.monotonic()
    samples: list[list[int]] = []
    while time.monotonic() - started < within:
        samples.append([smaps(pid)["Pss"] for pid in pids])
        recent = samples[-window:]
        if len(recent) == window and all(
            max(s[i] for s in recent) - min(s[i] for s in recent) < still for i in range(len(pids))
        ):
            break
        time.sleep(1)
    return time.monotonic() - started


def measure(
    url: str, folder: Path, workers: int, seeds: list[str], code: Path | None
) -> dict[str, Any]:
    """One phase: a fresh server with `workers` workers and no index on disk, `WORK` through
    each worker, then each worker's memory once it holds still."""
    shutil.rmtree(folder / "ledger-index", ignore_errors=True)
    with serving(url, folder, workers, code) as (base, key, parent):
        pids = worker_pids(base, workers)
        loads = [run_work(base, pid, key, seeds) for pid in pids]
        waited = settle(pids)
        figures = {pid: smaps(pid) for pid in pids}
        kinds = {pid: breakdown(pid) for pid in pids}
        supervisor = smaps(parent)["Pss"] if parent not in pids else 0
    return {
        "figures": figures,
        "kinds": kinds,
        "supervisor": supervisor,
        "loads": loads,
        "settled": waited,
    }


SPLIT = (
    ("Pss", "PSS"),
    ("Pss_Anon", "anon"),
    ("Pss_File", "file"),
    ("Pss_Shmem", "shmem"),
    ("LazyFree", "of which lazily freed (MADV_FREE: counted until reclaimed)"),
)


def total(run: dict[str, Any], field: str = "Pss") -> int:
    return sum(f.get(field, 0) for f in run["figures"].values())


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):8.1f} ({min(values):.1f}-{max(values):.1f})"


@contextlib.contextmanager
def database(args: argparse.Namespace, folder: Path) -> Iterator[tuple[str, list[str]]]:
    """The database (fresh, or kept in `args.keep`) with the ledger uploaded; its seeds."""
    keep: Path | None = args.keep
    seeds_file = keep / "seeds.txt" if keep is not None else None
    if keep is not None and seeds_file is not None and seeds_file.exists():
        yield f"sqlite:///{keep / 'ledger.db'}", seeds_file.read_text().split()
        return
    frame = generate_ledger(args.transactions)
    parquet = folder / "ledger.parquet"
    frame.write_parquet(parquet)
    ids = frame["external_id"]
    seeds = [str(ids[len(frame) * (2 * i + 1) // 8]) for i in range(4)]
    del frame
    context: contextlib.AbstractContextManager[str]
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        context = contextlib.nullcontext(f"sqlite:///{keep / 'ledger.db'}")
    else:
        context = fresh_database("sqlite", folder)
    with context as url:
        migrate.upgrade(url)
        with serving(url, folder, 1) as (base, key, _), httpx.Client(timeout=3600) as c:
            c.headers["Authorization"] = f"Bearer {key}"
            upload(c, base, parquet, args.transactions)
        parquet.unlink()
        if seeds_file is not None:
            seeds_file.write_text("\n".join(seeds))
        yield url, seeds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="a directory to keep (or reuse) the database")
    parser.add_argument("--code", type=Path, help="serve this checkout instead (a baseline)")
    args = parser.parse_args(argv)
    started = " ".join(f"{x:.2f}" for x in os.getloadavg())
    ones: list[dict[str, Any]] = []
    twos: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp:
        folder = Path(tmp)
        with database(args, folder) as (url, seeds):
            for _ in range(args.repeats):
                ones.append(measure(url, folder, 1, seeds, args.code))
                twos.append(measure(url, folder, 2, seeds, args.code))
    load = os.getloadavg()
    if not ones:  # --repeats 0: only the database made (kept with --keep)
        return
    print(f"ledger: {args.transactions:,} transactions; {args.repeats} repeats")
    print(
        f"load average at the start {started}; at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print("MiB, median (min-max) over the repeats:")
    for field, name in SPLIT:
        one = [total(r, field) / MIB for r in ones]
        two = [total(r, field) / MIB for r in twos]
        print(f"  {name}: one worker {_spread(one)}; two workers {_spread(two)}")
    ratios = [total(t) / total(o) for o, t in zip(ones, twos, strict=True)]
    one_median = statistics.median(total(r) for r in ones)
    two_median = statistics.median(total(r) for r in twos)
    print(
        f"ratio two/one: {two_median / one_median:.2f} of the medians; per repeat "
        + ", ".join(f"{r:.2f}" for r in ratios)
        + " (target <= 1.30)"
    )
    print("each repeat: one worker | two workers (each, in the order traced) | supervisor")
    for o, t in zip(ones, twos, strict=True):
        each = " + ".join(f"{f['Pss'] / MIB:.1f}" for f in t["figures"].values())
        print(
            f"  {total(o) / MIB:7.1f} | {total(t) / MIB:7.1f} = {each} | "
            f"{t['supervisor'] / MIB:.1f};  first trace {_loads(o)} | {_loads(t)};"
            f" settled after {o['settled']:.0f} s | {t['settled']:.0f} s"
        )
    print("by mapping, PSS / private MiB, last repeat: one worker | two workers (each)")
    last = (ones[-1], twos[-1])
    names = sorted({k for run in last for kinds in run["kinds"].values() for k in kinds})
    for name in names:
        cells = [_kind_cell(kinds.get(name)) for run in last for kinds in run["kinds"].values()]
        print(f"  {name:<16} {cells[0]:>15} | {'  '.join(cells[1:])}")


def _kind_cell(figures: dict[str, int] | None) -> str:
    if figures is None:
        return "-"
    return f"{figures['pss'] / MIB:.1f} / {figures['private'] / MIB:.1f}"


def _loads(run: dict[str, Any]) -> str:
    return ", ".join(f"{seconds:.1f} s" for seconds in run["loads"])


if __name__ == "__main__":
    main()
