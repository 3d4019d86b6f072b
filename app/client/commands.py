"""`moneytrail import | trace | export`: the API from the command line, with progress."""

import argparse
import os
from pathlib import Path
from typing import Any

import polars as pl
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table

from app.client.api import ENV_KEY, ENV_URL, EXPORTS, ApiError, MoneytrailClient

TABLE_SUFFIXES = {".csv", ".parquet"}
GOAML_SUFFIXES = {".xml", ".zip"}
FTM_SUFFIXES = {".json", ".ndjson", ".ijson", ".jsonl"}
STDERR = Console(stderr=True)
SUMMARY = ("file", "format", "rows", "inserted", "already present", "rejected")


def _client(args: argparse.Namespace) -> MoneytrailClient:
    url, key = args.url or os.environ.get(ENV_URL), args.key or os.environ.get(ENV_KEY)
    if not url or not key:
        raise SystemExit(f"give --url and --key, or set {ENV_URL} and {ENV_KEY}")
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
            raise SystemExit(f"{path}: no such file or folder")
    return found


def count_rows(path: Path) -> int | None:
    """Rows of a CSV or Parquet file, read from its metadata or by a streaming count."""
    try:
        if path.suffix == ".parquet":
            return int(pl.scan_parquet(path).select(pl.len()).collect().item())
        return int(pl.scan_csv(path, infer_schema=False).select(pl.len()).collect().item())
    except pl.exceptions.PolarsError:
        return None


def _send(
    client: MoneytrailClient, path: Path, args: argparse.Namespace, advance: Any
) -> dict[str, Any]:
    reference = args.reference or path.stem
    if path.suffix in TABLE_SUFFIXES:
        r = client.upload_transactions(
            path, kind=args.kind, reference=reference, timezone=args.timezone, progress=advance
        )
        return {"format": path.suffix[1:], **r}
    if path.suffix in GOAML_SUFFIXES:
        r = client.import_goaml(path, progress=advance)
        reports = r["reports"]
        return {
            "format": "goaml",
            "rows": sum(x["transactions"] for x in reports),
            "inserted": sum(x["inserted"] for x in reports),
            "already_present": sum(x["already_present"] for x in reports),
        }
    return {"format": "ftm", **client.import_ftm(path, reference=reference, progress=advance)}


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
                rejected = exc.problem.get("error_count") or len(exc.problem.get("errors") or [])
                table.add_row(
                    path.name, path.suffix[1:], str(rows or "?"), "0", "0", str(rejected or "all")
                )
                for error in (exc.problem.get("errors") or [])[: args.show_errors]:
                    console.print(f"  {path.name}: {error.get('loc')} {error.get('msg')}")
                console.print(f"[red]{path.name}: {exc}[/red]")
                continue
            progress.update(task, description=path.name, rows=f"{result['rows']:,} rows stored")
            table.add_row(
                path.name,
                result["format"],
                f"{result['rows']:,}",
                f"{result['inserted']:,}",
                f"{result['already_present']:,}",
                "0",
            )
    Console().print(table)
    return 1 if failed else 0


def run_trace(args: argparse.Namespace) -> int:
    seeds = [{"transaction": t} for t in args.seed_transaction] + [
        {"account": a} for a in args.seed_account
    ]
    if not seeds:
        raise SystemExit("give at least one --seed-transaction or --seed-account")
    body = {
        "seeds": seeds,
        "rule": args.rule,
        "direction": args.direction,
        "max_hops": args.max_hops,
    }
    with _client(args) as client:
        try:
            trace = client.run_trace(body)
        except ApiError as exc:
            STDERR.print(f"[red]{exc}[/red]")
            return 1
        table = Table("field", "value", title=f"trace {trace['id']}")
        table.add_row("status", str(trace["status"]))
        for name, value in sorted((trace.get("summary") or {}).items()):
            if not isinstance(value, dict | list):
                table.add_row(name, str(value))
        Console().print(table)
        if args.export and trace["status"] == "done":
            return _write(client, trace["id"], args.export, args.output)
    return 0 if trace["status"] == "done" else 1


def _write(client: MoneytrailClient, trace_id: str, fmt: str, output: str | None) -> int:
    formats = ["i2-entities", "i2-links"] if fmt == "i2" else [fmt]
    for name in formats:
        body = client.export(trace_id, name)
        target = Path(output or ".")
        if target.is_dir() or len(formats) > 1 or output is None:
            target.mkdir(parents=True, exist_ok=True)
            target = target / f"trace-{trace_id}{EXPORTS[name][1]}"
        target.write_bytes(body)
        STDERR.print(f"wrote {target} ({len(body):,} bytes)")
    return 0


def run_export(args: argparse.Namespace) -> int:
    with _client(args) as client:
        try:
            return _write(client, args.trace_id, args.format, args.output)
        except ApiError as exc:
            STDERR.print(f"[red]{exc}[/red]")
            return 1


def _connection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help=f"server URL (default: ${ENV_URL})")
    parser.add_argument("--key", help=f"API key (default: ${ENV_KEY})")


def register(commands: Any) -> None:
    """Add the client subcommands to the `moneytrail` parser."""
    formats = [*EXPORTS, "i2"]
    imp = commands.add_parser("import", help="send CSV, Parquet, goAML or FtM files to a server")
    imp.add_argument("paths", nargs="+", help="files or folders")
    imp.add_argument("--kind", default="bank_statement", help="source kind of CSV/Parquet files")
    imp.add_argument("--reference", help="source reference (default: the file name)")
    imp.add_argument("--timezone", help="IANA zone for times without an offset")
    imp.add_argument("--show-errors", type=int, default=10, help="rejections to print per file")
    _connection(imp)
    imp.set_defaults(run=run_import)
    trace = commands.add_parser("trace", help="run a trace on a server and print its summary")
    trace.add_argument("--seed-transaction", action="append", default=[])
    trace.add_argument("--seed-account", action="append", default=[])
    trace.add_argument("--rule", default="fifo")
    trace.add_argument("--direction", default="forward", choices=["forward", "backward"])
    trace.add_argument("--max-hops", type=int, default=6)
    trace.add_argument("--export", choices=formats, help="also write this export")
    trace.add_argument("--output", help="file or folder for the export")
    _connection(trace)
    trace.set_defaults(run=run_trace)
    export = commands.add_parser(
        "export", help="write a stored trace as GraphML, GEXF, i2, FtM ..."
    )
    export.add_argument("trace_id")
    export.add_argument("--format", required=True, choices=formats)
    export.add_argument("--output", help="file or folder (default: the current folder)")
    _connection(export)
    export.set_defaults(run=run_export)
