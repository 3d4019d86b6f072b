"""A/B of the engine: a reference commit's ``tracing`` against the working tree's, one process each.

Two engines in one process bias each other: once both pass named-tuple records to their
kernels, Numba types the second engine's arguments on its slow path on every call (a local
trace at 1M took 0.55 ms beside the reference and 0.11 ms alone). So each engine runs in a
worker process of its own (``--serve old|new``), both reading the same ledger file
(``benchmarks/out/ab/<size>.parquet``, generated once by :mod:`benchmarks.synthetic`) and
tracing from the same seeds (those of ``benchmarks/trace.py``, picked by the new worker and
handed to the old). The parent asks them in turn, never both at once, alternating which goes
first: a pair is one batch of calls on each side, so the machine's drift hits both alike. A
row gives each side's median and the median of the paired ratios new / old.

Measured, per workload (twenty seed accounts, six hops; ``local``: high-degree cut-off 50,
``saturated``: none): the trace with rule ``reach`` and ``libr``, and for the local traces the
four public frames of the result (accounts, flows, exits, flags) built after the trace, with
their ratio to the trace itself (issue 23: at most 3x).

Usage::

    python -m benchmarks.ab [--ref COMMIT] [--size 1m] [--pairs 31] [--rules reach,libr]

``--rules`` picks other rules (``fifo,lifo`` measure the lot kernels of tracing.rules.lots).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import polars as pl

from benchmarks.identity import load_ref, reference
from benchmarks.synthetic import generate_ledger

SIZES = {"100k": 100_000, "1m": 1_000_000}
PUBLIC = ("accounts", "flows", "exits", "flags")
OUT = Path(__file__).parent / "out" / "ab"
WORKLOADS = {"local": 50, "saturated": None}
# calls a side makes per pair: a local trace is a fraction of a millisecond, one call is noise
BATCH = {"local": 15, "saturated": 3}


def ledger_file(size: str) -> Path:
    """The synthetic ledger both workers read, written on first use."""
    path = OUT / f"{size}.parquet"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.part")
        generate_ledger(SIZES[size]).write_parquet(partial)
        partial.rename(path)
    return path


def _params(module: ModuleType, keys: list[str], rule: str, cutoff: int | None) -> Any:
    seeds = tuple(
        module.AccountSeed(account=k, currency="EUR", amount=Decimal("1000.00")) for k in keys
    )
    return module.TraceParams(seeds=seeds, rule=rule, max_hops=6, max_counterparties=cutoff)


def _seed_keys(ledger: Any) -> list[str]:
    rng = np.random.default_rng(7)  # the seeds of benchmarks/trace.py
    active = np.flatnonzero(np.diff(ledger.adj.out_ptr) > 0)
    seeds = np.sort(rng.choice(active, 20, replace=False))
    return ledger.account_keys.gather(ledger.node_account[seeds]).to_list()


def serve(side: str, commit: str, path: Path) -> None:
    """A worker: one engine, one ledger; answers one JSON request a line on stdin."""
    module = load_ref(commit) if side == "old" else importlib.import_module("tracing")
    ledger = module.Ledger.from_frame(pl.read_parquet(path))
    out = sys.stdout
    out.write(json.dumps({"keys": _seed_keys(ledger) if side == "new" else None}) + "\n")
    out.flush()
    keys: list[str] = []
    for line in sys.stdin:
        request = json.loads(line)
        if "keys" in request:
            keys = request["keys"]
            out.write("{}\n")
            out.flush()
            continue
        params = _params(module, keys, request["rule"], WORKLOADS[request["workload"]])
        times = []
        for _ in range(request["calls"]):
            start = time.perf_counter()
            result = module.trace(ledger, params)
            traced = time.perf_counter()
            if request["frames"]:
                for name in PUBLIC:
                    getattr(result, name)
            end = time.perf_counter()
            times.append((traced - start, end - traced, len(result.accounts)))
        out.write(json.dumps(times) + "\n")
        out.flush()


class Worker:
    """A ``--serve`` process, asked one request at a time."""

    def __init__(self, side: str, commit: str, path: Path) -> None:
        command = [sys.executable, "-m", "benchmarks.ab", "--serve", side, "--ref", commit]
        command += ["--ledger", str(path)]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.hello: dict[str, Any] = self._read()

    def _read(self) -> Any:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"worker exited with {self.process.wait()}")
        return json.loads(line)

    def ask(self, request: dict[str, Any]) -> Any:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request).encode() + b"\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait()


def paired(workers: dict[str, Worker], request: dict[str, Any], pairs: int) -> dict[str, Any]:
    """Per side: median trace and frame times; the medians of the paired ratios new / old."""
    for worker in workers.values():  # warm: compiled, cached, buffers touched
        worker.ask({**request, "calls": 3})
    runs: dict[str, list[list[tuple[float, float, int]]]] = {"old": [], "new": []}
    for i in range(pairs):
        order = ("old", "new") if i % 2 else ("new", "old")
        for side in order:
            runs[side].append(workers[side].ask(request))

    def median(side: str, column: int, pair: int | None = None) -> float:
        chosen = runs[side] if pair is None else [runs[side][pair]]
        return statistics.median(call[column] for batch in chosen for call in batch)

    def ratio(column: int) -> float:
        return statistics.median(
            median("new", column, i) / median("old", column, i) for i in range(pairs)
        )

    return {
        "old": median("old", 0),
        "new": median("new", 0),
        "ratio": ratio(0),
        "frames_old": median("old", 1),
        "frames_new": median("new", 1),
        "frames_ratio": ratio(1) if request["frames"] else float("nan"),
        "accounts": runs["new"][0][0][2],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", help="reference commit (default: where HEAD left main)")
    parser.add_argument("--size", default="1m", choices=SIZES)
    parser.add_argument("--pairs", type=int, default=31)
    parser.add_argument("--rules", default="reach,libr", help="comma-separated rules to trace")
    parser.add_argument("--serve", choices=("old", "new"), help=argparse.SUPPRESS)
    parser.add_argument("--ledger", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    commit = reference(args.ref)
    if args.serve:
        serve(args.serve, commit, args.ledger)
        return
    load_ref(commit)  # unpack the reference once, before two workers race for it
    path = ledger_file(args.size)
    workers = {side: Worker(side, commit, path) for side in ("new", "old")}
    try:
        for worker in workers.values():
            worker.ask({"keys": workers["new"].hello["keys"]})
        print(f"reference {commit}, {args.size}, {args.pairs} pairs, one process an engine")
        print(f"load at the start {os.getloadavg()}")
        print("| trace | old | new | new / old |\n|---|--:|--:|--:|")
        local = {}
        for workload in WORKLOADS:
            for rule in args.rules.split(","):
                frames = workload == "local"
                request = {"workload": workload, "rule": rule, "frames": frames}
                got = paired(workers, {**request, "calls": BATCH[workload]}, args.pairs)
                if frames:
                    local[rule] = got
                print(
                    f"| {args.size} {workload} {rule} | {got['old'] * 1e3:.3f} ms "
                    f"| {got['new'] * 1e3:.3f} ms | {got['ratio']:.2f} |",
                    flush=True,
                )
        columns = ("trace (new)", "frames old", "frames new", "new / old", "frames / trace")
        print(f"\n| local result | {' | '.join(columns)} |")
        print("|---|--:|--:|--:|--:|--:|")
        for rule, got in local.items():
            print(
                f"| {args.size} {rule}, {got['accounts']} accounts | {got['new'] * 1e3:.3f} ms "
                f"| {got['frames_old'] * 1e3:.2f} ms | {got['frames_new'] * 1e3:.2f} ms "
                f"| {got['frames_ratio']:.2f} | {got['frames_new'] / got['new']:.1f} |"
            )
        print(f"load at the end {os.getloadavg()}")
    finally:
        for worker in workers.values():
            worker.close()


if __name__ == "__main__":
    main()
