"""What compartments cost a trace: the same traces without a mask and with a caller's mask.

A synthetic ledger's transactions are filed in compartments as documents would be: most in
the shared pool, ``--filed`` of them spread over ten cases. The caller sees the shared pool and
one case, so the other nine cases' transactions are hidden. Per workload (those of
:mod:`benchmarks.trace`: 20 seed accounts, 6 hops, ``local`` with a cut-off of 50
counterparties, ``saturated`` without; reach and LIBR) it times, interleaved call by call so
that the machine's load falls alike on each (median and fastest of ``--repeat`` samples):

* ``plain``: no mask (what a caller who sees every compartment runs);
* ``cached``: the caller's mask looked up in the runtime's cache
  (:func:`app.trace.filing.cached_mask`), then the trace: every trace after a caller's first;
* ``cached + read``: ``cached``, then which cases the trace read
  (:meth:`app.trace.filing.Filing.read_by`): what the service runs per trace of a caller
  when some document is filed in a case;
* ``cold``: the mask built anew (one gather over the codes, its digest, and for a cut-off the
  visible counterparties, a pass over the ledger), then the trace: a caller's first trace on
  a ledger (timed after the others, not among them);
* ``all visible``: a mask that hides nothing: the price of the checks alone, on the same work
  as ``plain`` (a masked trace follows fewer transactions, so ``cached`` may be cheaper).

Figures: benchmarks/MASK_RESULTS.md.

For the local workloads it then also times ``--per-call`` single calls of each variant,
alternating call by call (:func:`alternating`): the median of single calls, steadier on a
loaded machine than the 20 ms samples for calls of under a millisecond.

Usage::

    python -m benchmarks.mask --sizes 100k,1m [--repeat 25] [--filed 0.2] [--per-call 2000]
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np

from app.compartments import Compartments
from app.trace.caches import BoundedCache
from app.trace.filing import Filing, MaskCache, cached_mask
from benchmarks.synthetic import generate_ledger
from tracing import AccountSeed, Ledger, Mask, Rule, TraceParams, trace

HOPS, SEEDS, CUTOFF, CASES = 6, 20, 50, 10
SIZES = {"100k": 100_000, "1m": 1_000_000}
WORKLOADS = {"local": CUTOFF, "saturated": None}
SHORT_S = 0.02  # a call shorter than this is repeated within one sample


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f}"


def _sample(fn: Callable[[], Any], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def interleaved(
    variants: dict[str, Callable[[], Any]], repeat: int
) -> dict[str, tuple[float, float]]:
    """Median and fastest time per call of each variant, the variants taking turns sample by
    sample in a shuffled order each round, so that the machine's load falls alike on each.

    Both are shown: on a machine shared by other jobs the median carries the neighbours'
    noise, and the fastest sample of a saturated trace is one whose memory was already
    faulted in (the workspace keeps a long trail's buffers every other call).
    """
    first = {name: _sample(fn, 1) for name, fn in variants.items()}  # warm-up
    calls = {n: max(1, int(SHORT_S / max(t, 1e-6))) for n, t in first.items()}
    times: dict[str, list[float]] = {name: [] for name in variants}
    rng = random.Random(5)
    names = list(variants)
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeat):
            rng.shuffle(names)
            for name in names:
                times[name].append(_sample(variants[name], calls[name]))
    finally:
        gc.enable()
    return {name: (statistics.median(t), min(t)) for name, t in times.items()}


def alternating(variants: dict[str, Callable[[], Any]], calls: int) -> dict[str, float]:
    """Median time of one call of each variant, the variants called in turn call by call.

    For calls well under a millisecond (the local workloads): each of `interleaved`'s samples
    (20 ms of calls) carries some of the neighbours' preemptions, which moved a median by 5-10 %
    at a load of 5, while most single calls run undisturbed and side by side.
    """
    times: dict[str, list[int]] = {name: [] for name in variants}
    clock = time.perf_counter_ns
    gc.collect()
    gc.disable()
    try:
        for _ in range(calls):
            for name, fn in variants.items():
                start = clock()
                fn()
                times[name].append(clock() - start)
    finally:
        gc.enable()
    return {name: statistics.median(t) / 1e9 for name, t in times.items()}


def filing_of(ledger: Ledger, filed: float) -> Filing:
    """``filed`` of the transactions spread over ten cases (ids 1..10), the rest shared."""
    rng = np.random.default_rng(11)
    codes = np.zeros(ledger.n_transactions, np.uint16)
    in_case = rng.random(ledger.n_transactions) < filed
    codes[in_case] = rng.integers(1, CASES + 1, int(in_case.sum()), dtype=np.uint16)
    return Filing(codes, tuple(range(1, CASES + 1)), f"bench-{filed}")


def run_size(label: str, n: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    print(f"\n== {label}: {n:,} transactions; load average {load()} ==", flush=True)
    ledger = Ledger.from_frame(generate_ledger(n))
    filing = filing_of(ledger, args.filed)
    caller = Compartments(every=False, cases=frozenset({1}))
    mask = filing.mask(ledger, caller)
    assert mask is not None
    print(f"hidden: {mask.hidden:,} of {ledger.n_transactions:,} transactions")
    everything = Mask.of(ledger, np.ones(ledger.n_transactions, np.bool_))
    rng = np.random.default_rng(7)
    active = np.flatnonzero(np.diff(ledger.adj.out_ptr) > 0)
    seeds = np.sort(rng.choice(active, SEEDS, replace=False))
    keys = ledger.account_keys.gather(ledger.node_account[seeds]).to_list()
    cache: MaskCache = BoundedCache(max_items=16, max_bytes=1 << 30)
    rows = []
    for workload, cutoff in WORKLOADS.items():
        plain_seeds = tuple(AccountSeed(account=k, currency="EUR") for k in keys)
        placed = tuple(
            AccountSeed(account=k, currency="EUR", amount=Decimal("1000.00")) for k in keys
        )
        for rule, seeds_of in ((Rule.REACH, plain_seeds), (Rule.LIBR, placed)):
            params = TraceParams(
                seeds=seeds_of, rule=rule, max_hops=HOPS, max_counterparties=cutoff
            )

            def plain(params: TraceParams = params) -> Any:
                return trace(ledger, params)

            def cold(params: TraceParams = params) -> Any:
                return trace(ledger, params, mask=filing.mask(ledger, caller))

            def cached(params: TraceParams = params) -> Any:
                return trace(ledger, params, mask=cached_mask(cache, ledger, filing, caller))

            def cached_read(params: TraceParams = params) -> Any:
                result = cached(params)
                return filing.read_by(ledger, result, caller)

            def all_visible(params: TraceParams = params) -> Any:
                return trace(ledger, params, mask=everything)

            variants: dict[str, Callable[[], Any]] = {
                "plain": plain,
                "cached": cached,
                "cached + read": cached_read,
                "all visible": all_visible,
            }
            times = interleaved(variants, args.repeat)
            # Apart: each cold call leaves ledger-sized arrays behind, whose freeing and
            # faulting in slowed the next call of whichever variant came after it.
            times |= interleaved({"cold": cold}, args.repeat)
            row: dict[str, Any] = {"size": label, "workload": workload, "rule": str(rule), **times}
            if cutoff is not None and args.per_call:
                row["per call"] = alternating(variants, args.per_call)
            row["load"] = load()
            rows.append(row)
            print(_line(row), flush=True)
    return rows


def _line(row: dict[str, Any]) -> str:
    median, fastest = row["plain"]
    parts = []
    for name in ("cached", "cached + read", "cold", "all visible"):
        m, f = row[name]
        parts.append(f"{name} {m * 1e3:8.2f} ms x{m / median:.2f} (fastest x{f / fastest:.2f})")
    head = f"{row['size']:>4} {row['workload']:<9} {row['rule']:<5}"
    plain = f"plain {median * 1e3:8.2f} ms (fastest {fastest * 1e3:.2f})"
    line = f"{head} {plain}  {'  '.join(parts)}  load {row['load']}"
    if "per call" in row:
        each = row["per call"]
        ratios = "  ".join(f"{n} x{t / each['plain']:.3f}" for n, t in each.items() if n != "plain")
        line += f"\n{'':>20} per call, alternating: plain {each['plain'] * 1e6:.1f} µs  {ratios}"
    return line


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100k,1m")
    parser.add_argument("--repeat", type=int, default=25)
    parser.add_argument("--filed", type=float, default=0.2)
    parser.add_argument(
        "--per-call", type=int, default=2000, help="calls per variant alternating (local; 0: none)"
    )
    args = parser.parse_args(argv)
    rows = []
    for label in args.sizes.split(","):
        rows += run_size(label, SIZES[label], args)
    print("\nmedians, ratios to plain's median (and fastest sample to fastest sample)")
    for row in rows:
        print(_line(row))


if __name__ == "__main__":
    main()
