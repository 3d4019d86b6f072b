"""The Spark engine on a real standalone cluster on this machine, beside the in-memory engine.

Starts a master and one-core workers with ``bin/spark-class`` (PyPI's PySpark has no
``start-master.sh``; these are the daemons it would start), all bound to 127.0.0.1 with their
web UIs on 127.0.0.1 too; checks that every socket they listen on is loopback; writes the
synthetic ledger to a lake in chunks (one source document each); runs saturated and local
(high-degree cut-off) 6-hop traces through ``spark://127.0.0.1:7077``, median of ``--repeat``;
and stops the daemons by their process ids. Each driver runs in its own process so that one
and two workers can be compared (``spark.cores.max``).

Usage::

    python -m benchmarks.spark_cluster --transactions 1000000 [--workers 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from benchmarks.synthetic import generate_ledger
from lake import Lake, search, spark_session, trace_subledger
from lake.session import LOOPBACK, loopback_environment
from lake.store import lake_rows
from tracing import Ledger, TraceParams, trace

MASTER = f"spark://{LOOPBACK}:7077"


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


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
    with log.open("wb") as out:
        return subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)


def with_children(pids: list[int]) -> list[int]:
    """``pids`` and their children (a worker's executors)."""
    found = list(pids)
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        except OSError:
            continue
        found += [int(c) for c in text.split()]
    return found


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


def write_lake(root: Path, n: int, chunk: int) -> tuple[Lake, pl.DataFrame]:
    frame = generate_ledger(n)
    lake = Lake(root)
    rows = lake_rows(frame, "doc")
    for lo in range(0, n, chunk):
        part = rows.slice(lo, chunk).with_columns(pl.lit(f"doc-{lo}").alias("source_document"))
        lake.append(part, decimals={"EUR": 2})
    return lake, frame


def seeds_of(frame: pl.DataFrame, k: int = 10) -> tuple[str, ...]:
    rng = np.random.default_rng(7)
    picks = rng.choice(frame.height // 10, size=k, replace=False)
    return tuple(frame["external_id"].gather(picks).to_list())


def _driver(args: argparse.Namespace) -> None:
    """One driver process: the traces of one worker count, as JSON on stdout."""
    lake = Lake(args.lake)
    spark = spark_session(
        MASTER,
        conf={
            "spark.cores.max": str(args.cores),
            "spark.executor.memory": args.executor_memory,
            "spark.sql.shuffle.partitions": str(2 * args.cores),
        },
    )
    seeds = tuple(json.loads(args.seeds))
    out: dict[str, Any] = {}
    for name, cutoff in (("saturated", None), ("local", 50)):
        params = TraceParams(seed_transactions=seeds, max_hops=6, max_counterparties=cutoff)
        times, sub = [], None
        for _ in range(args.repeat):
            start = time.perf_counter()
            sub = search(spark, lake, params)
            result = trace_subledger(sub, params, master=MASTER)
            times.append(time.perf_counter() - start)
        assert sub is not None
        manifest = lake.require_manifest()
        out[name] = {
            "median_s": statistics.median(times),
            "subledger": sub.rows.height,
            "accounts": result.summary["accounts_reached"],
            "bytes_read": sub.bytes_read,
            "lake_bytes": manifest.bytes,
            "hops": sub.hops,
        }
    out["driver_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    spark.stop()
    print(json.dumps(out))


def _drive(lake: Path, seeds: tuple[str, ...], cores: int, args: argparse.Namespace) -> Any:
    argv = [sys.executable, "-m", "benchmarks.spark_cluster", "--driver", "--lake", str(lake)]
    argv += ["--cores", str(cores), "--repeat", str(args.repeat), "--seeds", json.dumps(seeds)]
    argv += ["--executor-memory", args.executor_memory]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _memory(frame: pl.DataFrame, seeds: tuple[str, ...], repeat: int) -> dict[str, Any]:
    start = time.perf_counter()
    ledger = Ledger.from_frame(frame)
    built = time.perf_counter() - start
    out: dict[str, Any] = {"build_s": built}
    for name, cutoff in (("saturated", None), ("local", 50)):
        params = TraceParams(seed_transactions=seeds, max_hops=6, max_counterparties=cutoff)
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            result = trace(ledger, params)
            times.append(time.perf_counter() - start)
        out[name] = {
            "median_s": statistics.median(times),
            "accounts": result.summary["accounts_reached"],
        }
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=1_000_000, help="rows per source document")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-memory", default="2g")
    parser.add_argument("--executor-memory", default="1g")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--driver", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--lake", help=argparse.SUPPRESS)
    parser.add_argument("--cores", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--seeds", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.driver:
        _driver(args)
        return
    with tempfile.TemporaryDirectory(prefix="moneytrail-spark-") as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        _, frame = write_lake(root / "lake", args.transactions, args.chunk)
        report: dict[str, Any] = {"transactions": args.transactions}
        report["lake_write_s"] = time.perf_counter() - start
        seeds = seeds_of(frame)
        report["memory"] = _memory(frame, seeds, args.repeat)
        daemons = start_daemons(args.workers, args.worker_memory, root)
        try:
            addresses = wait_listening([d.pid for d in daemons])
            report["daemon_listen"] = sorted(set(addresses))
            bad = [a for a in addresses if not a.startswith((LOOPBACK, "[::ffff:127.0.0.1]"))]
            if bad:
                raise SystemExit(f"a daemon listens beyond loopback: {bad}")
            for cores in sorted({1, args.workers}):
                report[f"spark_{cores}_workers"] = _drive(root / "lake", seeds, cores, args)
        finally:
            stop_daemons(daemons)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
