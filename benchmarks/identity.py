"""Byte-identity of the engine's output between a reference commit and the working tree.

Loads the reference commit's ``tracing`` package side by side with the working tree's (a
``git archive`` of it, renamed ``tracing_ref``, kept under ``benchmarks/out/identity/<commit>``
so its Numba cache survives between runs), runs the same traces through both on the same
synthetic ledgers and compares, per trace, the SHA-256 of the canonical JSON and of every
private frame (the ranks and seeds that ``explain`` and the service store).

Sets:

* ``100k`` (252 traces): six seed sets x every rule forward and reach backward x three
  same-day policies x with and without the high-degree cut-off.
* ``1m`` (19 traces): every rule, local (cut-off 50) and saturated, ledger order; the other
  two policies on local reach, local LIBR and saturated LIBR; local reach backward.

Usage::

    python -m benchmarks.identity [--ref COMMIT] [--sets 100k,1m]

Exits non-zero on the first set with a difference and names the traces that differ.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import io
import re
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import polars as pl

from benchmarks.synthetic import generate_ledger

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(__file__).parent / "out" / "identity"
REF_NAME = "tracing_ref"
_IMPORT = re.compile(r"\b(from|import) tracing\b")


def reference(commit: str | None) -> str:
    """The commit given, or by default where HEAD left main."""
    if commit:
        return commit
    return subprocess.run(
        ["git", "merge-base", "HEAD", "main"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def load_ref(commit: str) -> ModuleType:
    """The ``tracing`` package of ``commit``, importable beside today's as ``tracing_ref``."""
    sha = subprocess.run(
        ["git", "rev-parse", commit], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    home = OUT / sha
    package = home / REF_NAME
    if not package.exists():
        archive = subprocess.run(
            ["git", "archive", sha, "tracing"], cwd=ROOT, capture_output=True, check=True
        ).stdout
        staging = home / "staging"
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(staging, filter="data")
        for path in (staging / "tracing").rglob("*.py"):
            path.write_text(_IMPORT.sub(rf"\1 {REF_NAME}", path.read_text()))
        (staging / "tracing").rename(package)
        staging.rmdir()
    if str(home) not in sys.path:
        sys.path.insert(0, str(home))
    return importlib.import_module(REF_NAME)


def _frames(result: Any) -> dict[str, pl.DataFrame]:
    """Every frame of a result, public and private, whichever surface the engine has."""
    if hasattr(result, "to_frames"):
        return {str(k): v for k, v in result.to_frames().items()}
    names = ("accounts", "flows", "exits", "flags", "_ranks", "_seeds")
    return {name.lstrip("_"): getattr(result, name) for name in names}


def fingerprint(result: Any) -> str:
    """SHA-256 over the canonical JSON and every frame's IPC bytes (frames in name order)."""
    digest = hashlib.sha256(result.to_json_bytes())
    for name, frame in sorted(_frames(result).items()):
        buffer = io.BytesIO()
        frame.write_ipc_stream(buffer)
        digest.update(name.encode() + b"\0" + hashlib.sha256(buffer.getvalue()).digest())
    return f"{result.digest()}/{digest.hexdigest()}"


def _seed_sets(frame: pl.DataFrame, ledger: Any, rng: np.random.Generator) -> list[dict]:
    """Six seed sets: what a trace starts from, and the filters that go with it."""
    active = np.flatnonzero(np.diff(ledger.adj.out_ptr) > 0)
    keys = ledger.account_keys.gather(ledger.node_account[rng.choice(active, 40)]).to_list()
    ids = frame["external_id"].gather(rng.choice(frame.height, 12)).to_list()
    times = frame["value_time"]
    mid, late = times[frame.height // 3], times[(2 * frame.height) // 3]
    busiest = int(np.argmax(np.diff(ledger.adj.out_ptr)))
    hub = ledger.account_keys[int(ledger.node_account[busiest])]
    return [
        {"accounts": [(k, None) for k in keys[:20]]},
        {"accounts": [(k, mid) for k in keys[20:25]]},
        {"transactions": ids[:10]},
        {"accounts": [(k, None) for k in keys[25:28]], "transactions": ids[10:]},
        {"accounts": [(hub, None)]},
        {
            "accounts": [(k, mid) for k in keys[28:32]],
            "window": (mid - timedelta(days=1), late),
            "min_amount": Decimal("5.00"),
            "stop_at": keys[32:40],
        },
    ]


def _params(tracing: ModuleType, seeds: dict, **kw: Any) -> Any:
    backward = kw.get("direction") == "backward"
    accounts = tuple(
        tracing.AccountSeed(
            account=k, currency="EUR", amount=None if backward else Decimal("1000.00"), at=at
        )
        for k, at in seeds.get("accounts", [])
    )
    window = seeds.get("window", (None, None))
    return tracing.TraceParams(
        seeds=accounts,
        seed_transactions=tuple(seeds.get("transactions", ())),
        window_start=window[0],
        window_end=window[1],
        min_amount=seeds.get("min_amount"),
        stop_at=frozenset(seeds.get("stop_at", ())),
        **kw,
    )


RULES = ("reach", "poison", "haircut", "fifo", "lifo", "libr")
POLICIES = ("ledger", "worst_case", "best_case")


def _kw(rule: str, policy: str, cutoff: int | None, direction: str) -> dict[str, Any]:
    return {
        "rule": rule,
        "direction": direction,
        "same_day_policy": policy,
        "max_counterparties": cutoff,
    }


def small_set(seed_sets: list[dict]) -> Iterator[tuple[str, dict, dict]]:
    """The 252 traces of the 100k ledger."""
    for i, seeds in enumerate(seed_sets):
        for policy in POLICIES:
            for cutoff in (None, 50):
                runs = [("forward", rule) for rule in RULES] + [("backward", "reach")]
                for direction, rule in runs:
                    kw = _kw(rule, policy, cutoff, direction)
                    yield f"set{i}/{policy}/{cutoff}/{direction}/{rule}", seeds, kw


def large_set(seed_sets: list[dict]) -> Iterator[tuple[str, dict, dict]]:
    """The 19 traces of the 1M ledger (seed set 0: twenty accounts, six hops)."""
    seeds = seed_sets[0]
    runs = [(rule, "ledger", c, "forward") for c in (50, None) for rule in RULES]
    runs += [(r, p, c, "forward") for p in POLICIES[1:] for r, c in (("reach", 50), ("libr", 50))]
    runs += [("libr", p, None, "forward") for p in POLICIES[1:]]
    runs += [("reach", "ledger", 50, "backward")]
    for rule, policy, cutoff, direction in runs:
        yield f"{policy}/{cutoff}/{direction}/{rule}", seeds, _kw(rule, policy, cutoff, direction)


def _outcome(module: ModuleType, ledger: Any, seeds: dict, kw: dict) -> str:
    try:
        return fingerprint(module.trace(ledger, _params(module, seeds, **kw)))
    except module.TracingError as error:  # both engines must refuse alike
        return f"{type(error).__name__}: {error}"


SETS: dict[str, tuple[int, Callable[[list[dict]], Iterator[tuple[str, dict, dict]]]]] = {
    "100k": (100_000, small_set),
    "1m": (1_000_000, large_set),
}


def check_set(label: str, ref: ModuleType, new: ModuleType) -> list[str]:
    """Run one set through both engines; return the names of the traces that differ."""
    n, traces = SETS[label]
    frame = generate_ledger(n)
    ledgers = {
        name: module.Ledger.from_frame(frame) for name, module in (("ref", ref), ("new", new))
    }
    seed_sets = _seed_sets(frame, ledgers["new"], np.random.default_rng(11))
    differ, count, start = [], 0, time.perf_counter()
    for name, seeds, kw in traces(seed_sets):
        got = {
            side: _outcome(module, ledgers[side], seeds, kw)
            for side, module in (("ref", ref), ("new", new))
        }
        count += 1
        if got["ref"] != got["new"]:
            differ.append(name)
            print(f"  DIFFERS {name}", flush=True)
    took = time.perf_counter() - start
    print(f"{label}: {count} traces, {len(differ)} differ ({took:.1f} s)", flush=True)
    return differ


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", help="reference commit (default: where HEAD left main)")
    parser.add_argument("--sets", default="100k,1m")
    args = parser.parse_args(argv)
    commit = reference(args.ref)
    print(f"reference {commit}", flush=True)
    ref = load_ref(commit)
    new = importlib.import_module("tracing")
    failed = [name for label in args.sets.split(",") for name in check_set(label, ref, new)]
    if failed:
        sys.exit(f"{len(failed)} traces differ")
    print("byte-identical")


if __name__ == "__main__":
    main()
