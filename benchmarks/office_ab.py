"""Interleaved A/B of one-client audited reads against the /healthz floor, two trees at once.

Two servers run side by side, each from its own source tree (exported with `git archive`), on
fresh databases; rounds alternate between them (ABBA), so both see the same machine. Per tree
it reports the p50 of the floor and of the reads (`GET /accounts/{key}` and `/traces/{id}`
alternately), and the server's CPU per request from /proc (less sensitive to a busy machine
than latency).

    git archive main | tar -x -C /tmp/ab_main; git archive HEAD | tar -x -C /tmp/ab_branch
    .venv/bin/python -m benchmarks.office_ab --db sqlite /tmp/ab_main /tmp/ab_branch
"""

import argparse
import contextlib
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks import service
from benchmarks.load import ACCOUNTS
from benchmarks.office import prepare


def cpu_seconds(pid: int) -> float:
    """User and system CPU of every thread of `pid` so far."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(FileNotFoundError):
            fields = Path(f"/proc/{pid}/task/{task}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def burst(svc: service.Service, paths: list[str], seconds: float) -> tuple[list[float], float]:
    """One client for `seconds`: latencies, and the server's CPU ms per request."""
    times: list[float] = []
    headers = {"Authorization": f"Bearer {svc.key}"}
    with httpx.Client(base_url=svc.base, headers=headers) as client:
        before, end = cpu_seconds(svc.pid), time.perf_counter() + seconds
        while time.perf_counter() < end:
            t = time.perf_counter()
            client.get(paths[len(times) % len(paths)]).raise_for_status()
            times.append(time.perf_counter() - t)
    return times, (cpu_seconds(svc.pid) - before) * 1000 / len(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("trees", nargs=2, help="source trees: before, after")
    args = parser.parse_args()
    names = ("before", "after")
    with contextlib.ExitStack() as stack:
        servers: dict[str, tuple[service.Service, list[str]]] = {}
        for name, tree in zip(names, args.trees, strict=True):
            os.chdir(tree)  # `moneytrail serve` runs the tree's own code
            folder = Path(tempfile.mkdtemp(prefix=f"mt-ab-{name}-"))
            env = {"MONEYTRAIL_LOG_LEVEL": "WARNING", "MONEYTRAIL_DATA_DIR": str(folder)}
            url = stack.enter_context(service.fresh_database(args.db, folder))
            svc = stack.enter_context(
                service.running_service(
                    url, folder / "service.log", role="admin", env=env, ready_within=900
                )
            )
            trace_id = prepare(svc.base, svc.key)
            servers[name] = (svc, [f"/api/v1/accounts/{ACCOUNTS[0]}", f"/api/v1/traces/{trace_id}"])
        times: dict[tuple[str, str], list[float]] = {(n, k): [] for n in names for k in "fr"}
        cpu: dict[tuple[str, str], list[float]] = {(n, k): [] for n in names for k in "fr"}
        for r in range(args.rounds):
            for name in names if r % 2 == 0 else names[::-1]:
                svc, reads = servers[name]
                for kind, paths in (("f", ["/healthz"]), ("r", reads)):
                    ts, per_request = burst(svc, paths, args.seconds)
                    times[(name, kind)] += ts
                    cpu[(name, kind)].append(per_request)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{args.db}: {args.rounds} rounds x {args.seconds:.0f} s, interleaved; load {load}")
    print("| code | floor p50 ms | read p50 ms | read above floor ms | floor CPU ms/req |", end="")
    print(" read CPU ms/req | reads per floor request |")
    print("|---|--:|--:|--:|--:|--:|--:|")
    for name, tree in zip(names, args.trees, strict=True):
        floor, read = times[(name, "f")], times[(name, "r")]
        f50, r50 = statistics.median(floor) * 1000, statistics.median(read) * 1000
        print(
            f"| {name} ({tree}) | {f50:.2f} | {r50:.2f} | {r50 - f50:+.2f} "
            f"| {statistics.median(cpu[(name, 'f')]):.2f} "
            f"| {statistics.median(cpu[(name, 'r')]):.2f} | {len(read) / len(floor):.2f} |"
        )


if __name__ == "__main__":
    main()
