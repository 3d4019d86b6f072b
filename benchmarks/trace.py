"""Tracing engine against its peers, on the same synthetic ledgers and the same seeds.

Workloads (20 seed accounts each, forward, 6 hops, ledger order, funds from the start):

* ``saturated``: random seeds, no cut-off: on a heavy-tailed ledger these reach much of it,
  so the work is bound by the output;
* ``local``: random seeds with a high-degree cut-off of 50 counterparties, as investigators
  run them.

Peers: a compiled CSR traversal (numba, the practical lower bound), a Polars hop-by-hop join,
DuckDB hop-by-hop SQL and a recursive CTE with ``USING KEY``, networkx (the way an analyst
would write it), and for attribution a plain-Python LIBR replay. Every peer's answer (reached
accounts, fewest hops, earliest arrival) is checked against the engine's before timing.

Usage::

    python -m benchmarks.trace --sizes 100k,1m [--repeat 5]
    python -m benchmarks.trace --sizes 10m --repeat 3 [--no-networkx] [--no-raphtory]

networkx runs in a process of its own; at 10M its graph needs about 6 GB of memory and
several minutes to build.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import resource
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import networkx as nx
import numba as nb
import numpy as np
import polars as pl

from benchmarks.synthetic import generate_ledger
from benchmarks.trace_shares import shares_rows
from tracing import AccountSeed, Ledger, Rule, TraceParams, trace

HOPS, SEEDS, CUTOFF = 6, 20, 50
WORKLOADS = {"saturated": None, "local": CUTOFF}  # high-degree cut-off per workload
INF = 2**62
OUT = Path(__file__).parent / "out"
SIZES = {"100k": 100_000, "1m": 1_000_000, "10m": 10_000_000}


SHORT_S, AUTORANGE_S, AUTORANGE_MAX = 0.01, 0.25, 500  # see timed()


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median wall time of ``repeat`` calls (after one warm-up call) and the last answer.

    A call shorter than 10 ms is repeated, as ``timeit``'s autorange does, until about a
    quarter of a second has been timed (at most 500 calls): five sub-millisecond calls gave
    medians that moved by a factor of two between runs on this virtual machine.

    As ``timeit`` does, the cyclic garbage collector is off while the calls are timed (one
    collection runs before them). A full collection before *every* call, as this benchmark
    did until 2026-11-29, walks every live Python object (networkx's graph is tens of
    millions) and leaves the next call with cold caches and freshly trimmed heaps: it tripled
    the engine's sub-millisecond local traces and slowed its 10M traces by half while
    networkx's graph was resident, which measured the collector, not the peers.
    """
    gc.collect()
    start = time.perf_counter()
    answer = fn()
    first = time.perf_counter() - start
    if first < SHORT_S:
        repeat = max(repeat, min(AUTORANGE_MAX, int(AUTORANGE_S / max(first, 1e-6))))
    times = []
    gc.disable()
    try:
        for _ in range(repeat):
            start = time.perf_counter()
            answer = fn()
            times.append(time.perf_counter() - start)
    finally:
        gc.enable()
    return statistics.median(times), answer


# -- numba CSR lower bound -----------------------------------------------------------------
@nb.njit(cache=True)
def _numba_reach(ptr, dst, pos, seeds, blocked, hops):  # pragma: no cover - compiled
    n = ptr.shape[0] - 1
    arrival = np.full(n, INF, np.int64)
    hop = np.full(n, -1, np.int64)
    mark = np.full(n, -1, np.int64)
    frontier = np.unique(seeds)
    for s in frontier:
        arrival[s], hop[s] = -1, 0
    for h in range(1, hops + 1):
        nxt = np.empty(n, np.int64)
        k = 0
        snapshot = arrival[frontier].copy()
        for f in range(frontier.shape[0]):
            u = frontier[f]
            lo = ptr[u] + np.searchsorted(pos[ptr[u] : ptr[u + 1]], snapshot[f], "right")
            for j in range(lo, ptr[u + 1]):
                v, p = dst[j], pos[j]
                if hop[v] < 0:
                    hop[v] = h
                if p < arrival[v]:
                    arrival[v] = p
                    if mark[v] != h and not blocked[v]:
                        mark[v] = h
                        nxt[k] = v
                        k += 1
        frontier = nxt[:k].copy()
    return arrival, hop


class Csr:
    """A bare out-adjacency for the numba peer: per node, (position, destination) by time."""

    def __init__(self, src: np.ndarray, dst: np.ndarray, n: int) -> None:
        order = np.argsort(src, kind="stable")
        self.ptr = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(src, minlength=n), out=self.ptr[1:])
        self.pos, self.dst = order.astype(np.int64), dst[order].astype(np.int64)

    def reach(self, seeds: np.ndarray, blocked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Earliest arrival position and fewest hops of every node."""
        return _numba_reach(self.ptr, self.dst, self.pos, seeds, blocked, HOPS)


# -- Polars and DuckDB hop-by-hop ------------------------------------------------------------
def polars_reach(txs: pl.DataFrame, seeds: np.ndarray, blocked: np.ndarray) -> pl.DataFrame:
    """Hop-by-hop joins: frontier x transactions, keep the improved arrivals."""
    best = pl.DataFrame(
        {"node": np.unique(seeds), "arr": -1, "hop": 0},
        schema={"node": pl.Int64, "arr": pl.Int64, "hop": pl.Int64},
    )
    frontier = best.select("node", "arr")
    stop = pl.Series("node", np.flatnonzero(blocked), pl.Int64)
    for h in range(1, HOPS + 1):
        step = (
            txs.join(frontier, left_on="src", right_on="node")
            .filter(pl.col("pos") > pl.col("arr"))
            .group_by("dst")
            .agg(pl.col("pos").min().alias("new"))
        )
        merged = best.join(step.rename({"dst": "node"}), on="node", how="full", coalesce=True)
        improved = merged.filter(pl.col("arr").is_null() | (pl.col("new") < pl.col("arr")))
        best = merged.select(
            "node",
            pl.min_horizontal("arr", "new").alias("arr"),
            pl.col("hop").fill_null(h),
        )
        frontier = improved.filter(~pl.col("node").is_in(stop.implode())).select(
            "node", pl.col("new").alias("arr")
        )
        if frontier.height == 0:
            break
    return best


def duckdb_hops(con: Any, seeds: np.ndarray) -> dict[str, np.ndarray]:
    """Hop-by-hop SQL over temporary tables."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE best AS SELECT unnest($1::BIGINT[]) AS node, "
        "-1::BIGINT AS arr, 0 AS hop",
        [np.unique(seeds).tolist()],
    )
    con.execute("CREATE OR REPLACE TEMP TABLE front AS SELECT node, arr FROM best")
    for h in range(1, HOPS + 1):
        con.execute("""
            CREATE OR REPLACE TEMP TABLE step AS
            SELECT t.dst AS node, min(t.pos) AS arr FROM front f JOIN tx t ON t.src = f.node
            WHERE t.pos > f.arr GROUP BY t.dst""")
        con.execute("""
            CREATE OR REPLACE TEMP TABLE front AS
            SELECT s.node, s.arr FROM step s LEFT JOIN best b USING (node)
            WHERE (b.arr IS NULL OR s.arr < b.arr) AND s.node NOT IN (SELECT node FROM blocked)""")
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE best AS
            SELECT node, least(b.arr, s.arr) AS arr, coalesce(b.hop, {h}) AS hop
            FROM best b FULL JOIN step s USING (node)""")
        if con.execute("SELECT count(*) FROM front").fetchone()[0] == 0:
            break
    return con.execute("SELECT node, arr, hop FROM best").fetchnumpy()


RECURSIVE = f"""
WITH RECURSIVE r(node, arr, hop) USING KEY (node) AS (
    SELECT unnest($1::BIGINT[]) AS node, -1::BIGINT AS arr, 0 AS hop
    UNION
    SELECT t.dst, min(t.pos), any_value(r.hop) + 1
    FROM r JOIN tx t ON t.src = r.node AND t.pos > r.arr
    LEFT JOIN recurring.r AS prev ON prev.node = t.dst
    WHERE r.hop < {HOPS} AND (prev.arr IS NULL OR t.pos < prev.arr)
      AND (r.hop = 0 OR r.node NOT IN (SELECT node FROM blocked))
    GROUP BY t.dst
)
SELECT node, arr FROM r"""


def duckdb_recursive(con: Any, seeds: np.ndarray) -> dict[str, np.ndarray]:
    """One recursive CTE keyed by account (DuckDB's USING KEY keeps one row per account)."""
    return con.execute(RECURSIVE, [np.unique(seeds).tolist()]).fetchnumpy()


def as_answer(raw: Any) -> dict[int, Any]:
    """A peer's native output as ``{node: (arrival, hops)}`` (or ``{node: arrival}``)."""
    if isinstance(raw, tuple):  # numba: per-node arrays
        arrival, hop = raw
        return {int(v): (int(arrival[v]), int(hop[v])) for v in np.flatnonzero(hop >= 0)}
    if isinstance(raw, pl.DataFrame):
        return {n: (a, h) for n, a, h in raw.iter_rows()}
    if isinstance(raw, dict) and "node" in raw and not isinstance(raw["node"], tuple):
        columns = [np.asarray(raw[c]).tolist() for c in raw]
        if len(columns) == 3:
            return {n: (a, h) for n, a, h in zip(*columns, strict=True)}
        return dict(zip(*columns, strict=True))
    return raw


# -- networkx, the way an analyst would write it ---------------------------------------------
# -- Raphtory, a temporal graph engine with a temporal-reachability algorithm -----------------
def raphtory_graph(src: np.ndarray, dst: np.ndarray) -> Any:
    """A Raphtory graph of the ledger: nodes are the engine's node ids and each transfer an
    edge at its canonical position, so Raphtory's strict time order is the ledger order."""
    from raphtory import Graph

    graph = Graph()
    for pos, (u, v) in enumerate(zip(src.tolist(), dst.tolist(), strict=True)):
        graph.add_edge(pos, u, v)
    return graph


def raphtory_reach(graph: Any, seeds: np.ndarray, blocked: np.ndarray, hops: int) -> set[int]:
    """Accounts reached from the seeds (funds there from the start).

    Raphtory's stop nodes are reached and not left, as the engine's high-degree cut-off. Its
    reachability histories give neither fewest hops nor earliest arrivals, so only the reached
    set is compared; and its ``max_hops`` bounds propagation differently from the engine's
    transfers per path (at 6 it reaches what the engine reaches with 9 to 12 on the synthetic
    ledger), so the sets are checked equal with both unbounded (64 hops).
    """
    from raphtory import algorithms

    stops = [int(v) for v in np.flatnonzero(blocked)]
    state = algorithms.temporally_reachable_nodes(
        graph, hops, -1, [int(s) for s in seeds], stops or None
    )
    reached = {int(node.id) for node, found in state.items() if found["reachable_nodes"]}
    return reached | {int(s) for s in seeds}


def raphtory_row(ledger, graph, keys, seeds, blocked, cutoff, repeat) -> tuple[float, str]:
    """Raphtory's time at the workload's hops, checked equal to the engine's reach unbounded."""
    t_peer, _ = timed(lambda: raphtory_reach(graph, seeds, blocked, HOPS), repeat)
    params = TraceParams(
        seeds=tuple(AccountSeed(account=k, currency="EUR") for k in keys),
        max_hops=64,
        max_counterparties=cutoff,
    )
    want = set(engine_answer(ledger, trace(ledger, params)))
    if raphtory_reach(graph, seeds, blocked, 64) != want:
        raise SystemExit("Raphtory disagrees with the engine on the reached accounts (64 hops)")
    return t_peer, f"reached set agrees at 64 hops ({len(want):,}); its 6-hop limit differs"


def networkx_reach(graph: Any, seeds: np.ndarray, blocked: set[int]) -> dict[int, tuple[int, int]]:
    """Hop-by-hop over a MultiDiGraph whose edges carry the transaction position."""
    best = {int(s): (-1, 0) for s in seeds}
    frontier = dict.fromkeys(best, -1)
    for h in range(1, HOPS + 1):
        improved: dict[int, int] = {}
        for u, arr in frontier.items():
            for _, v, pos in graph.out_edges(u, data="pos"):
                if pos <= arr:
                    continue
                old = best.get(v)
                if old is None or pos < old[0]:
                    best[v] = (pos, h if old is None else old[1])
                    if v not in blocked and pos < improved.get(v, INF):
                        improved[v] = pos
        frontier = improved
    return best


def _networkx_child(path: str, queue: Any) -> None:
    data = np.load(path)
    graph = nx.MultiDiGraph()
    graph.add_edges_from(
        zip(
            data["src"].tolist(),
            data["dst"].tolist(),
            ({"pos": p} for p in range(len(data["src"]))),
            strict=True,
        )
    )
    gc.freeze()  # the graph lives to the end: collections need not walk it
    answers = {}
    for workload in WORKLOADS:
        blocked = set(np.flatnonzero(data[f"blocked_{workload}"]).tolist())
        answers[workload] = timed(lambda b=blocked: networkx_reach(graph, data["seeds"], b), 1)
    queue.put(answers)


def networkx_in_child(
    ledger: Ledger, seeds: np.ndarray, blocked: dict[str, np.ndarray]
) -> dict[str, tuple[float, dict[int, tuple[int, int]]]]:
    """networkx's time and answer per workload, from a process of its own.

    Its graph of the 10M ledger is about 6 GB of Python objects; in the benchmark's own process
    it crowded the caches and page tables of every system timed after it.
    """
    OUT.mkdir(exist_ok=True)
    path = OUT / "networkx-input.npz"
    arrays = {f"blocked_{w}": b for w, b in blocked.items()}
    np.savez(path, src=ledger.src, dst=ledger.dst, seeds=seeds, **arrays)
    answers: dict[str, tuple[float, dict[int, tuple[int, int]]]] = in_child(_networkx_child, path)
    return answers


def in_child(target: Callable[[str, Any], None], path: Path) -> Any:
    """What ``target(path, queue)`` puts on the queue, run in a fresh (spawned) process.

    The input file is removed afterwards.
    """
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=target, args=(str(path), queue))
    child.start()
    reply = queue.get()
    child.join()
    path.unlink()
    return reply


# -- plain-Python LIBR replay ----------------------------------------------------------------
def python_libr(
    ledger: Ledger, universe: set[int], trail: set[int], placements: dict[int, int]
) -> int:
    """Replay every event of ``universe`` in ledger order with dicts; return taint held."""
    src, dst, amount = ledger.src.tolist(), ledger.dst.tolist(), ledger.amount.tolist()
    balance = {n: placements.get(n, 0) for n in universe}
    low = dict.fromkeys(universe, 0)
    for i in range(len(src)):  # inferred openings: lowest running balance
        if src[i] in universe:
            balance[src[i]] -= amount[i]
            low[src[i]] = min(low[src[i]], balance[src[i]])
        if dst[i] in universe:
            balance[dst[i]] += amount[i]
    bal = {n: -low[n] + placements.get(n, 0) for n in universe}  # inferred opening + seed
    taint = {n: placements.get(n, 0) for n in universe}
    for i in range(len(src)):
        u, v, w = src[i], dst[i], amount[i]
        carried = 0
        if u in universe:
            carried = min(max(w - max(bal[u] - taint[u], 0), 0), taint[u])
            bal[u] -= w
            taint[u] -= carried
        if v in universe:
            bal[v] += w
            if i in trail:
                taint[v] += carried
    return sum(taint.values())


# -- the run -----------------------------------------------------------------------------------
def _build_in_child(path: str, queue: Any) -> None:
    # The engine reads the file itself (a LazyFrame), as a user building from an export
    # would; the clock and the peak RSS therefore include reading the Parquet file.
    start = time.perf_counter()
    Ledger.from_frame(pl.scan_parquet(path))
    seconds = time.perf_counter() - start
    queue.put((seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20))


def build_in_child(frame: pl.DataFrame, name: str) -> tuple[float, float]:
    """Ledger build time and peak resident GiB (read + build) in a fresh process."""
    OUT.mkdir(exist_ok=True)
    path = OUT / f"ledger-{name}.parquet"
    frame.write_parquet(path)
    result: tuple[float, float] = in_child(_build_in_child, path)
    return result


def check(name: str, got: dict[int, Any], want: dict[int, tuple[int, int]], *, hops: bool) -> None:
    """Fail loudly when a peer's answer differs from the engine's."""
    same = got == want if hops else got == {n: a for n, (a, _) in want.items()}
    if not same:
        raise SystemExit(f"{name} disagrees with the engine: {len(got)} vs {len(want)} accounts")


def engine_answer(ledger: Ledger, result: Any) -> dict[int, tuple[int, int]]:
    """``{node: (earliest arrival position, fewest hops)}`` from the engine's result."""
    acc = result.accounts
    nodes = ledger.account_ids(acc["account"].to_list())
    pos = ledger.positions_of(result.flows["external_id"].to_list())
    first: dict[int, int] = {}
    for p, d in zip(pos.tolist(), ledger.dst[pos].tolist(), strict=True):
        first[d] = min(p, first.get(d, INF))
    seeds = acc["role"] == "seed"
    return {
        int(n): (-1 if s else first[int(n)], int(h))
        for n, s, h in zip(nodes, seeds.to_list(), acc["hops"].to_list(), strict=True)
    }


def run_size(label: str, n: int, args: argparse.Namespace, rows: list[dict[str, Any]]) -> None:
    print(f"\n== {label}: {n:,} transactions ==", flush=True)
    frame = generate_ledger(n)
    build_s, build_gib = build_in_child(frame, label)
    print(f"ledger build (fresh process): {build_s:.2f} s, peak RSS {build_gib:.2f} GiB")
    rows.append(
        {
            "size": label,
            "workload": "build",
            "system": "engine Ledger.from_frame",
            "median_s": build_s,
            "note": f"incl. reading the Parquet file; peak RSS {build_gib:.2f} GiB",
            "group": "build",
        }
    )
    ledger = Ledger.from_frame(frame)
    del frame
    assert len(ledger.currencies) == 1  # nodes are then accounts: peers need no currency
    rng = np.random.default_rng(7)
    active = np.flatnonzero(np.diff(ledger.adj.out_ptr) > 0)
    seeds = np.sort(rng.choice(active, SEEDS, replace=False))
    keys = ledger.account_keys.gather(ledger.node_account[seeds]).to_list()
    if args.shares_only:
        rows += shares_rows(label, ledger, keys, HOPS, timed)
        return
    # The engine is timed first, before the peers fill the process: after a DuckDB database,
    # a Polars join and the Python replay's lists of ten million ints had come and gone, the
    # same local LIBR call took 1.6 ms instead of 0.9 ms in one process (2026-11-29).
    engine = {w: engine_runs(ledger, keys, cutoff, args.repeat) for w, cutoff in WORKLOADS.items()}
    csr = Csr(ledger.src, ledger.dst, ledger.n_nodes)
    txs = pl.DataFrame(
        {"pos": np.arange(ledger.n_transactions), "src": ledger.src, "dst": ledger.dst}
    )
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    OUT.mkdir(exist_ok=True)
    txs.write_parquet(OUT / "tx.parquet")  # DuckDB reads Parquet natively (no pyarrow here)
    con.execute(f"CREATE TABLE tx AS SELECT * FROM read_parquet('{OUT / 'tx.parquet'}')")
    (OUT / "tx.parquet").unlink()
    blocked_by = {}
    for workload, cutoff in WORKLOADS.items():
        blocked_by[workload] = (
            ledger.degree > cutoff if cutoff else np.zeros(ledger.n_nodes, np.bool_)
        )
        blocked_by[workload][seeds] = False
    networkx_runs = None if args.no_networkx else networkx_in_child(ledger, seeds, blocked_by)
    graph = None
    if not args.no_raphtory:
        start = time.perf_counter()
        graph = raphtory_graph(ledger.src, ledger.dst)
        rows.append(
            {
                "size": label,
                "workload": "build",
                "system": "Raphtory graph (add_edge per transfer)",
                "median_s": time.perf_counter() - start,
                "note": "",
                "group": "build",
            }
        )
    for workload in WORKLOADS:
        blocked = blocked_by[workload]
        con.execute(
            "CREATE OR REPLACE TABLE blocked AS SELECT unnest($1::BIGINT[]) AS node",
            [np.flatnonzero(blocked).tolist()],
        )
        (t_engine, result), t_frames, libr = engine[workload]
        want = engine_answer(ledger, result)
        print(
            f"[{workload}] engine reached {len(want):,} accounts, {result.flows.height:,} transfers"
        )
        peers: list[tuple[str, Callable[[], Any], bool]] = [
            ("numba CSR (lower bound)", lambda b=blocked: csr.reach(seeds, b), True),
            ("Polars hop-by-hop join", lambda b=blocked: polars_reach(txs, seeds, b), True),
            ("DuckDB hop-by-hop", lambda: duckdb_hops(con, seeds), True),
            ("DuckDB recursive CTE USING KEY", lambda: duckdb_recursive(con, seeds), False),
        ]
        if networkx_runs is not None:  # timed in its own process (see networkx_in_child)
            peers.append(("networkx", lambda w=workload: networkx_runs[w][1], True))
        rows.append(
            {
                "size": label,
                "workload": workload,
                "system": "engine trace()",
                "median_s": t_engine,
                "note": f"{len(want):,} accounts",
                "group": "reach",
            }
        )
        rows.append(
            {
                "size": label,
                "workload": workload,
                "system": "engine trace().accounts",
                "median_s": t_frames,
                "note": "incl. building the accounts frame",
                "group": "reach",
            }
        )
        for name, fn, with_hops in peers:
            if name == "networkx":
                t_peer, raw = networkx_runs[workload]
            else:
                t_peer, raw = timed(fn, args.repeat)
            check(name, as_answer(raw), want, hops=with_hops)
            rows.append(
                {
                    "size": label,
                    "workload": workload,
                    "system": name,
                    "median_s": t_peer,
                    "note": "agrees",
                    "group": "reach",
                }
            )
        if graph is not None:
            cutoff = WORKLOADS[workload]
            t_peer, note = raphtory_row(ledger, graph, keys, seeds, blocked, cutoff, args.repeat)
            rows.append(
                {
                    "size": label,
                    "workload": workload,
                    "system": "Raphtory temporally_reachable_nodes",
                    "median_s": t_peer,
                    "note": note,
                    "group": "reach",
                }
            )
        _attribution(label, workload, ledger, keys, (t_engine, result), libr, rows)
    con.close()
    rows += shares_rows(label, ledger, keys, HOPS, timed)


def engine_runs(ledger: Ledger, keys: list[str], cutoff: int | None, repeat: int) -> tuple:
    """The engine's timed calls of one workload: reach, reach with its accounts frame, LIBR."""
    seeds = tuple(AccountSeed(account=k, currency="EUR") for k in keys)
    params = TraceParams(seeds=seeds, max_hops=HOPS, max_counterparties=cutoff)
    reach = timed(lambda: trace(ledger, params), repeat)
    t_frames, _ = timed(lambda: trace(ledger, params).accounts, repeat)
    placed = tuple(AccountSeed(account=k, currency="EUR", amount=Decimal("1000.00")) for k in keys)
    libr = TraceParams(seeds=placed, rule=Rule.LIBR, max_hops=HOPS, max_counterparties=cutoff)
    return reach, t_frames, timed(lambda: trace(ledger, libr), repeat)


def _attribution(label, workload, ledger, keys, reach, libr, rows) -> None:
    """LIBR through the engine beside the plain-Python replay, which is handed the reach result.

    Since the replay starts from the reached accounts and the trail, the like-for-like engine
    figure is its replay phase: the LIBR trace's median less the reach trace's (same seeds,
    same run). Both are reported.
    """
    t_reach, result = reach
    t_libr, out = libr
    events = out.summary["events_replayed"]
    acc = result.accounts
    universe = set(
        ledger.account_ids(
            acc.filter(pl.col("role") != "high_degree")["account"].to_list()
        ).tolist()
    )
    trail = set(ledger.positions_of(result.flows["external_id"].to_list()).tolist())
    placements = {int(n): 100_000 for n in ledger.account_ids(list(keys))}
    t_py, held = timed(lambda: python_libr(ledger, universe, trail, placements), 1)
    exited = sum(int(Decimal(v) * 100) for v in out.exits["traced"].to_list())
    engine_held = sum(int(Decimal(v) * 100) for v in out.accounts["held"].to_list())
    if held != engine_held or engine_held + exited != 100_000 * len(keys):
        raise SystemExit(f"plain-Python LIBR replay disagrees: {held} vs {engine_held}")
    rate = events / t_libr
    rows.append(
        {
            "size": label,
            "workload": workload,
            "system": "engine trace(rule=libr)",
            "median_s": t_libr,
            "note": f"{events:,} events, {rate / 1e6:.1f} M events/s",
            "group": "attribution",
        }
    )
    note = "agrees (held taint)"
    if workload == "saturated":
        # A difference of two medians means something only where the search is a fraction of
        # the trace: on local traces both are about a millisecond and noise decides it.
        t_phase = t_libr - t_reach
        rows.append(
            {
                "size": label,
                "workload": workload,
                "system": "engine replay phase (libr - reach)",
                "median_s": t_phase,
                "note": f"{events / t_phase / 1e6:.1f} M events/s",
                "group": "attribution",
            }
        )
        note += f"; {t_py / t_phase:.1f}x the engine's replay phase"
    rows.append(
        {
            "size": label,
            "workload": workload,
            "system": "plain-Python LIBR replay",
            "median_s": t_py,
            "note": note,
            "group": "attribution",
        }
    )


def report(rows: list[dict[str, Any]]) -> str:
    """A Markdown table; each system's time is also given as a multiple of the engine's."""
    lines = [
        "| size | workload | system | median | vs engine | note |",
        "|---|---|---|---|---|---|",
    ]
    engine = {
        (r["size"], r["workload"], r["group"]): r["median_s"]
        for r in rows
        if r["system"]
        in (
            "engine trace()",
            "engine trace(rule=libr)",
            "engine Ledger.from_frame",
            "engine trace(haircut, 20 claimants)",
            "engine trace(fifo, backward: sources)",
            "engine trace(haircut, backward: sources)",
        )
    }
    for r in rows:
        ref = engine.get((r["size"], r["workload"], r["group"]))
        ratio = f"{r['median_s'] / ref:.1f}" if ref and r["group"] != "build" else ""
        lines.append(
            f"| {r['size']} | {r['workload']} | {r['system']} | {r['median_s'] * 1000:,.1f} ms "
            f"| {ratio} | {r['note']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100k,1m")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-networkx", action="store_true")
    parser.add_argument("--no-raphtory", action="store_true")
    parser.add_argument(
        "--shares-only", action="store_true", help="only the claimant and backward value traces"
    )
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []
    for label in args.sizes.split(","):
        run_size(label, SIZES[label], args, rows)
    print()
    print(report(rows))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
