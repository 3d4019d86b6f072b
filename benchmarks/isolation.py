"""Isolation (issue 23): do reads wait for another caller's long work?

Starts its own server (fresh SQLite file, or a fresh PostgreSQL database with --db postgresql),
loads the demo case and a synthetic ledger of --rows transactions (benchmarks.synthetic), then
runs the mixed office load of benchmarks/load.py (--clients clients: account reads, histories,
transaction lookups, small JSON batches, small traces, audit listings) twice:

1. quiet: the mixed load alone, for --seconds;
2. busy: the same mixed load while one more client uploads a CSV of another --rows rows and
   another runs saturated traces (an early seed on the big ledger, every hop allowed) one after
   another; it lasts until the upload is answered, and at least --seconds.

It prints, per phase, the reads' p50/p99/max (GET account, history, transaction, audit list),
every operation's p99, errors (any 5xx, transport failure or unexpected status; target 0), the
load average at the start and end, and the busy/quiet ratio of the reads' p99 (target <= 3).

    .venv/bin/python -m benchmarks.isolation --rows 1000000 --seconds 60 [--db postgresql]
"""

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import polars as pl

from benchmarks import service
from benchmarks.load import MIX, one, pct
from benchmarks.synthetic import generate_ledger, with_valid_ibans

READS = ("get_account", "account_history", "get_transaction", "list_audit")
SATURATED_SEED = "T0000001"  # the earliest transfer: its money has the whole year to travel


@dataclass
class Phase:
    name: str
    samples: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    seconds: float = 0.0
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    notes: list[str] = field(default_factory=list)

    def reads(self) -> list[float]:
        return [v for op in READS for v in self.samples.get(op, [])]


async def mixed_client(client: httpx.AsyncClient, done: asyncio.Event, phase: Phase) -> None:
    ops, weights = zip(*MIX, strict=True)
    while not done.is_set():
        op = random.choices(ops, weights)[0]
        started = time.perf_counter()
        try:
            status: int | str = await one(client, op)
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        phase.samples[op].append(time.perf_counter() - started)
        if status not in (200, 201):
            phase.errors[f"{op}:{status}"] += 1


async def upload_client(client: httpx.AsyncClient, path: Path, phase: Phase) -> None:
    started = time.perf_counter()
    with path.open("rb") as f:
        r = await client.post(
            "/api/v1/transactions/upload",
            files={"file": ("busy.csv", f.read())},
            data={"kind": "bank_statement", "reference": f"ISOLATION-{os.getpid()}"},
            timeout=3600,
        )
    took = time.perf_counter() - started
    phase.notes.append(f"upload of {path.name}: {r.status_code} in {took:.1f} s")
    if r.status_code != 201:
        phase.errors[f"upload:{r.status_code}"] += 1
        phase.notes.append(r.text[:300])


async def trace_once(client: httpx.AsyncClient) -> tuple[int, int | None]:
    """One saturated trace, followed to its end if it became a job; (status, accounts)."""
    body = {"seeds": [{"transaction": SATURATED_SEED}], "rule": "fifo", "max_hops": 20}
    r = await client.post("/api/v1/traces", json=body, timeout=3600)
    if r.status_code == 202:  # a job: poll it to its end
        trace_id = r.json()["id"]
        while r.status_code in (200, 202) and r.json()["status"] == "running":
            await asyncio.sleep(0.5)
            r = await client.get(f"/api/v1/traces/{trace_id}", timeout=600)
        if r.status_code == 200 and r.json()["status"] != "done":
            return 500, None
    accounts = None
    if r.status_code in (200, 201):
        accounts = (r.json().get("summary") or {}).get("accounts_reached")
    return r.status_code, accounts


async def trace_client(client: httpx.AsyncClient, done: asyncio.Event, phase: Phase) -> None:
    while not done.is_set():
        started = time.perf_counter()
        try:
            status, accounts = await trace_once(client)
        except httpx.HTTPError:
            status, accounts = 0, None
        phase.samples["saturated_trace"].append(time.perf_counter() - started)
        if status not in (200, 201):
            phase.errors[f"saturated_trace:{status}"] += 1
        if len(phase.samples["saturated_trace"]) == 1:
            phase.notes.append(f"saturated trace reached {accounts} accounts")


async def run_phase(
    base: str,
    key: str,
    phase: Phase,
    *,
    clients: int,
    seconds: float,
    upload: Path | None,
    traces: bool = False,
) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=clients + 2)
    done = asyncio.Event()
    phase.load_before = os.getloadavg()
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120, limits=limits) as c:
        started = time.perf_counter()
        workers = [asyncio.create_task(mixed_client(c, done, phase)) for _ in range(clients)]
        uploading = (
            asyncio.create_task(upload_client(c, upload, phase)) if upload is not None else None
        )
        tracing = [asyncio.create_task(trace_client(c, done, phase))] if traces else []
        await asyncio.sleep(seconds)
        if uploading is not None:
            await uploading  # the busy phase lasts as long as the upload
        done.set()
        await asyncio.gather(*workers, *tracing)
        phase.seconds = time.perf_counter() - started
    phase.load_after = os.getloadavg()


def report(quiet: Phase, busy: Phase, args: argparse.Namespace) -> int:
    print(
        f"moneytrail isolation: {args.db}, {args.rows:,} rows, {args.clients} clients, "
        f"busy: {args.busy}"
    )
    print(
        f"{'phase':6} {'reads':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>9} {'req/s':>7} "
        f"{'errors':>6}  load average (start -> end)"
    )
    for p in (quiet, busy):
        reads = p.reads()
        total = sum(len(v) for op, v in p.samples.items() if op != "saturated_trace")
        print(
            f"{p.name:6} {len(reads):7d} {pct(reads, 0.5):8.1f} {pct(reads, 0.99):8.1f} "
            f"{max(reads) * 1000:9.1f} {total / p.seconds:7.1f} {sum(p.errors.values()):6d}  "
            f"{' '.join(f'{x:.2f}' for x in p.load_before)} -> "
            f"{' '.join(f'{x:.2f}' for x in p.load_after)}"
        )
    print("p99 per operation (ms):")
    for op in [o for o, _ in MIX] + ["saturated_trace"]:
        cells = [
            f"{p.name} {pct(p.samples[op], 0.99):9.1f} (n={len(p.samples[op])})"
            for p in (quiet, busy)
            if p.samples.get(op)
        ]
        print(f"  {op:18} " + "   ".join(cells))
    for p in (quiet, busy):
        for note in p.notes:
            print(f"{p.name}: {note}")
        if p.errors:
            print(f"{p.name} errors: {dict(p.errors)}")
    ratio = pct(busy.reads(), 0.99) / pct(quiet.reads(), 0.99)
    errors = sum(quiet.errors.values()) + sum(busy.errors.values())
    print(f"reads' p99 busy/quiet: {ratio:.2f}x (target <= 3); errors: {errors} (target 0)")
    return 0 if ratio <= 3 and errors == 0 else 1


def _upload_ledger(base: str, key: str, path: Path, reference: str) -> None:
    started = time.perf_counter()
    with path.open("rb") as f:
        r = httpx.post(
            f"{base}/api/v1/transactions/upload",
            headers={"Authorization": f"Bearer {key}"},
            files={"file": (path.name, f)},
            data={"kind": "bank_statement", "reference": reference},
            timeout=3600,
        )
    if r.status_code >= 400:
        sys.exit(f"upload of {path.name}: {r.status_code} {r.text[:2000]}")
    print(f"loaded {path.name} in {time.perf_counter() - started:.1f} s", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--busy",
        choices=["both", "upload", "trace"],
        default="both",
        help="what runs beside the mixed load in the busy phase (to tell their effects apart)",
    )
    args = parser.parse_args()
    random.seed(7)
    folder = Path(tempfile.mkdtemp(prefix="mt-isolation-"))
    ledger, busy_file = folder / "ledger.csv", folder / "busy.csv"
    with_valid_ibans(generate_ledger(args.rows, seed=42)).write_csv(ledger)
    with_valid_ibans(generate_ledger(args.rows, seed=43)).with_columns(
        ("U" + pl.col("external_id")).alias("external_id")
    ).write_csv(busy_file)
    env = {"MONEYTRAIL_LOG_LEVEL": "WARNING"}
    with (
        service.fresh_database(args.db, folder) as url,
        service.running_service(
            url, folder / "service.log", role="admin", env=env, ready_within=900
        ) as svc,
    ):
        headers = {"Authorization": f"Bearer {svc.key}"}
        httpx.post(f"{svc.base}/api/v1/demo", headers=headers, timeout=600).raise_for_status()
        _upload_ledger(svc.base, svc.key, ledger, "ISOLATION-LEDGER")
        # The first trace on the big ledger builds its index and compiles the kernels.
        started = time.perf_counter()
        async_client = httpx.AsyncClient(base_url=svc.base, headers=headers)
        status, accounts = asyncio.run(_warm(async_client))
        print(
            f"first saturated trace: {status}, {accounts} accounts, "
            f"{time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
        quiet, busy = Phase("quiet"), Phase("busy")
        asyncio.run(
            run_phase(
                svc.base, svc.key, quiet, clients=args.clients, seconds=args.seconds, upload=None
            )
        )
        asyncio.run(
            run_phase(
                svc.base,
                svc.key,
                busy,
                clients=args.clients,
                seconds=args.seconds,
                upload=busy_file if args.busy in ("both", "upload") else None,
                traces=args.busy in ("both", "trace"),
            )
        )
    sys.exit(report(quiet, busy, args))


async def _warm(client: httpx.AsyncClient) -> tuple[int, int | None]:
    async with client:
        return await trace_once(client)


if __name__ == "__main__":
    main()
