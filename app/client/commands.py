"""`moneytrail import | trace | export | search`: the API from the command line, with progress."""

import argparse
import os
from pathlib import Path
from typing import Any

import polars as pl
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from app.client.api import ENV_KEY, ENV_URL, EXPORTS, ApiError, CliError, MoneytrailClient
from tracing import ClaimantRule, Direction, Rule, SameDayPolicy

TABLE_SUFFIXES = {".csv", ".parquet"}
GOAML_SUFFIXES = {".xml", ".zip"}
FTM_SUFFIXES = {".json", ".ndjson", ".ijson", ".jsonl"}
STDERR = Console(stderr=True)
SUMMARY = ("file", "format", "outcome", "rows", "inserted", "already present", "problems")


def _out() -> Console:
    """Standard output; off a terminal wide enough that a table's rows stay one line each
    (a pipe would otherwise get 80 columns and file names split over two lines)."""
    console = Console()
    return console if console.is_terminal else Console(width=160)


def _client(args: argparse.Namespace) -> MoneytrailClient:
    url, key = args.url or os.environ.get(ENV_URL), args.key or os.environ.get(ENV_KEY)
    if not url or not key:
        raise CliError(f"give --url and --key, or set {ENV_URL} and {ENV_KEY}")
    return MoneytrailClient(url, key)


def _files(paths: list[Path]) -> list[Path]:
    known = TABLE_SUFFIXES | GOAML_SUFFIXES | FTM_SUFFIXES
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in known)
        elif path.is_file():
            found.append(path)
        else:
            raise CliError(f"{path}: no such file or folder")
    return found


def count_rows(path: Path) -> int | None:
    """Rows of a CSV or Parquet file, read from its metadata or by a streaming count."""
    try:
        if path.suffix == ".parquet":
            return int(pl.scan_parquet(path).select(pl.len()).collect().item())
        return int(pl.scan_csv(path, infer_schema=False).select(pl.len()).collect().item())
    except pl.exceptions.PolarsError:
        return None


def format_of(path: Path) -> str:
    """The format a file is sent as, which decides the route that reads it."""
    if path.suffix in TABLE_SUFFIXES:
        return path.suffix[1:]
    return "goaml" if path.suffix in GOAML_SUFFIXES else "ftm"


def _outcome(result: dict[str, Any]) -> str:
    if result["inserted"]:
        return "stored"
    return "nothing new" if result["already_present"] else "empty"


def _send(
    client: MoneytrailClient, path: Path, args: argparse.Namespace, advance: Any
) -> dict[str, Any]:
    reference = args.reference or path.stem
    if path.suffix in TABLE_SUFFIXES:
        r = client.upload_transactions(
            path,
            kind=args.kind,
            reference=reference,
            timezone=args.timezone,
            progress=advance,
            case_id=args.case,
        )
        return {"format": format_of(path), **r}
    if path.suffix in GOAML_SUFFIXES:
        r = client.import_goaml(path, progress=advance, case_id=args.case)
        reports = r["reports"]
        return {
            "format": "goaml",
            "rows": sum(x["transactions"] for x in reports),
            "inserted": sum(x["inserted"] for x in reports),
            "already_present": sum(x["already_present"] for x in reports),
        }
    ftm = client.import_ftm(path, reference=reference, progress=advance, case_id=args.case)
    return {"format": "ftm", **ftm}


def run_import(args: argparse.Namespace) -> int:
    files = _files([Path(p) for p in args.paths])
    console = STDERR
    table = Table(*SUMMARY, title="moneytrail import")
    failed = 0
    client = _client(args)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TextColumn("{task.fields[rows]}"),
    )
    with client, Progress(*columns, console=console, transient=False) as progress:
        for path in files:
            rows = count_rows(path) if path.suffix in TABLE_SUFFIXES else None
            size = path.stat().st_size
            task = progress.add_task(path.name, total=size, rows="")

            def advance(
                n: int,
                task: Any = task,
                rows: int | None = rows,
                size: int = size,
                name: str = path.name,
            ) -> None:
                progress.advance(task, n)
                done = progress.tasks[task].completed
                if rows is not None:  # rows go out in file order: their share follows the bytes
                    progress.update(task, rows=f"~{rows * done // max(size, 1):,}/{rows:,} rows")
                if done >= size:
                    progress.update(task, description=f"{name}: sent, the server stores it")

            try:
                result = _send(client, path, args, advance)
            except ApiError as exc:
                failed += 1
                problems = exc.problem.get("error_count") or len(exc.problem.get("errors") or [])
                progress.update(task, description=f"{path.name}: rejected, nothing stored")
                table.add_row(
                    path.name,
                    format_of(path),
                    "[red]rejected[/red]",
                    f"{rows:,}" if rows is not None else "?",
                    "0",
                    "0",
                    str(problems or 1),
                )
                for error in (exc.problem.get("errors") or [])[: args.show_errors]:
                    where = ".".join(str(p) for p in error.get("loc") or [])
                    console.print(f"  {path.name}: {where}: {error.get('msg')}")
                console.print(f"[red]{path.name}: {exc}[/red]", soft_wrap=True)
                continue
            progress.update(task, description=path.name, rows=f"{result['rows']:,} rows stored")
            table.add_row(
                path.name,
                result["format"],
                _outcome(result),
                f"{result['rows']:,}",
                f"{result['inserted']:,}",
                f"{result['already_present']:,}",
                "0",
            )
    _out().print(table)
    return 1 if failed else 0


# Each field of the API's trace request (app.trace.schemas.TraceCreate) and the options that
# give it; a test fails when the API gains a field that has no option here.
TRACE_OPTIONS: dict[str, tuple[str, ...]] = {
    "seeds": ("--seed-account", "--seed-transaction"),
    "direction": ("--direction",),
    "rule": ("--rule",),
    "same_day_policy": ("--same-day-policy",),
    "max_hops": ("--max-hops",),
    "start": ("--start",),
    "end": ("--end",),
    "as_of": ("--as-of",),
    "min_amount": ("--min-amount",),
    "stop_at": ("--stop-at",),
    "stop_at_external": ("--stop-at-external",),
    "max_counterparties": ("--max-counterparties",),
    "claimant_rule": ("--claimant-rule",),
    "case_id": ("--case",),
    "roles": ("--role-threshold",),
}
SEED_ACCOUNT = "ACCOUNT:AMOUNT:CURRENCY[@TIME][#CLAIMANT]"


def seed_account(spec: str) -> dict[str, str]:
    """`iban:DE89...:5000.00:EUR@2026-01-05T10:00:00Z` as the API's account seed.

    Account keys and times hold colons themselves: the time is what follows the last `@`, the
    amount and currency the last two colon-separated parts before it. The amount may be empty
    (`iban:DE89...::EUR`): then the seed is what the account held at that time. What follows
    the last `#` names the claimant whose money it is (`...:600.00:EUR#Anna Berger`).
    """
    spec, hash_, claimant = spec.rpartition("#") if "#" in spec else (spec, "", "")
    if hash_ and not claimant.strip():
        raise argparse.ArgumentTypeError(f"{spec!r}: an empty claimant after '#'")
    head, at, when = spec.rpartition("@")
    if not at or not when[:1].isdigit():
        head, when = spec, ""
    parts = head.rsplit(":", 2)
    if len(parts) != 3 or not parts[0] or not parts[2]:
        raise argparse.ArgumentTypeError(f"{spec!r}: expected {SEED_ACCOUNT}")
    account, amount, currency = parts
    seed = {"account": account, "currency": currency}
    if amount:
        seed["amount"] = amount
    if when:
        seed["at"] = when
    if claimant:
        seed["claimant"] = claimant
    return seed


def seed_transaction(spec: str) -> dict[str, str]:
    """`T0042#Anna Berger` as the API's transaction seed, whose money it is after the last `#`."""
    spec, hash_, claimant = spec.rpartition("#") if "#" in spec else (spec, "", "")
    if hash_ and not claimant.strip():
        raise argparse.ArgumentTypeError(f"{spec!r}: an empty claimant after '#'")
    if not spec:
        raise argparse.ArgumentTypeError("expected EXTERNAL_ID[#CLAIMANT]")
    return {"transaction": spec, "claimant": claimant} if claimant else {"transaction": spec}


def min_amount(spec: str) -> tuple[str, str | None]:
    """`1000` (every currency) or `0.05:BTC` (that currency) as a proposal's least holding."""
    amount, colon, code = spec.partition(":")
    if not amount or (colon and not code):
        raise argparse.ArgumentTypeError(f"{spec!r}: expected DECIMAL[:CURRENCY]")
    return amount, code.upper() if colon else None


def role_threshold(spec: str) -> tuple[str, str]:
    """`sink_min_held=0.9` as a threshold of the roles in the network (RoleThresholds)."""
    name, eq, value = spec.partition("=")
    if not eq or not name or not value:
        raise argparse.ArgumentTypeError(f"{spec!r}: expected NAME=VALUE, e.g. sink_min_held=0.9")
    return name.strip(), value.strip()


# The trace options the command line, the API and the engine all name alike (a trace on a lake
# takes these too).
ENGINE_OPTIONS = ("direction", "rule", "same_day_policy", "max_hops", "max_counterparties")


def options_given(args: argparse.Namespace, names: tuple[str, ...]) -> dict[str, Any]:
    """The options among `names` that the command line gave (one not given is None)."""
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def trace_body(args: argparse.Namespace) -> dict[str, Any]:
    """The API's trace request from the options given; what is not given is left to the server's
    defaults, so the command line and the API mean the same by an omitted parameter."""
    seeds = list(args.seed_transaction) + list(args.seed_account)
    if not seeds:
        raise CliError("give at least one --seed-transaction or --seed-account")
    given = {
        "start": args.start,
        "end": args.end,
        "as_of": args.as_of,
        "min_amount": args.min_amount,
        "stop_at": args.stop_at or None,
        "stop_at_external": args.stop_at_external,
        "claimant_rule": args.claimant_rule,
        "case_id": args.case,
        "roles": dict(args.role_threshold) or None,
    }
    return {
        "seeds": seeds,
        **options_given(args, ENGINE_OPTIONS),
        **{k: v for k, v in given.items() if v is not None},
    }


def _progress_text(trace: dict[str, Any]) -> str:
    done = trace.get("progress") or {}
    return (
        f"trace {trace['id'][:8]}: {done.get('hops_done', 0)} hop(s) searched, "
        f"{done.get('accounts_reached', 0):,} accounts reached, "
        f"{done.get('events_replayed', 0):,} events replayed"
    )


def run_trace(args: argparse.Namespace) -> int:
    body = trace_body(args)
    with _client(args) as client:
        columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
        drawn = STDERR.is_terminal
        with Progress(*columns, console=STDERR, transient=True, disable=not drawn) as progress:
            task = progress.add_task("the server is tracing", total=None)
            said: list[str] = []

            def shown(trace: dict[str, Any]) -> None:
                text = _progress_text(trace)
                progress.update(task, description=text)
                # Off a terminal (a script, a CI log) the spinner is not drawn: a line per change.
                if not drawn and text not in said[-1:]:
                    said.append(text)
                    STDERR.print(text)

            trace = client.run_trace(body, on_progress=shown)
        table = Table("field", "value", title=f"trace {trace['id']}")
        table.add_row("status", str(trace["status"]))
        for name, value in (trace.get("summary") or {}).items():
            if not isinstance(value, dict | list):
                table.add_row(name, str(value))
        if trace.get("error"):
            table.add_row("error", f"{trace['error'].get('code')}: {trace['error'].get('detail')}")
        _out().print(table)
        if args.export and trace["status"] == "done":
            return _write(client, trace["id"], args.export, args.output)
    return 0 if trace["status"] == "done" else 1


def _write(client: MoneytrailClient, trace_id: str, fmt: str, output: str | None) -> int:
    formats = ["i2-entities", "i2-links"] if fmt == "i2" else [fmt]
    for name in formats:
        columns = (
            SpinnerColumn(),
            TextColumn("{task.description}"),
            DownloadColumn(),
            TimeElapsedColumn(),
        )
        drawn = STDERR.is_terminal
        with Progress(*columns, console=STDERR, transient=True, disable=not drawn) as progress:
            task = progress.add_task(f"{name}: the server writes it", total=None)

            def arrived(n: int, task: TaskID = task) -> None:
                progress.advance(task, n)

            body = client.export(trace_id, name, progress=arrived)
        target = Path(output or ".")
        if target.is_dir() or len(formats) > 1 or output is None:
            target.mkdir(parents=True, exist_ok=True)
            target = target / f"trace-{trace_id}{EXPORTS[name][1]}"
        target.write_bytes(body)
        STDERR.print(f"wrote {target} ({len(body):,} bytes)")
    return 0


def run_propose(args: argparse.Namespace) -> int:
    with _client(args) as client:
        every = [amount for amount, code in args.min_amount if code is None]
        if len(every) > 1:
            raise CliError("give one --min-amount without a currency (and any with one)")
        per = {code: amount for amount, code in args.min_amount if code is not None}
        outcome = client.propose(args.trace_id, args.case, every[0] if every else None, per)
    table = Table("account", "currency", "held", "outcome", "asset", title="freezing proposals")
    for c in outcome["created"]:
        table.add_row(
            c["account"], c["currency"], c["held"], f"{c['asset_type']} TRACED", str(c["asset_id"])
        )
    for s in outcome["skipped"]:
        asset = "" if s["asset_id"] is None else str(s["asset_id"])
        table.add_row(s["account"], s["currency"], s["held"], f"skipped: {s['reason']}", asset)
    _out().print(table)
    STDERR.print(f"{len(outcome['created'])} asset(s) created, {len(outcome['skipped'])} skipped")
    return 0


def run_export(args: argparse.Namespace) -> int:
    with _client(args) as client:
        return _write(client, args.trace_id, args.format, args.output)


def run_search(args: argparse.Namespace) -> int:
    with _client(args) as client:
        page = client.search(" ".join(args.words), kind=args.kind, limit=args.limit)
    table = Table("key", "name", "detail", "score")
    for hit in page["items"]:
        table.add_row(hit["key"], hit["name"] or "", hit["detail"] or "", f"{hit['score']:.3f}")
    _out().print(table)
    if page["next_cursor"]:
        STDERR.print(f"more than {args.limit}: narrow the search or raise --limit")
    return 0


def _connection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help=f"server URL (default: ${ENV_URL})")
    parser.add_argument("--key", help=f"API key (default: ${ENV_KEY})")


def _trace_options(trace: argparse.ArgumentParser) -> None:
    """One option per field of the API's trace request (see TRACE_OPTIONS)."""
    trace.add_argument(
        "--seed-transaction",
        action="append",
        default=[],
        type=seed_transaction,
        metavar="EXTERNAL_ID[#CLAIMANT]",
        help="a transaction whose whole amount is taint, whose money it is after '#'; repeatable",
    )
    trace.add_argument(
        "--seed-account",
        action="append",
        default=[],
        type=seed_account,
        metavar=SEED_ACCOUNT,
        help="an amount placed on an account (at a time), whose money it is after '#'; repeatable",
    )
    trace.add_argument("--rule", choices=[r.value for r in Rule], help="(server default: reach)")
    trace.add_argument("--direction", choices=[d.value for d in Direction])
    trace.add_argument(
        "--same-day-policy",
        "--policy",
        choices=[p.value for p in SameDayPolicy],
        help="order of a day's records without a time (server default: ledger)",
    )
    trace.add_argument("--max-hops", type=int, help="1..64 (server default: 6)")
    trace.add_argument("--start", metavar="TIME", help="window start, ISO 8601 with offset")
    trace.add_argument("--end", metavar="TIME", help="window end, ISO 8601 with offset")
    trace.add_argument("--as-of", metavar="TIME", help="when 'held' is measured")
    trace.add_argument(
        "--min-amount", metavar="DECIMAL", help="transactions below are not followed"
    )
    trace.add_argument(
        "--stop-at",
        action="append",
        default=[],
        metavar="ACCOUNT",
        help="an account reported but not expanded (an exchange ...); repeatable",
    )
    trace.add_argument(
        "--stop-at-external",
        action=argparse.BooleanOptionalAction,
        help="stop at ext: and cash: accounts (server default: yes)",
    )
    trace.add_argument("--max-counterparties", type=int, help="accounts with more are not expanded")
    trace.add_argument(
        "--claimant-rule",
        choices=[c.value for c in ClaimantRule],
        help="whose taint leaves a mixed account when seeds name claimants "
        "(server default: pro_rata, or the rule under fifo/lifo)",
    )
    trace.add_argument("--case", type=int, metavar="CASE_ID", help="the case the trace is for")
    trace.add_argument(
        "--role-threshold",
        action="append",
        default=[],
        type=role_threshold,
        metavar="NAME=VALUE",
        help="a threshold of the roles in the network, e.g. collector_min_senders=5 (see "
        "RoleThresholds in the API document); repeatable",
    )


def register(commands: Any) -> None:
    """Add the client subcommands to the `moneytrail` parser."""
    formats = [*EXPORTS, "i2"]
    imp = commands.add_parser("import", help="send CSV, Parquet, goAML or FtM files to a server")
    imp.add_argument("paths", nargs="+", help="files or folders")
    imp.add_argument("--kind", default="bank_statement", help="source kind of CSV/Parquet files")
    imp.add_argument("--reference", help="source reference (default: the file name)")
    imp.add_argument("--timezone", help="IANA zone for times without an offset")
    imp.add_argument(
        "--case", type=int, metavar="ID", help="file the data in this case's compartment"
    )
    imp.add_argument("--show-errors", type=int, default=10, help="rejections to print per file")
    _connection(imp)
    imp.set_defaults(run=run_import)
    trace = commands.add_parser(
        "trace", help="run a trace on a server, show its progress and print its summary"
    )
    _trace_options(trace)
    trace.add_argument("--export", choices=formats, help="also write this export")
    trace.add_argument("--output", help="file or folder for the export")
    _connection(trace)
    trace.set_defaults(run=run_trace)
    propose = commands.add_parser(
        "propose", help="propose a stored trace's holdings for freezing: assets of a case, TRACED"
    )
    propose.add_argument("trace_id")
    propose.add_argument("--case", type=int, required=True, metavar="CASE_ID")
    propose.add_argument(
        "--min-amount",
        action="append",
        default=[],
        type=min_amount,
        metavar="DECIMAL[:CURRENCY]",
        help="only holdings of at least this (in that currency; without one, in every other); "
        "repeatable",
    )
    _connection(propose)
    propose.set_defaults(run=run_propose)
    export = commands.add_parser(
        "export", help="write a stored trace as GraphML, GEXF, i2, FtM ..."
    )
    export.add_argument("trace_id")
    export.add_argument("--format", required=True, choices=formats)
    export.add_argument("--output", help="file or folder (default: the current folder)")
    _connection(export)
    export.set_defaults(run=run_export)
    find = commands.add_parser("search", help="find parties, accounts or transactions by words")
    find.add_argument("words", nargs="+", help="names in any script, keys, ids, narrative words")
    find.add_argument("--kind", choices=["party", "account", "transaction"], default="party")
    find.add_argument("--limit", type=int, default=20, help="hits to show")
    _connection(find)
    find.set_defaults(run=run_search)
