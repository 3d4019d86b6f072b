"""Claimants and sources of funds in the engine benchmark (see benchmarks/trace.py).

* A claimant trace: the benchmark's 20 seeds, each a claimant's 1,000.00, saturated (no
  high-degree cut-off), rolling charge (haircut, pro rata), beside a plain-Python replay of the
  same rule and claimant rule with dicts, handed the reach result; both must give every
  claimant the same total held.
* Backward value traces (sources of funds, fifo and haircut, the local workload's cut-off and
  saturated; saturated haircut only up to 100k): the latest payment of the seed account with
  the most inflows, checked to sum to the payment, beside a plain-Python replay of the same
  rule with every unit labelled by origin (benchmarks/trace_sources.py), handed the backward
  search; both must give the payment the same composition.

Run alone, without the peers: ``python -m benchmarks.trace --sizes 1m --shares-only``.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import replace
from decimal import Decimal
from typing import Any

import numpy as np

from benchmarks.trace_sources import engine_sources, handed_reach, python_sources, split
from tracing import AccountSeed, Ledger, Rule, TraceParams, trace

CLAIMANTS = 20
LOCAL_CUTOFF = 50  # the benchmark's local workload
SATURATED_HAIRCUT = 100_000  # the largest ledger a saturated backward haircut is timed on


def _shares(c: int, total: int, shares: dict[int, int]) -> dict[int, int]:
    if c >= total:
        return dict(shares)
    q = {k: c * a // total for k, a in shares.items()}
    r = {k: c * a % total for k, a in shares.items()}
    for k in sorted(shares, key=lambda k: (-r[k], k))[: c - sum(q.values())]:
        q[k] += 1
    return q


def python_claimants(
    ledger: Ledger, universe: set[int], trail: set[int], placements: dict[int, tuple[int, int]]
) -> dict[int, int]:
    """Replay ``universe`` in ledger order with dicts (haircut, pro rata claimants).

    ``placements``: node -> (claimant, amount) placed before everything. Returns the total
    held per claimant.
    """
    src, dst, amount = ledger.src.tolist(), ledger.dst.tolist(), ledger.amount.tolist()
    run = {n: placements[n][1] if n in placements else 0 for n in universe}
    low = dict.fromkeys(universe, 0)
    for i in range(len(src)):
        if src[i] in universe:
            run[src[i]] -= amount[i]
            low[src[i]] = min(low[src[i]], run[src[i]])
        if dst[i] in universe:
            run[dst[i]] += amount[i]
    bal = {n: -low[n] + (placements[n][1] if n in placements else 0) for n in universe}
    taint = {n: placements[n][1] if n in placements else 0 for n in universe}
    shares: dict[int, dict[int, int]] = {n: {} for n in universe}
    for n, (claimant, value) in placements.items():
        shares[n][claimant] = value
    for i in range(len(src)):
        u, v, w = src[i], dst[i], amount[i]
        moved: dict[int, int] = {}
        if u in universe:
            carried = split(w, taint[u], bal[u])
            if carried:
                moved = _shares(carried, taint[u], shares[u])
                for k, a in moved.items():
                    shares[u][k] -= a
                    if not shares[u][k]:
                        del shares[u][k]
            bal[u] -= w
            taint[u] -= carried
        if v in universe:
            bal[v] += w
            if i in trail and moved:
                taint[v] += sum(moved.values())
                for k, a in moved.items():
                    shares[v][k] = shares[v].get(k, 0) + a
    held: dict[int, int] = defaultdict(int)
    for per in shares.values():
        for k, a in per.items():
            held[k] += a
    return held


def shares_rows(label: str, ledger: Ledger, keys: list[str], hops: int, timed: Any) -> list[dict]:
    """The claimant and backward value rows of one ledger size (saturated workload)."""
    seeds = tuple(
        AccountSeed(account=k, currency="EUR", amount=Decimal("1000.00"), claimant=f"V{i:02d}")
        for i, k in enumerate(keys)
    )
    params = TraceParams(seeds=seeds, rule=Rule.HAIRCUT, max_hops=hops)
    t_engine, out = timed(lambda: trace(ledger, params), 3)
    cpu_engine = _cpu(lambda: trace(ledger, params))
    events = out.summary["events_replayed"]
    print(f"claimant trace: {t_engine:.2f} s ({cpu_engine:.2f} s CPU), {events:,} events")
    plain = tuple(AccountSeed(account=k, currency="EUR") for k in keys)
    reach_params = TraceParams(seeds=plain, max_hops=hops)
    # the Python replay is handed the reach: the like-for-like figure is the replay phase,
    # the claimant trace less the reach trace (as the LIBR rows of benchmarks/trace.py)
    cpu_reach = _cpu(lambda: trace(ledger, reach_params))
    reach = trace(ledger, reach_params)
    acc = reach.accounts
    universe = set(ledger.account_ids(acc["account"].to_list()).tolist())
    trail = set(ledger.positions_of(reach.flows["external_id"].to_list()).tolist())
    placements = {
        int(n): (i, 100_000) for i, n in enumerate(ledger.account_ids(list(keys)).tolist())
    }
    backward = [
        row
        for rule in (Rule.FIFO, Rule.HAIRCUT)
        for cutoff in (LOCAL_CUTOFF, None)
        # saturated haircut: every split walks a hub's ~10^4 origins (13.6 s CPU at 100k)
        if cutoff is not None or rule is Rule.FIFO or ledger.n_transactions <= SATURATED_HAIRCUT
        for row in _backward(label, ledger, keys, hops, timed, rule, cutoff)
    ]
    for row in backward:
        print(f"{row['system']}: {row['median_s']:.2f} s, {row['note']}", flush=True)
    start, cpu = time.perf_counter(), time.process_time()  # one call: it takes minutes at 1M
    held = python_claimants(ledger, universe, trail, placements)
    t_py, cpu_py = time.perf_counter() - start, time.process_time() - cpu
    print(f"plain-Python claimant replay: {t_py:.2f} s ({cpu_py:.2f} s CPU)", flush=True)
    got = {
        int(name[1:]): int(Decimal(f["EUR"]["held"]) * 100)
        for name, f in out.summary["claimants"].items()
    }
    if {k: v for k, v in got.items() if v} != {k: v for k, v in held.items() if v}:
        raise SystemExit(f"plain-Python claimant replay disagrees: {held} vs {got}")
    engine = _row(label, f"engine trace(haircut, {CLAIMANTS} claimants)", t_engine, events)
    engine["note"] += f"; CPU {cpu_engine:.3f} s, {events / cpu_engine / 1e6:.1f} M events/s"
    phase = cpu_engine - cpu_reach
    rows = [
        engine,
        {
            "size": label,
            "workload": "saturated",
            "system": "plain-Python claimant replay",
            "median_s": t_py,
            "note": f"agrees (held per claimant); {t_py / t_engine:.1f}x the engine's trace; "
            f"CPU {cpu_py:.2f} s, {cpu_py / cpu_engine:.1f}x the engine's, "
            f"{cpu_py / phase:.1f}x its replay phase (claimants - reach, {phase:.3f} s)",
            "group": "claimants",
        },
    ]
    return rows + backward


def _cpu(fn: Any, at_least: float = 0.2) -> float:
    # CPU seconds of a call: on a machine shared by several benchmarks the wall time measures
    # the queue for the two cores as much as the code. Short calls are repeated (the mean).
    calls, start = 0, time.process_time()
    while not calls or time.process_time() - start < at_least:
        fn()
        calls += 1
    return (time.process_time() - start) / calls


def _backward(
    label: str,
    ledger: Ledger,
    keys: list[str],
    hops: int,
    timed: Any,
    rule: Rule,
    cutoff: int | None,
) -> list[dict]:
    # the seeds' latest payment whose payer has the most inflows: a wide backward universe
    nodes = ledger.account_ids(keys)
    inflows = np.diff(ledger.adj.in_ptr)[nodes]
    payer = int(nodes[int(np.argmax(inflows))])
    paid = np.flatnonzero(ledger.src == payer)
    seed = int(paid[np.argmax(ledger.time[paid])])
    tx = ledger.external_ids[seed]
    # Local (accounts above the cut-off are origins, not expanded) and saturated (no cut-off).
    # Saturated did not finish in five minutes at 1M while the replay kept each account's
    # taint received per origin (a hub's vector walked at every deposit), 2026-12-06.
    search = TraceParams(
        seed_transactions=(tx,), direction="backward", max_hops=hops, max_counterparties=cutoff
    )
    params = replace(search, rule=rule)
    t_engine, out = timed(lambda: trace(ledger, params), 1)
    if str(out.sources["amount"].sum()) != out.summary["currencies"]["EUR"]["seeded"]:
        raise SystemExit("the sources of the payment do not sum to it")
    cpu_engine = _cpu(lambda: trace(ledger, params))
    # the Python replay is handed the search: the like-for-like figure is the replay phase
    phase = cpu_engine - _cpu(lambda: trace(ledger, search))
    events = out.summary["events_replayed"]
    workload = "saturated" if cutoff is None else "local"
    row = _row(label, f"engine trace({rule}, backward: sources)", t_engine, events, workload)
    row["group"] = group = f"sources {rule}"  # the Python row's ratio is to this trace
    row["note"] += (
        f"; {out.sources.height} origins, {out.summary['accounts_reached']:,} accounts; "
        f"CPU {cpu_engine:.4f} s, {events / cpu_engine / 1e6:.1f} M events/s"
    )
    universe, sinks = handed_reach(ledger, out, hops)
    start, cpu = time.perf_counter(), time.process_time()  # one call: minutes at 10M
    got = python_sources(ledger, universe, sinks, seed, rule)
    t_py, cpu_py = time.perf_counter() - start, time.process_time() - cpu
    want = engine_sources(ledger, out)
    if got != want:
        raise SystemExit(f"plain-Python sources replay disagrees: {got} vs the engine's {want}")
    py = {
        "size": label,
        "workload": workload,
        "system": f"plain-Python sources replay ({rule})",
        "median_s": t_py,
        "note": f"agrees ({len(got)} origins); {t_py / t_engine:.1f}x the engine's trace; "
        f"CPU {cpu_py:.3f} s, {cpu_py / cpu_engine:.1f}x the engine's, "
        f"{cpu_py / phase:.1f}x its replay phase (sources - backward reach, {phase:.4f} s)",
        "group": group,
    }
    return [row, py]


def _row(
    label: str, system: str, seconds: float, events: int, workload: str = "saturated"
) -> dict[str, Any]:
    return {
        "size": label,
        "workload": workload,
        "system": system,
        "median_s": seconds,
        "note": f"{events:,} events, {events / seconds / 1e6:.1f} M events/s",
        "group": "claimants",
    }
