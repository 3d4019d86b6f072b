"""The first trace of each rule after `moneytrail serve`, against the tenth (issue 14, item 7).

A fresh SQLite database is migrated, `moneytrail serve` starts on it in a subprocess (the clock
starts at launch and stops when `/readyz` answers 200: the start-up the user waits for), and the
demo case is loaded. Then, for each rule and each shape of request (the README's five seed
transactions; an account seed with an amount; for reach also backward, a same-day policy and a
counterparty cut-off), the same request is sent ten times with `max_hops` varied so that no run
repeats a stored one. The table shows the first round trip, the tenth, and their ratio.

The compiled kernels come from numba's on-disk cache when it is current; `--cold` first empties
the cache (the `__pycache__/*.nbi|nbc` files beside the engine's modules), which is what a fresh
install or an edited engine sees.

Measured (2 cores, load average 18, cached kernels): before the warm-up covered every kernel
and ran before start-up completed, the first reach trace took 4.27 s (tenth: 0.035 s) and the
first backward reach trace took over 10 s and answered 202. After: every first trace of each
rule and shape took 0.016-0.035 s, the tenth 0.015-0.036 s; launch to ready took 22 s.

Usage (from the repository root)::

    .venv/bin/python -m benchmarks.first_trace
    .venv/bin/python -m benchmarks.first_trace --cold
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

import tracing
from app import migrate
from app.demo.service import EXCHANGE_ACCOUNT, SEED_TRANSACTIONS
from benchmarks import service

RULES = ("reach", "poison", "haircut", "fifo", "lifo", "libr")
ROUNDS = 10


def _shapes(rule: str) -> dict[str, dict[str, Any]]:
    seeds = [{"transaction": t} for t in SEED_TRANSACTIONS]
    account = {"account": "iban:DE44500105175407324931", "amount": "1000.00", "currency": "EUR"}
    shapes: dict[str, dict[str, Any]] = {
        "seed transactions": {"seeds": seeds, "rule": rule, "stop_at": [EXCHANGE_ACCOUNT]},
        "account seed": {"seeds": [account], "rule": rule, "same_day_policy": "worst_case"},
    }
    if rule == "reach":
        shapes["backward, best case, cut-off"] = {
            "seeds": [{"account": EXCHANGE_ACCOUNT, "currency": "EUR"}],
            "direction": "backward",
            "same_day_policy": "best_case",
            "max_counterparties": 3,
        }
    return shapes


def _clear_cache() -> int:
    removed = 0
    for folder in Path(tracing.__file__).parent.rglob("__pycache__"):
        for path in [*folder.glob("*.nbi"), *folder.glob("*.nbc")]:
            path.unlink()
            removed += 1
    return removed


def _timed(client: httpx.Client, body: dict[str, Any]) -> float:
    """Seconds until the trace is done: a 202 (slower than the sync wait) is polled."""
    started = time.perf_counter()
    r = client.post("/api/v1/traces", json=body)
    while r.status_code in (200, 202) and r.json()["status"] in ("queued", "running"):
        time.sleep(0.05)
        r = client.get(f"/api/v1/traces/{r.json()['id']}")
    elapsed = time.perf_counter() - started
    if r.status_code not in (200, 201) or r.json()["status"] != "done":
        raise RuntimeError(f"trace answered {r.status_code}: {r.text[:300]}")
    return elapsed


def run(folder: Path) -> None:
    with service.fresh_database("sqlite", folder) as url:
        migrate.upgrade(url)
        launched = time.perf_counter()
        with service.running_service(url, folder / "service.log", role="admin") as svc:
            ready = time.perf_counter() - launched
            print(f"launch to /readyz 200: {ready:.1f} s", flush=True)
            headers = {"Authorization": f"Bearer {svc.key}"}
            with httpx.Client(base_url=svc.base, headers=headers, timeout=120) as client:
                client.post("/api/v1/demo").raise_for_status()
                print(f"{'rule':8} {'request':32} {'first s':>8} {'tenth s':>8} {'ratio':>6}")
                for rule in RULES:
                    for name, body in _shapes(rule).items():
                        times = [_timed(client, {**body, "max_hops": 5 + i}) for i in range(ROUNDS)]
                        first, tenth = times[0], times[-1]
                        print(
                            f"{rule:8} {name:32} {first:8.3f} {tenth:8.3f} {first / tenth:6.1f}"
                            f"   (median of 2..10: {statistics.median(times[1:]):.3f})",
                            flush=True,
                        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="empty numba's cache first")
    args = parser.parse_args(argv)
    if args.cold:
        print(f"removed {_clear_cache()} cached kernel files", file=sys.stderr)
    print(f"load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="moneytrail-first-trace-") as tmp:
        run(Path(tmp))


if __name__ == "__main__":
    main()
