"""In-process A/B of the engine: a reference commit's ``tracing`` against the working tree's.

Both are loaded side by side (see :func:`benchmarks.identity.load_ref`), each builds its own
index of the same synthetic ledger, and every measurement alternates old and new calls, so
the machine's drift (other processes, memory returned to the host) hits both alike. A row
gives each side's median and the median of the paired ratios new / old.

Measured, per workload (twenty seed accounts, six hops; ``local``: high-degree cut-off 50,
``saturated``: none): the trace with rule ``reach`` and ``libr``, and for the local traces the
four public frames of the result (accounts, flows, exits, flags) built after the trace, with
their ratio to the trace itself (issue 23: at most 3x).

Usage::

    python -m benchmarks.ab [--ref COMMIT] [--size 1m] [--pairs 41]
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import time
from collections.abc import Callable
from decimal import Decimal
from types import ModuleType
from typing import Any

import numpy as np

from benchmarks.identity import load_ref, reference
from benchmarks.synthetic import generate_ledger

SIZES = {"100k": 100_000, "1m": 1_000_000}
PUBLIC = ("accounts", "flows", "exits", "flags")


def _params(module: ModuleType, keys: list[str], rule: str, cutoff: int | None) -> Any:
    seeds = tuple(
        module.AccountSeed(account=k, currency="EUR", amount=Decimal("1000.00")) for k in keys
    )
    return module.TraceParams(seeds=seeds, rule=rule, max_hops=6, max_counterparties=cutoff)


def _frames(result: Any) -> None:
    for name in PUBLIC:
        getattr(result, name)


def paired(old: Callable[[], Any], new: Callable[[], Any], pairs: int) -> tuple[float, ...]:
    """Medians of old and new (seconds) and of the paired ratios, calls interleaved."""
    old(), new()  # warm: compiled, cached, buffers touched
    t_old, t_new = [], []
    for i in range(pairs):
        calls = ((old, t_old), (new, t_new))
        for fn, out in calls if i % 2 else calls[::-1]:
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    ratios = [n / o for o, n in zip(t_old, t_new, strict=True)]
    return statistics.median(t_old), statistics.median(t_new), statistics.median(ratios)


def _frames_after_trace(module: ModuleType, ledger: Any, params: Any) -> Callable[[], float]:
    """A call that traces, then times only the public frames of the result."""

    def run() -> float:
        result = module.trace(ledger, params)
        start = time.perf_counter()
        _frames(result)
        return time.perf_counter() - start

    return run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", help="reference commit (default: where HEAD left main)")
    parser.add_argument("--size", default="1m", choices=SIZES)
    parser.add_argument("--pairs", type=int, default=41)
    args = parser.parse_args(argv)
    commit = reference(args.ref)
    ref, new = load_ref(commit), importlib.import_module("tracing")
    frame = generate_ledger(SIZES[args.size])
    ledgers = {"old": ref.Ledger.from_frame(frame), "new": new.Ledger.from_frame(frame)}
    del frame
    led = ledgers["new"]
    rng = np.random.default_rng(7)  # the seeds of benchmarks/trace.py
    active = np.flatnonzero(np.diff(led.adj.out_ptr) > 0)
    seeds = np.sort(rng.choice(active, 20, replace=False))
    keys = led.account_keys.gather(led.node_account[seeds]).to_list()
    print(f"reference {commit}, {args.size}, {args.pairs} pairs, load {os.getloadavg()}")
    print("| trace | old | new | new / old |\n|---|--:|--:|--:|")
    for workload, cutoff in (("local", 50), ("saturated", None)):
        for rule in ("reach", "libr"):
            po, pn = _params(ref, keys, rule, cutoff), _params(new, keys, rule, cutoff)
            o, n, r = paired(
                lambda p=po: ref.trace(ledgers["old"], p),
                lambda p=pn: new.trace(ledgers["new"], p),
                args.pairs,
            )
            print(
                f"| {args.size} {workload} {rule} | {o * 1e3:.2f} ms | {n * 1e3:.2f} ms | {r:.2f} |"
            )
    print("\n| local result | trace (new) | frames old | frames new | new / old | frames / trace |")
    print("|---|--:|--:|--:|--:|--:|")
    for rule in ("reach", "libr"):
        po, pn = _params(ref, keys, rule, 50), _params(new, keys, rule, 50)
        frames_old = _frames_after_trace(ref, ledgers["old"], po)
        frames_new = _frames_after_trace(new, ledgers["new"], pn)
        f_old, f_new = [], []
        for _ in range(args.pairs):
            f_old.append(frames_old())
            f_new.append(frames_new())
        _, t_trace, _ = paired(
            lambda p=pn: new.trace(ledgers["new"], p),
            lambda p=pn: new.trace(ledgers["new"], p),
            args.pairs,
        )
        fo, fn = statistics.median(f_old), statistics.median(f_new)
        ratio = statistics.median(n / o for o, n in zip(f_old, f_new, strict=True))
        result = new.trace(ledgers["new"], pn)
        print(
            f"| {args.size} {rule}, {len(result.accounts)} accounts | {t_trace * 1e3:.2f} ms "
            f"| {fo * 1e3:.2f} ms | {fn * 1e3:.2f} ms | {ratio:.2f} | {fn / t_trace:.1f} |"
        )
    print(f"load at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
