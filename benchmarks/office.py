"""An office on one service: the floor, audited reads, the mixed load and a soak, on 127.0.0.1.

Starts its own server per database (fresh SQLite file or PostgreSQL database; `--workers N` is
passed to `moneytrail serve` when it has that option), loads the demo case and stores one trace,
then runs, each for --seconds and with the same client:

- floor-1 / floor-8: `GET /healthz` with 1 and 8 clients, the baseline every ratio uses;
- reads-1 / reads-8: authenticated, audited `GET /accounts/{key}` and `GET /traces/{id}`;
- mixed-8: the office load of benchmarks/load.py (reads, histories, JSON batches, traces,
  audit listings) plus trace reads.

It reports throughput, p50/p99/max per operation, errors, the server's RSS after the first
minute and at the end, and the load average (the machine is shared: ratios to the floor of the
same run are what count). `--soak 600` runs the mixed load that long instead.

    .venv/bin/python -m benchmarks.office --db sqlite --seconds 30 [--db postgresql] [--soak 600]
"""

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks import service
from benchmarks.load import ACCOUNTS, MIX, SEEDS, one, pct

Op = Callable[[httpx.AsyncClient], Awaitable[int]]
READS = [("get_account", 1), ("get_trace", 1)]
OFFICE_MIX = [*MIX, ("get_trace", 10)]


@dataclass
class Run:
    name: str
    clients: int
    seconds: float = 0.0
    samples: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    rss_minute_mb: float | None = None
    rss_end_mb: float = 0.0
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @property
    def everything(self) -> list[float]:
        return [v for vs in self.samples.values() for v in vs]

    @property
    def rate(self) -> float:
        return len(self.everything) / self.seconds


def rss_mb(pid: int) -> float:
    """Resident memory of the server and its children (worker processes), in MB."""
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    total = 0
    for p in pids:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


class Office:
    def __init__(self, trace_id: str) -> None:
        self.trace_id = trace_id

    async def call(self, client: httpx.AsyncClient, op: str) -> int:
        if op == "healthz":
            return (await client.get("/healthz")).status_code
        if op == "get_trace":
            return (await client.get(f"/api/v1/traces/{self.trace_id}")).status_code
        return await one(client, op)


async def drive(
    base: str, key: str, office: Office, run: Run, mix: list[tuple[str, int]], pid: int
) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=run.clients)
    ops, weights = zip(*mix, strict=True)
    started = time.perf_counter()
    until = started + run.seconds

    async def client_loop(client: httpx.AsyncClient) -> None:
        while time.perf_counter() < until:
            op = random.choices(ops, weights)[0]
            t = time.perf_counter()
            try:
                status = await office.call(client, op)
            except httpx.HTTPError:
                status = 0
            run.samples[op].append(time.perf_counter() - t)
            if status not in (200, 201):
                run.errors[f"{op}:{status}"] += 1

    async def minute() -> None:
        await asyncio.sleep(60)
        run.rss_minute_mb = rss_mb(pid)

    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60, limits=limits) as c:
        watcher = asyncio.create_task(minute()) if run.seconds > 60 else None
        await asyncio.gather(*(client_loop(c) for _ in range(run.clients)))
        if watcher is not None:
            watcher.cancel()
    run.seconds = time.perf_counter() - started
    run.rss_end_mb = rss_mb(pid)
    run.load = os.getloadavg()


def serve_args(workers: int) -> tuple[str, ...]:
    if workers <= 1:
        return ()
    helped = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve", "--help"], capture_output=True, text=True
    )
    if "--workers" not in helped.stdout:
        sys.exit("this moneytrail serve has no --workers option: run with --workers 1")
    return ("--workers", str(workers))


def prepare(base: str, key: str) -> str:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=120) as c:
        c.post("/api/v1/demo").raise_for_status()
        for rule in ("libr", "fifo"):  # the first trace of a rule compiles its kernels
            r = c.post("/api/v1/traces", json={"seeds": [{"transaction": SEEDS[0]}], "rule": rule})
            r.raise_for_status()
        for path in (
            "/healthz",
            f"/api/v1/accounts/{ACCOUNTS[0]}",
            f"/api/v1/traces/{r.json()['id']}",
        ):
            for _ in range(20):  # warm the connections, caches and compiled statements
                c.get(path).raise_for_status()
        return str(r.json()["id"])


def scenarios(seconds: float, soak: float) -> list[tuple[Run, list[tuple[str, int]]]]:
    if soak:
        return [
            (Run("floor-8", 8, seconds), [("healthz", 1)]),
            (Run("soak-8", 8, soak), OFFICE_MIX),
        ]
    return [
        (Run("floor-1", 1, seconds), [("healthz", 1)]),
        (Run("reads-1", 1, seconds), READS),
        (Run("floor-8", 8, seconds), [("healthz", 1)]),
        (Run("reads-8", 8, seconds), READS),
        (Run("mixed-8", 8, seconds), OFFICE_MIX),
    ]


def report(db: str, workers: int, runs: list[Run]) -> None:
    floors = {r.clients: r for r in runs if r.name.startswith("floor")}
    print(f"\n### {db}, {workers} worker(s)\n")
    print("| run | op | requests | req/s | ratio to floor | p50 ms | p99 ms | max ms | errors |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for run in runs:
        floor = floors[run.clients]
        for op in [*sorted(run.samples), "all"]:
            vs = run.everything if op == "all" else run.samples[op]
            if not vs or (op == "all" and len(run.samples) == 1):
                continue
            rate = len(vs) / run.seconds
            ratio = f"{rate / floor.rate:.2f}" if op == "all" or len(run.samples) == 1 else ""
            errs = (
                sum(run.errors.values())
                if op == "all"
                else sum(n for k, n in run.errors.items() if k.startswith(f"{op}:"))
            )
            print(
                f"| {run.name} | {op} | {len(vs)} | {rate:.1f} | {ratio} | {pct(vs, 0.5):.1f} "
                f"| {pct(vs, 0.99):.1f} | {max(vs) * 1000:.1f} | {errs} |"
            )
    print("\n| run | p50 above floor p50 (ms) | RSS 1 min (MB) | RSS end (MB) | load average |")
    print("|---|---:|---:|---:|---|")
    for run in runs:
        floor = floors[run.clients]
        above = pct(run.everything, 0.5) - pct(floor.everything, 0.5)
        minute = f"{run.rss_minute_mb:.0f}" if run.rss_minute_mb is not None else "-"
        load = " ".join(f"{x:.2f}" for x in run.load)
        print(f"| {run.name} | {above:+.2f} | {minute} | {run.rss_end_mb:.0f} | {load} |")
    for run in runs:
        if run.errors:
            print(f"errors in {run.name}: {dict(run.errors)}")


def bench(db: str, args: argparse.Namespace) -> int:
    folder = Path(tempfile.mkdtemp(prefix="mt-office-"))
    env = {"MONEYTRAIL_LOG_LEVEL": "WARNING", "MONEYTRAIL_DATA_DIR": str(folder)}
    with (
        service.fresh_database(db, folder) as url,
        service.running_service(
            url, folder / "service.log", role="admin", env=env, serve_args=serve_args(args.workers)
        ) as svc,
    ):
        office = Office(prepare(svc.base, svc.key))
        runs = []
        for run, mix in scenarios(args.seconds, args.soak):
            asyncio.run(drive(svc.base, svc.key, office, run, mix, svc.pid))
            runs.append(run)
    report(db, args.workers, runs)
    return sum(sum(r.errors.values()) for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], action="append")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--soak", type=float, default=0, help="seconds of mixed load instead")
    args = parser.parse_args()
    random.seed(7)
    print(f"moneytrail office benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    errors = sum(bench(db, args) for db in args.db or ["sqlite"])
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
