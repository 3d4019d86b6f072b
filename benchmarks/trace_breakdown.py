"""Where the time of one small `POST /api/v1/traces` goes, on the real server, step by step.

The service runs in a child process (`serve` below) with timers wrapped around the steps of a
trace request (the ASGI app as a whole, the endpoint, reading the ledger and the mask, the
parameters, the engine, the summary, canonical JSON, hash and packing, the IPC frames, the
INSERTs, the commit with the request's own audit entry, the response model); the parent
uploads a synthetic ledger, picks a seed, times the round trips from its side (with
`GET /healthz`, the HTTP floor, and the same trace run in-process by the engine) and prints the
median of each step per request. What no timer covers is HTTP, routing, validation and the
dependencies (auth, session, compartments).

    .venv/bin/python -m benchmarks.trace_breakdown --db sqlite,postgresql --rows 200000
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from benchmarks import service

_spans: dict[str, list[float]] = collections.defaultdict(list)
_local = threading.local()


def _timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            _spans[name].append(time.perf_counter() - started)

    return wrapper


def _patch(owner: Any, attribute: str, name: str) -> None:
    if not hasattr(owner, attribute):  # a baseline's code may lack a step
        return
    setattr(owner, attribute, _timed(name, getattr(owner, attribute)))


def _instrument() -> None:
    from sqlalchemy.orm import Session

    from app.trace import repository, results, router, runtime
    from app.trace import service as trace_service
    from tracing import TraceResult

    _patch(trace_service, "start_trace", "endpoint: start_trace (all below)")
    _patch(runtime.TraceRuntime, "filed_ledger", "  ledger check + filing")
    _patch(runtime.TraceRuntime, "mask_for", "  mask")
    _patch(trace_service, "build_params", "  params")
    _patch(trace_service, "trace", "  engine (job thread)")
    _patch(trace_service, "_store_result", "  store (all below)")
    _patch(trace_service, "api_summary", "    summary")
    _patch(trace_service, "_duplicate_warning", "    duplicate warning query")
    _patch(TraceResult, "to_json_bytes", "    canonical JSON")
    _patch(results, "seal_json", "    sha256 + pack JSON")
    _patch(results, "to_ipc", "    IPC frames (incl. public frames)")
    _patch(repository.TraceRepository, "add_finished", "    INSERT run")
    _patch(repository.TraceRepository, "add_frames", "    INSERT frames")
    _patch(repository.TraceRepository, "set_compartments", "    compartments")
    _patch(Session, "commit", "  commit (+ audit entry, fsync)")
    _patch(trace_service, "trace_read", "endpoint: response model")
    del router


def serve() -> None:
    """The service with timers; `GET /__spans` answers what they measured."""
    import uvicorn

    from app.main import create_app

    _instrument()
    app = create_app()

    async def timed_app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/__spans":
            body = json.dumps(_spans).encode()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": body})
            return
        started = time.perf_counter()
        try:
            await app(scope, receive, send)
        finally:
            if scope["type"] == "http" and scope["method"] == "POST":
                _spans["ASGI app, POST (all server-side)"].append(time.perf_counter() - started)

    uvicorn.run(
        timed_app,
        host="127.0.0.1",
        port=int(os.environ["BREAKDOWN_PORT"]),
        log_level="warning",
        access_log=False,
        lifespan="on",
    )


@dataclass
class Case:
    """The ledger, its file and the seed every server of the run traces."""

    rows: int
    parquet: Path
    ledger: Any
    seed: str
    size: int
    body: dict[str, Any]
    params: Any


def _case(folder: Path, rows: int, seed_size: int) -> Case:
    from app.money import currency_decimals
    from app.settings import Settings
    from app.trace.lifecycle import compile_engine
    from benchmarks import api_trace
    from benchmarks.synthetic import generate_ledger
    from tracing import Ledger

    # Compiled (or loaded) here under the engine's lock, before the service loads the same
    # kernels: two processes writing Numba's cache at once corrupt it.
    compile_engine()
    frame = generate_ledger(rows, seed=42)
    parquet = folder / "ledger.parquet"
    frame.write_parquet(parquet)
    ledger = Ledger.from_frame(frame, currency_decimals=currency_decimals())
    settings = Settings()
    seeds = api_trace.pick_seeds(frame, ledger, settings, 6)
    seed, size = min(seeds, key=lambda s: abs(s[1] - seed_size))
    body = api_trace.request_body(seed, "reach", 6)
    return Case(
        rows, parquet, ledger, seed, size, body, api_trace.params_of(body, ledger, settings)
    )


def _run(db: str, folder: Path, case: Case, repeat: int, code: Path) -> dict[str, list[float]]:
    """One server of the checkout `code` on a fresh database: the client's and its spans."""
    import subprocess

    from benchmarks import api_trace

    port = service.free_port()
    with service.fresh_database(db, folder) as url:
        env = {
            **os.environ,
            "MONEYTRAIL_DATABASE_URL": url,
            "MONEYTRAIL_BOOTSTRAP_ADMIN_KEY": "false",
            "MONEYTRAIL_TRACE_SYNC_WAIT_SECONDS": "600",
            "MONEYTRAIL_LOG_LEVEL": "WARNING",
            "BREAKDOWN_PORT": str(port),
            # The service's code is the checkout's (a baseline's), whatever the venv installed.
            "PYTHONPATH": str(code),
        }
        command = [sys.executable, "-m", "app.cli"]
        run = {"env": env, "cwd": code, "check": True, "capture_output": True, "text": True}
        subprocess.run([*command, "db", "upgrade"], **run)  # type: ignore[call-overload]
        log_path = folder / f"breakdown-{db}-{code.name}.log"
        with log_path.open("ab") as log:
            server = subprocess.Popen(
                [sys.executable, __file__, "serve"], env=env, cwd=code, stdout=log, stderr=log
            )
        base = f"http://127.0.0.1:{port}"
        try:
            service.wait_until_ready(server, base, log_path, within=180)
            created = subprocess.run([*command, "keys", "create", "--role", "admin"], **run)  # type: ignore[call-overload]
            key = created.stdout.splitlines()[-1]
            with httpx.Client(timeout=None, headers={"Authorization": f"Bearer {key}"}) as client:
                api_trace.upload(client, base, case.parquet, case.rows)
                for _ in range(5):  # warm-up: the service's ledger, numba, first statements
                    api_trace.http_trace(client, base, case.body)
                    api_trace.run_engine(case.ledger, case.params)
                    client.get(f"{base}/healthz")
                figures: dict[str, list[float]] = collections.defaultdict(list)
                for _ in range(repeat):
                    figures[ENGINE].append(api_trace.run_engine(case.ledger, case.params)[0])
                    figures[ROUND_TRIP].append(api_trace.http_trace(client, base, case.body)[0])
                    started = time.perf_counter()
                    client.get(f"{base}/healthz").raise_for_status()
                    figures[HEALTHZ].append(time.perf_counter() - started)
                spans = client.get(f"{base}/__spans").json()
        finally:
            service.stop(server, within=20)
    figures[ADDED] = [h - e for h, e in zip(figures[ROUND_TRIP], figures[ENGINE], strict=True)]
    return {**figures, **{k: v[-repeat:] for k, v in spans.items()}}


ROUND_TRIP = "client: POST /api/v1/traces round trip"
ENGINE = "client: engine in-process (+ public frames)"
ADDED = "client: added (round trip - engine), per pair"
HEALTHZ = "client: GET /healthz round trip (floor)"


def _report(db: str, case: Case, repeat: int, runs: dict[str, dict[str, list[float]]]) -> str:
    names = [ROUND_TRIP, ENGINE, ADDED, HEALTHZ]
    for figures in runs.values():
        names += [n for n in figures if n not in names]
    lines = [
        f"{db}: seed {case.seed}, reach, {case.size} accounts; {case.rows:,} transactions; "
        f"median of {repeat}; load average {Path('/proc/loadavg').read_text().split()[:3]}",
        f"  {'':<46}" + "".join(f"{label:>12}" for label in runs),
    ]
    for name in names:
        cells = "".join(f"{_ms(figures.get(name, [])):9.2f} ms" for figures in runs.values())
        lines.append(f"  {name:<46}{cells}")
    return "\n".join(lines)


def _ms(values: list[float]) -> float:
    return statistics.median(values) * 1000 if values else float("nan")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=service.csv_list, default=["sqlite", "postgresql"])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--accounts", type=int, default=30, help="the seed's reach to pick")
    parser.add_argument(
        "--baseline", type=Path, help="another checkout (e.g. /work/main) served the same way first"
    )
    args = parser.parse_args(argv)
    here = Path(__file__).resolve().parent.parent
    codes = {"this": here} if args.baseline is None else {"baseline": args.baseline, "this": here}
    with tempfile.TemporaryDirectory(prefix="moneytrail-breakdown-") as tmp:
        case = _case(Path(tmp), args.rows, args.accounts)
        for db in args.db:
            runs = {
                label: _run(db, Path(tmp), case, args.repeat, code) for label, code in codes.items()
            }
            print(_report(db, case, args.repeat, runs), flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve()
    else:
        main()
