"""`moneytrail trace --engine spark|memory --lake DIR`: a trace on a lake, without a server.

For batch work on a cluster (run it under `spark-submit`, or with `--master spark://...`):
the search runs on Spark, the rule in this process, and the canonical JSON of the result (the
bytes a stored trace's SHA-256 covers) is written to `--output`. `--engine memory` traces the
same lake in memory, for a check of the two on a ledger that fits.
"""

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from app.client.commands import ENGINE_OPTIONS, options_given
from lake import Lake, engine_frame, spark_session, trace_lake
from tracing import Ledger, TraceParams, TraceResult, TracingError, trace

STDERR = Console(stderr=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engine",
        choices=["spark", "memory"],
        help="trace a lake here instead of asking a server (needs --lake)",
    )
    parser.add_argument("--lake", help="the lake's directory (see `moneytrail lake sync`)")
    parser.add_argument("--master", default="local[*]", help="Spark master URL")
    parser.add_argument(
        "--spark-conf",
        action="append",
        default=[],
        type=_setting,
        metavar="KEY=VALUE",
        help="a Spark setting for a cluster (repeatable), e.g. spark.executor.memory=8g",
    )


def _setting(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    return key.strip(), value


def _params(args: argparse.Namespace) -> TraceParams:
    if args.seed_account:
        raise SystemExit("a trace on a lake takes --seed-transaction seeds")
    # The client's seeds are the API's ({"transaction": id, "claimant": name}).
    seeds = [s["transaction"] for s in args.seed_transaction]
    named = tuple(
        (s["transaction"], s["claimant"]) for s in args.seed_transaction if "claimant" in s
    )
    return TraceParams(
        seed_transactions=tuple(seeds),
        transaction_claimants=named,
        stop_at=frozenset(args.stop_at),
        # Those not given keep the engine's defaults, which are the API's.
        **options_given(args, ENGINE_OPTIONS),
    )


def run_on_lake(args: argparse.Namespace) -> int:
    if not args.lake:
        raise SystemExit("--engine needs --lake DIR")
    lake = Lake(Path(args.lake))
    try:
        params = _params(args)
        if args.engine == "spark":
            spark = spark_session(args.master, conf=dict(args.spark_conf))
            result = trace_lake(spark, lake, params)
        else:
            manifest = lake.require_manifest()
            rows = engine_frame(lake.rows(manifest), manifest.decimals)
            result = trace(Ledger.from_frame(rows, currency_decimals=manifest.decimals), params)
    except (TracingError, FileNotFoundError) as exc:
        STDERR.print(f"[red]{type(exc).__name__}: {exc}[/red]")
        return 1
    _print(result, args.engine)
    if args.output:
        Path(args.output).write_bytes(result.to_json_bytes())
        STDERR.print(f"wrote {args.output} (sha256 {result.digest()})")
    return 0


def _print(result: TraceResult, engine: str) -> None:
    table = Table("field", "value", title=f"trace on the lake ({engine})")
    for name, value in sorted(result.summary.items()):
        table.add_row(name, str(value))
    table.add_row("ledger_fingerprint", result.provenance.ledger_fingerprint)
    STDERR.print(table)
