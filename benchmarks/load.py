"""Hold a mixed read/write load on a running moneytrail for a bounded time, on 127.0.0.1 only.

Starts its own server (fresh SQLite file, or a fresh PostgreSQL database with --db postgresql),
loads the demo case, then runs --clients concurrent clients for --seconds: account reads,
account histories, transaction lookups, small JSON batches of new transactions, traces and
audit listings. Prints throughput, p50/p99 latency per operation and overall, and the number
of errors (any 5xx, transport failure or unexpected status). The target is zero errors.

    .venv/bin/python -m benchmarks.load --seconds 30 --clients 8 [--db postgresql]
"""

import argparse
import asyncio
import itertools
import os
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx

from benchmarks import service

ACCOUNTS = [
    "iban:DE44500105175407324931",
    "iban:DE02120300000000202051",
    "iban:NL91ABNA0417164300",
    "iban:DE75512108001245126199",
    "iban:GB29NWBK60161331926819",
    "iban:CY17002001280000001200527600",
]
SEEDS = ["DEMO-D01", "DEMO-D02", "DEMO-D03", "DEMO-D04", "DEMO-D05"]
MIX = [
    ("get_account", 35),
    ("account_history", 25),
    ("get_transaction", 15),
    ("post_batch", 12),
    ("run_trace", 8),
    ("list_audit", 5),
]
counter = itertools.count()


async def one(client: httpx.AsyncClient, op: str) -> int:
    if op == "get_account":
        r = await client.get(f"/api/v1/accounts/{random.choice(ACCOUNTS)}")
    elif op == "account_history":
        r = await client.get(
            f"/api/v1/accounts/{random.choice(ACCOUNTS)}/transactions", params={"limit": 50}
        )
    elif op == "get_transaction":
        r = await client.get(f"/api/v1/transactions/{random.choice(SEEDS)}")
    elif op == "post_batch":
        n = next(counter)
        rows = [
            {
                "external_id": f"LOAD-{os.getpid()}-{n}-{i}",
                "from_account": random.choice(ACCOUNTS),
                "to_account": f"acct:load-{random.randrange(500)}",
                "amount": f"{random.randrange(1, 9999)}.00",
                "currency": "EUR",
                "value_time": "2026-03-01T10:00:00Z",
            }
            for i in range(10)
        ]
        r = await client.post(
            "/api/v1/transactions/batch",
            json={"source": {"kind": "load_test", "reference": f"LOAD-{n}"}, "transactions": rows},
        )
    elif op == "run_trace":
        r = await client.post(
            "/api/v1/traces",
            json={
                "seeds": [{"transaction": random.choice(SEEDS)}],
                "rule": random.choice(["fifo", "libr"]),
            },
        )
    else:
        r = await client.get("/api/v1/audit", params={"limit": 20})
    return r.status_code


async def worker(
    client: httpx.AsyncClient, until: float, samples: dict[str, list[float]], errors: dict[str, int]
) -> None:
    ops, weights = zip(*MIX, strict=True)
    while time.perf_counter() < until:
        op = random.choices(ops, weights)[0]
        started = time.perf_counter()
        try:
            status = await one(client, op)
        except httpx.HTTPError:
            status = 0
        samples[op].append(time.perf_counter() - started)
        if status not in (200, 201):
            errors[f"{op}:{status}"] += 1


async def drive(base: str, key: str, seconds: float, clients: int) -> tuple[dict, dict, float]:
    samples: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60, limits=limits) as c:
        started = time.perf_counter()
        until = started + seconds
        await asyncio.gather(*(worker(c, until, samples, errors) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return samples, errors, elapsed


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    random.seed(7)
    folder = Path(tempfile.mkdtemp(prefix="mt-load-"))
    with (
        service.fresh_database(args.db, folder) as url,
        service.running_service(
            url, folder / "service.log", role="admin", env={"MONEYTRAIL_LOG_LEVEL": "WARNING"}
        ) as svc,
    ):
        headers = {"Authorization": f"Bearer {svc.key}"}
        httpx.post(f"{svc.base}/api/v1/demo", headers=headers, timeout=60)
        samples, errors, elapsed = asyncio.run(drive(svc.base, svc.key, args.seconds, args.clients))
    everything = [v for vs in samples.values() for v in vs]
    print(f"moneytrail load test: {args.db}, {args.clients} clients, {elapsed:.1f} s on 127.0.0.1")
    print(f"{'operation':18} {'requests':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for op, _ in MIX:
        vs = samples.get(op, [])
        if vs:
            print(f"{op:18} {len(vs):9d} {pct(vs, 0.5):8.1f} {pct(vs, 0.99):8.1f}")
    print(
        f"{'all':18} {len(everything):9d} {pct(everything, 0.5):8.1f} {pct(everything, 0.99):8.1f}"
    )
    print(
        f"throughput: {len(everything) / elapsed:.1f} requests/s; "
        f"mean {statistics.mean(everything) * 1000:.1f} ms"
    )
    total_errors = sum(errors.values())
    print(f"errors: {total_errors} {dict(errors) if errors else ''}")
    sys.exit(1 if total_errors else 0)


if __name__ == "__main__":
    main()
