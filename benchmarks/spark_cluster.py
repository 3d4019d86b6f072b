"""The Spark engine on a real standalone cluster on this machine, beside the in-memory engine
and DuckDB hop-by-hop on the same Parquet.

Starts a master and one-core workers with ``bin/spark-class`` (PyPI's PySpark has no
``start-master.sh``; these are the daemons it would start), all bound to 127.0.0.1 with their
web UIs on 127.0.0.1 too; checks that every socket they listen on is loopback; writes each
synthetic ledger to a lake chunk by chunk (one source document each, never the whole ledger in
memory); runs saturated and local (high-degree cut-off 50) 6-hop traces from ten seed
transactions through ``spark://127.0.0.1:7077``, median of ``--repeat``; and stops the daemons
by their process ids.

Every engine runs in its own process, so that its peak memory is its own and one and two
workers can be compared (``spark.cores.max``). A sampler in this process reads the peak RSS
(``VmHWM``) of the driver, its JVM and the executors, and the bytes each read (``rchar``: what
the process read through ``read(2)``, from disk or page cache: Parquet column chunks, degree
tables, shuffle files). Every figure carries the load average it was measured at.

Lakes are kept under ``--data`` and reused by later runs (a lake whose manifest holds the
requested row count is not written again).

Usage::

    python -m benchmarks.spark_cluster --sizes 10000000,100000000 --data /tmp/mt-lakes
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from benchmarks.synthetic import generate_chunks
from lake import Lake, search, spark_session, trace_subledger
from lake.search import _improved
from lake.session import LOOPBACK, loopback_environment
from lake.store import DATA, DEGREE_ROWS, DEGREES, LakeFile, Manifest, lake_rows
from tracing import Ledger, TraceParams, TraceTooLarge, trace
from tracing.schema import CURRENCY, EXTERNAL_ID, FROM_ACCOUNT, TIME_US, TO_ACCOUNT

MASTER = f"spark://{LOOPBACK}:7077"
HOPS = 6
CUTOFF = 50
WORKLOADS = {"saturated": None, "local": CUTOFF}
BUCKETS = 64
INCOMING = "_bench_incoming"  # (to, from) by the bucket of `to`: only for the degree tables


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def load() -> float:
    """One-minute load average."""
    return round(os.getloadavg()[0], 1)


def disk_free_gb(path: Path) -> float:
    return round(shutil.disk_usage(path).free / 2**30, 1)


# -- the cluster -------------------------------------------------------------------------------
def start_daemons(workers: int, memory: str, logs: Path) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, **loopback_environment(), "SPARK_HOME": str(spark_home())}
    env["SPARK_PUBLIC_DNS"] = LOOPBACK  # the address the daemons' UIs advertise
    env["SPARK_WORKER_DIR"] = str(logs / "work")  # executors' scratch, not the package's folder
    cls = str(spark_home() / "bin" / "spark-class")
    master = [cls, "org.apache.spark.deploy.master.Master", "--host", LOOPBACK]
    master += ["--port", "7077", "--webui-port", "18080"]
    daemons = [_start(master, env, logs / "master.log")]
    time.sleep(5)
    for i in range(workers):
        worker = [cls, "org.apache.spark.deploy.worker.Worker", "--host", LOOPBACK]
        worker += ["--cores", "1", "--memory", memory, "--webui-port", str(18081 + i), MASTER]
        daemons.append(_start(worker, env, logs / f"worker-{i}.log"))
    time.sleep(5)
    return daemons


def _start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)


def children(pid: int) -> list[int]:
    """Child processes of ``pid``, whichever of its threads started them (a JVM's are not
    its main thread's)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def with_children(pids: list[int]) -> list[int]:
    """``pids`` and their children (a worker's executors)."""
    return list(pids) + [c for pid in pids for c in children(pid)]


def listening_addresses(pids: list[int]) -> list[str]:
    """Local addresses of the TCP sockets the daemons (and their children) listen on."""
    pids = with_children(pids)
    shown = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    wanted = {f"pid={p}," for p in pids}
    return [line.split()[3] for line in shown.splitlines() if any(w in line for w in wanted)]


def wait_listening(pids: list[int], timeout: float = 180.0) -> list[str]:
    """The daemons' listening addresses, once each daemon listens (JVMs start slowly)."""
    deadline = time.monotonic() + timeout
    while True:
        found = {p: listening_addresses([p]) for p in pids}
        if all(found.values()) or time.monotonic() > deadline:
            return [a for addresses in found.values() for a in addresses]
        time.sleep(2)


def stop_daemons(daemons: list[subprocess.Popen[bytes]]) -> None:
    for daemon in reversed(daemons):  # by their own process ids, workers first
        daemon.terminate()
    for daemon in daemons:
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()


# -- per-process memory and reads ------------------------------------------------------------
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a live process has used, or 0."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def _status(pid: int) -> tuple[int, int]:
    """(peak RSS in KiB, bytes read through read(2)) of a live process, or (0, 0)."""
    try:
        hwm = next(
            int(line.split()[1])
            for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            if line.startswith("VmHWM:")
        )
        rchar = next(
            int(line.split()[1])
            for line in Path(f"/proc/{pid}/io").read_text().splitlines()
            if line.startswith("rchar:")
        )
    except (OSError, StopIteration):
        return 0, 0
    return hwm, rchar


class Sampler:
    """Peak RSS and bytes read of the processes ``roles`` names, polled every half second."""

    def __init__(self, roles: Callable[[], dict[int, str]]) -> None:
        self.roles = roles
        self.seen: dict[int, tuple[str, int, int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll()
            self._stop.wait(0.5)

    def poll(self) -> None:
        for pid, role in self.roles().items():
            hwm, rchar = _status(pid)
            if hwm:
                self.seen[pid] = (role, hwm, rchar)

    def reads(self) -> dict[int, tuple[str, int, float]]:
        """Role, bytes read and CPU seconds so far of each live process sampled."""
        self.poll()
        return {pid: (role, rchar, cpu_s(pid)) for pid, (role, _, rchar) in self.seen.items()}

    def peaks_mb(self) -> dict[str, list[float]]:
        """Peak RSS (MiB) of each process, by role."""
        out: dict[str, list[float]] = {}
        for role, hwm, _ in self.seen.values():
            out.setdefault(role, []).append(round(hwm / 1024, 1))
        return out


# -- the lakes ---------------------------------------------------------------------------------
def seed_ids(n: int, k: int = 10) -> tuple[str, ...]:
    """Ten transactions of the first tenth of the year (as generate_chunks numbers them)."""
    picks = np.random.default_rng(7).choice(n // 10, size=k, replace=False)
    return tuple(f"T{int(i) + 1:010d}" for i in sorted(picks))


def local_seed_ids(root: Path, n: int, k: int = 10) -> tuple[str, ...]:
    """Ten transactions of the first tenth of the year into accounts of at most ``CUTOFF``
    counterparties, as an investigator's seeds are (a random transaction's destination is
    drawn by activity: often a payment hub, and a seed is expanded whatever its degree)."""
    lake = Lake(root)
    manifest = lake.require_manifest()
    candidates = seed_ids(n, 20 * k)
    found = (
        pl.scan_parquet(lake.paths(manifest))
        .filter(pl.col(EXTERNAL_ID).is_in(candidates))
        .select(EXTERNAL_ID, TO_ACCOUNT, CURRENCY)
        .collect()
        .sort(EXTERNAL_ID)
    )
    degrees = lake.degrees(manifest, list(zip(found[TO_ACCOUNT], found[CURRENCY], strict=True)))
    quiet = [
        i
        for i, a, c in found.iter_rows()
        if degrees[(a, c)] <= CUTOFF  # as the cut-off would treat them
    ]
    return tuple(quiet[:k])


def seeds_by_workload(root: Path, n: int) -> dict[str, tuple[str, ...]]:
    return {"saturated": seed_ids(n), "local": local_seed_ids(root, n)}


def ensure_lake(root: Path, n: int, chunk: int, fingerprint_upto: int) -> dict[str, Any]:
    """The lake of ``n`` transactions under ``root``, written chunk by chunk if missing.

    Each chunk is one source document, written to its buckets as ``lake sync`` writes them.
    The degree tables come from a by-destination copy of each chunk, one bucket at a time, and
    the manifest's id is the ledger's fingerprint only up to ``fingerprint_upto`` rows (it
    needs the whole in-memory index: see docs/scale.md, "What breaks first").
    """
    lake = Lake(root)
    manifest = lake.manifest()
    if manifest is not None and manifest.transactions == n:
        return {"written": False, "lake_bytes": manifest.bytes, "files": len(manifest.files)}
    if root.exists():
        shutil.rmtree(root)
    info: dict[str, Any] = {"written": True, "disk_free_before_gb": disk_free_gb(root.parent)}
    start, sync = time.perf_counter(), uuid.uuid4().hex
    files: list[LakeFile] = []
    documents: list[str] = []
    for index, frame in enumerate(generate_chunks(n, chunk)):
        document = f"bench-{index:04d}"
        rows = lake_rows(frame, document, {"EUR": 2})
        del frame
        files += lake._write(rows, BUCKETS, DATA, FROM_ACCOUNT, f"{sync}-{index:04d}")
        incoming = rows.select(EXTERNAL_ID, TO_ACCOUNT, CURRENCY, FROM_ACCOUNT)
        lake._write(incoming, BUCKETS, INCOMING, TO_ACCOUNT, f"{sync}-{index:04d}")
        documents.append(document)
        print(f"  chunk {index}: {rows.height} rows, load {load()}", file=sys.stderr, flush=True)
    info["data_write_s"] = round(time.perf_counter() - start, 1)
    degree_files = _degree_tables(lake, files, sync)
    info["degrees_s"] = round(time.perf_counter() - start - info["data_write_s"], 1)
    fingerprint = f"unfingerprinted-{n}"
    if n <= fingerprint_upto:
        every = pl.read_parquet([str(root / f.path) for f in files])
        from lake.store import engine_frame

        fingerprint = Ledger.from_frame(
            engine_frame(every, {"EUR": 2}), currency_decimals={"EUR": 2}
        ).fingerprint
        del every
    manifest = Manifest(
        id=fingerprint,
        buckets=BUCKETS,
        transactions=n,
        decimals={"EUR": 2},
        documents=tuple(documents),
        files=tuple(files),
        degree_files=tuple(degree_files),
        previous=None,
        committed_at=datetime.now(UTC).isoformat(),
    )
    lake._commit(manifest)
    shutil.rmtree(root / INCOMING)
    info.update(
        write_s=round(time.perf_counter() - start, 1),
        load=load(),
        lake_bytes=manifest.bytes,
        files=len(files),
        disk_free_after_gb=disk_free_gb(root.parent),
    )
    return info


def _degree_tables(lake: Lake, files: list[LakeFile], sync: str) -> list[LakeFile]:
    """Distinct counterparties per (account, currency), one bucket at a time."""
    out: list[LakeFile] = []
    for bucket in range(BUCKETS):
        paid = pl.scan_parquet(
            [str(lake.root / f.path) for f in files if f.bucket == bucket]
        ).select(pl.col(FROM_ACCOUNT).alias("account"), CURRENCY, pl.col(TO_ACCOUNT).alias("other"))
        received = pl.scan_parquet(
            str(lake.root / INCOMING / f"bucket={bucket:04d}" / "*.parquet")
        ).select(pl.col(TO_ACCOUNT).alias("account"), CURRENCY, pl.col(FROM_ACCOUNT).alias("other"))
        counted = (
            pl.concat([paid, received])
            .group_by("account", CURRENCY)
            .agg(pl.col("other").n_unique().alias("degree"))
            .collect()
            .cast(DEGREE_ROWS)
            .sort("account", CURRENCY)
        )
        relative = f"{DEGREES}/bucket={bucket:04d}/part-{sync}.parquet"
        target = lake.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        counted.write_parquet(target, statistics=True)
        out.append(LakeFile(relative, bucket, counted.height, target.stat().st_size))
    return out


# -- the engines, one process each -----------------------------------------------------------
def _params(seeds: tuple[str, ...], cutoff: int | None) -> TraceParams:
    return TraceParams(seed_transactions=seeds, max_hops=HOPS, max_counterparties=cutoff)


def _timed(run: Callable[[], Any], repeat: int) -> tuple[dict[str, Any], Any]:
    """Median and each run's wall seconds, CPU seconds of this process and load average."""
    times, cpus, loads, result = [], [], [], None
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        result = run()
        times.append(round(time.perf_counter() - start, 3))
        cpus.append(round(time.process_time() - cpu, 3))
        loads.append(load())
    runs = {"median_s": statistics.median(times), "times_s": times, "cpu_s": cpus}
    return {**runs, "loads": loads}, result


def _role_memory(args: argparse.Namespace) -> dict[str, Any]:
    from lake.store import engine_frame

    lake = Lake(args.lake)
    start = time.perf_counter()
    frame = engine_frame(lake.rows(), {"EUR": 2})
    read_s = time.perf_counter() - start
    ledger = Ledger.from_frame(frame, currency_decimals={"EUR": 2})
    del frame
    out: dict[str, Any] = {"read_s": round(read_s, 1)}
    out["build_s"] = round(time.perf_counter() - start - read_s, 1)
    out["build_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    out["build_load"] = load()
    seeds = json.loads(args.seeds)
    for name in args.workloads.split(","):
        params = _params(tuple(seeds[name]), WORKLOADS[name])
        runs, result = _timed(lambda p=params: trace(ledger, p), args.repeat)
        out[name] = {**runs, "accounts": result.summary["accounts_reached"]}
    return out


def _role_duckdb(args: argparse.Namespace) -> dict[str, Any]:
    """Hop-by-hop reachability in DuckDB on the lake's Parquet, relaxed as lake.search is."""
    import duckdb

    lake = Lake(args.lake)
    manifest = lake.require_manifest()
    con = duckdb.connect()
    con.execute(f"SET threads = {args.cores}")
    con.execute("SET memory_limit = '3GB'")
    seeds = json.loads(args.seeds)
    out: dict[str, Any] = {}
    for name in args.workloads.split(","):
        cutoff, chosen = WORKLOADS[name], tuple(seeds[name])
        runs, found = _timed(
            lambda c=cutoff, s=chosen: _duckdb_search(con, lake, manifest, s, c), args.repeat
        )
        out[name] = {**runs, **found}
    return out


def _duckdb_search(
    con: Any, lake: Lake, manifest: Manifest, seeds: tuple[str, ...], cutoff: int | None
) -> dict[str, int]:
    every = lake.paths(manifest)
    placeholders = ", ".join("?" for _ in seeds)
    rows = con.execute(
        f"SELECT {TO_ACCOUNT}, {CURRENCY}, {TIME_US} FROM read_parquet(?) "
        f"WHERE {EXTERNAL_ID} IN ({placeholders})",
        [every, *seeds],
    ).fetchall()
    schema = {"account": pl.String(), CURRENCY: pl.String(), "at": pl.Int64()}
    best = pl.DataFrame(rows, schema=schema, orient="row").group_by("account", CURRENCY).min()
    frontier, first = best, set(best.select("account", CURRENCY).rows())
    degrees: dict[tuple[str, str], int] = {}
    for _ in range(HOPS):
        if cutoff is not None:
            keys: list[tuple[str, str]] = frontier.select("account", CURRENCY).rows()
            degrees.update(lake.degrees(manifest, [k for k in keys if k not in degrees]))
            keep = [k in first or degrees[k] <= cutoff for k in keys]
            frontier = frontier.filter(pl.Series(keep, dtype=pl.Boolean))
        if frontier.height == 0:
            break
        from lake.store import bucket_of

        buckets = {bucket_of(a, manifest.buckets) for a in frontier["account"].to_list()}
        con.register("front", frontier.rename({"at": "arrive"}).to_arrow())
        hop = con.execute(
            f"SELECT r.{TO_ACCOUNT} AS account, r.{CURRENCY}, min(r.{TIME_US}) AS at "
            f"FROM read_parquet(?) r JOIN front f ON r.{FROM_ACCOUNT} = f.account "
            f"AND r.{CURRENCY} = f.{CURRENCY} AND r.{TIME_US} >= f.arrive GROUP BY 1, 2",
            [lake.paths(manifest, buckets)],
        ).fetchall()
        con.unregister("front")
        found = pl.DataFrame(hop, schema=schema, orient="row")
        better = _improved(best, found, forward=True)
        best = pl.concat([best.join(better, on=["account", CURRENCY], how="anti"), better])
        frontier = better
    reached = best.select("account").unique()
    con.register("reached", reached.to_arrow())
    (size,) = con.execute(
        f"SELECT count(*) FROM read_parquet(?) WHERE {FROM_ACCOUNT} IN (SELECT account FROM "
        f"reached) OR {TO_ACCOUNT} IN (SELECT account FROM reached)",
        [every],
    ).fetchone()
    return {"reached": best.height, "subledger": int(size)}


def _role_driver(args: argparse.Namespace) -> dict[str, Any]:
    """One Spark driver: the traces of one worker count."""
    lake = Lake(args.lake)
    spark = spark_session(
        MASTER,
        conf={
            "spark.cores.max": str(args.cores),
            "spark.executor.memory": args.executor_memory,
            "spark.driver.memory": args.driver_memory,
            "spark.driver.maxResultSize": "4g",
            "spark.sql.shuffle.partitions": str(2 * args.cores),
        },
    )
    seeds = json.loads(args.seeds)
    out: dict[str, Any] = {}
    for name in args.workloads.split(","):
        params = _params(tuple(seeds[name]), WORKLOADS[name])
        times, loads, subs = [], [], []
        for _ in range(args.saturated_repeat if name == "saturated" else args.repeat):
            print(f"mark start {name}", flush=True)
            start = time.perf_counter()
            try:
                sub = search(spark, lake, params, max_rows=args.max_subledger)
                result = trace_subledger(sub, params, master=MASTER)
            except TraceTooLarge as refused:
                out[name] = {"refused": str(refused), "after_s": time.perf_counter() - start}
                break
            times.append(round(time.perf_counter() - start, 3))
            loads.append(load())
            print(f"mark end {name}", flush=True)
            subs.append(
                {
                    "subledger": sub.rows.height,
                    "reached": sub.reached,
                    "accounts": result.summary["accounts_reached"],
                    "files_read": sub.files_read,
                    "bytes_of_files_read": sub.bytes_read,
                }
            )
        else:
            out[name] = {
                "median_s": statistics.median(times),
                "times_s": times,
                "loads": loads,
                **subs[-1],
                "lake_bytes": lake.require_manifest().bytes,
                "lake_files": len(lake.require_manifest().files),
            }
        # Each workload as soon as it is done: a run cut short keeps what it measured.
        print(f"result {json.dumps({name: out[name]})}", flush=True)
    out["python_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    spark.stop()
    return out


ROLES = {"memory": _role_memory, "duckdb": _role_duckdb, "driver": _role_driver}


def _child(
    role: str, lake: Path, seeds: dict[str, tuple[str, ...]], args: argparse.Namespace, **extra: Any
) -> list[str]:
    argv = [sys.executable, "-m", "benchmarks.spark_cluster", "--role", role, "--lake", str(lake)]
    argv += ["--repeat", str(extra.pop("repeat", args.repeat)), "--seeds", json.dumps(seeds)]
    argv += ["--executor-memory", args.executor_memory, "--driver-memory", args.driver_memory]
    argv += ["--saturated-repeat", str(args.saturated_repeat)]
    for key, value in extra.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    return argv


def run_child(argv: list[str], workers: list[int]) -> dict[str, Any]:
    """Run one engine process; sample its memory (and the executors'), and the bytes read
    and CPU time spent between the marks it prints around each trace."""
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)

    def roles() -> dict[int, str]:
        found = {child.pid: "driver (Python)"}
        found.update((c, "driver (JVM)") for c in children(child.pid))
        found.update((c, "executor") for w in workers for c in children(w))
        return found

    spent: dict[str, list[dict[str, float]]] = {}
    with Sampler(roles) as sampler:
        assert child.stdout is not None
        last, workload = "", ""
        before: dict[int, tuple[str, int, float]] = {}
        for line in child.stdout:
            last = line
            if line.startswith("result "):
                print(f"partial {argv[4]} {line[7:].strip()}", file=sys.stderr, flush=True)
            elif line.startswith("mark start "):
                workload, before = line.split()[2], sampler.reads()
            elif line.startswith("mark end "):
                spent.setdefault(workload, []).append(_spent(before, sampler.reads()))
                print(
                    f"spent {workload} {spent[workload][-1]} peaks {sampler.peaks_mb()}",
                    file=sys.stderr,
                    flush=True,
                )
    if child.wait() != 0:
        raise SystemExit(f"{argv[4]} failed with {child.returncode}")
    out: dict[str, Any] = json.loads(last)
    out["peak_rss_mb"] = sampler.peaks_mb()
    for workload, runs in spent.items():
        out[workload]["per_trace"] = runs
    return out


def _spent(
    before: dict[int, tuple[str, int, float]], after: dict[int, tuple[str, int, float]]
) -> dict[str, float]:
    """Bytes read and CPU seconds between two samples, by role."""
    out: dict[str, float] = {}
    for pid, (role, rchar, cpu) in after.items():
        _, rchar0, cpu0 = before.get(pid, (role, 0, 0.0))
        short = role.split()[0] if role == "executor" else role.replace(" ", "_")
        out[f"{short}_read_mb"] = round(
            out.get(f"{short}_read_mb", 0) + (rchar - rchar0) / 2**20, 1
        )
        out[f"{short}_cpu_s"] = round(out.get(f"{short}_cpu_s", 0) + cpu - cpu0, 2)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000000", help="transactions per lake, comma list")
    parser.add_argument("--data", type=Path, default=Path("/tmp/moneytrail-spark"))
    parser.add_argument("--chunk", type=int, default=10_000_000, help="rows per source document")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-memory", default="2g")
    parser.add_argument("--executor-memory", default="1600m")
    parser.add_argument("--driver-memory", default="3g")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--saturated-repeat", type=int, default=3, help="Spark saturated runs")
    parser.add_argument("--speedup-workload", default="saturated", help="run on one worker too")
    parser.add_argument(
        "--memory-upto",
        type=int,
        default=10_000_000,
        help="largest lake the in-memory engine builds (RAM)",
    )
    parser.add_argument(
        "--saturated-upto",
        type=int,
        default=10_000_000,
        help="largest lake traced saturated on Spark (the driver holds the sub-ledger)",
    )
    parser.add_argument("--max-subledger", type=int, default=30_000_000)
    parser.add_argument("--only", default="", help="comma list of memory,duckdb,spark")
    parser.add_argument("--role", choices=sorted(ROLES), help=argparse.SUPPRESS)
    parser.add_argument("--lake", help=argparse.SUPPRESS)
    parser.add_argument("--cores", type=int, default=2, help=argparse.SUPPRESS)
    parser.add_argument("--seeds", help=argparse.SUPPRESS)
    parser.add_argument("--workloads", default="local,saturated", help="in this order")
    args = parser.parse_args(argv)
    if args.role:
        print(json.dumps(ROLES[args.role](args)), flush=True)
        return
    only = set(args.only.split(",")) if args.only else {"memory", "duckdb", "spark"}
    sizes = [int(s) for s in args.sizes.split(",")]
    args.data.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"started": datetime.now(UTC).isoformat(), "load": load()}
    for n in sizes:
        info = ensure_lake(args.data / f"lake-{n}", n, args.chunk, args.memory_upto)
        report[f"lake_{n}"] = info
        print(json.dumps({f"lake_{n}": info}), file=sys.stderr, flush=True)
    for n in sizes:
        lake = args.data / f"lake-{n}"
        seeds = seeds_by_workload(lake, n)
        report[f"seeds_{n}"] = seeds
        work = args.workloads if n <= args.saturated_upto else "local"
        if "memory" in only and n <= args.memory_upto:
            argv = _child("memory", lake, seeds, args, workloads=args.workloads)
            report[f"memory_{n}"] = run_child(argv, [])
            print(json.dumps({f"memory_{n}": report[f"memory_{n}"]}), file=sys.stderr, flush=True)
        if "duckdb" in only:
            argv = _child("duckdb", lake, seeds, args, workloads=work, cores=2)
            report[f"duckdb_{n}"] = run_child(argv, [])
            print(json.dumps({f"duckdb_{n}": report[f"duckdb_{n}"]}), file=sys.stderr, flush=True)
    if "spark" in only:
        daemons = start_daemons(args.workers, args.worker_memory, args.data / "cluster")
        workers = [d.pid for d in daemons[1:]]
        try:
            addresses = wait_listening([d.pid for d in daemons])
            report["daemon_listen"] = sorted(set(addresses))
            bad = [a for a in addresses if not a.startswith((LOOPBACK, "[::ffff:127.0.0.1]"))]
            if bad:
                raise SystemExit(f"a daemon listens beyond loopback: {bad}")
            for n in sizes:
                lake = args.data / f"lake-{n}"
                seeds = seeds_by_workload(lake, n)
                work = args.workloads if n <= args.saturated_upto else "local"
                for cores in sorted({args.workers, 1}, reverse=True):
                    if cores != args.workers:
                        if n > args.saturated_upto:
                            continue
                        work = args.speedup_workload  # the issue asks for the saturated one
                    argv = _child(
                        "driver",
                        lake,
                        seeds,
                        args,
                        cores=cores,
                        workloads=work,
                        max_subledger=args.max_subledger,
                    )
                    key = f"spark_{n}_{cores}_workers"
                    report[key] = run_child(argv, workers)
                    print(json.dumps({key: report[key]}), file=sys.stderr, flush=True)
        finally:
            stop_daemons(daemons)
    report["finished"] = datetime.now(UTC).isoformat()
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
