"""Appending to the ledger index: in order, late, and the full build a late batch once cost.

A service keeps one ledger index warm and appends what the database gained before each trace.
Statements and goAML reports arrive late (their value times fall before the newest row): such a
batch used to rebuild the index; a few late rows are now merged into place (`tracing.merge`).
Per ledger size, on the synthetic ledger of `benchmarks.synthetic`, median of --repeat runs:

- 10 rows after the last one (the in-order append);
- 10 and 1,000 rows whose value times fall inside the ledger (the late append): 1,000 rows at
  times no other row has are merged, 1,000 rows at times other rows have (more than
  `tracing.merge.TIED_ROWS_MAX` ties) are placed by a rebuild;
- the peer: `Ledger.from_frame` of the old rows and the batch together, what a rebuild costs.

Each late append's fingerprint is checked against the full build's (they must be equal).

    .venv/bin/python -m benchmarks.append --sizes 1m,10m --repeat 5
"""

import argparse
import statistics
import time

import polars as pl

from benchmarks.service import environment
from benchmarks.synthetic import generate_ledger
from tracing import Ledger

SIZES = {"100k": 100_000, "1m": 1_000_000, "10m": 10_000_000}


def _timed(repeat: int, work):  # type: ignore[no-untyped-def]
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000, result


def _renamed(rows: pl.DataFrame, tag: str) -> pl.DataFrame:
    return rows.with_columns(pl.concat_str(pl.lit(tag), pl.col("external_id")).alias("external_id"))


def bench(label: str, n: int, repeat: int) -> None:
    frame = generate_ledger(n, seed=7)
    built_ms, ledger = _timed(1, lambda: Ledger.from_frame(frame))
    later = _renamed(frame.tail(10), "NEW-").with_columns(pl.col("value_time").dt.offset_by("1d"))
    spread = frame.gather_every(max(1, n // 1000)).head(1000)
    batches = {
        "in order, 10 rows": later,
        "late, 10 rows": _renamed(frame.slice(n // 2, 10), "LATE-"),
        "late, 1,000 rows, times of their own": _renamed(spread, "LATE-").with_columns(
            pl.col("value_time").dt.offset_by("1us")
        ),
        "late, 1,000 rows at the times of other rows": _renamed(spread, "LATE-"),
    }
    print(f"\n### {label}: {n:,} transactions (built in {built_ms:,.0f} ms)\n")
    print(
        "| batch | append (median) | full build of old + batch (median) | build / append | agrees |"
    )
    print("|---|--:|--:|--:|---|")
    for name, batch in batches.items():
        append_ms, appended = _timed(repeat, lambda b=batch: ledger.append(b))
        whole = pl.concat([frame, batch])
        build_ms, rebuilt = _timed(max(1, repeat // 2), lambda w=whole: Ledger.from_frame(w))
        agrees = "yes" if appended.fingerprint == rebuilt.fingerprint else "NO"
        print(
            f"| {name} | {append_ms:,.1f} ms | {build_ms:,.1f} ms | {build_ms / append_ms:.1f}x "
            f"| {agrees} |"
        )
        del appended, rebuilt


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1m")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"ledger appends, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(environment())
    for label in args.sizes.split(","):
        bench(label, SIZES[label], args.repeat)


if __name__ == "__main__":
    main()
