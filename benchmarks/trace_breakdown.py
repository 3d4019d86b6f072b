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


def _run(db: str, folder: Path, rows: int, repeat: int, seed_size: int) -> str:
    import subprocess

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
    params = api_trace.params_of(body, ledger, settings)
    timings = folder / f"spans-{db}.json"
    port = service.free_port()
    with service.fresh_database(db, folder) as url:
        env = {
            **os.environ,
            "MONEYTRAIL_DATABASE_URL": url,
            "MONEYTRAIL_BOOTSTRAP_ADMIN_KEY": "false",
            "MONEYTRAIL_TRACE_SYNC_WAIT_SECONDS": "600",
            "MONEYTRAIL_LOG_LEVEL": "WARNING",
            "BREAKDOWN_PORT": str(port),
        }
        command = [sys.executable, "-m", "app.cli"]
        subprocess.run([*command, "db", "upgrade"], env=env, check=True, capture_output=True)
        log_path = folder / f"breakdown-{db}.log"
        with log_path.open("ab") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.trace_breakdown", "serve"],
                env=env,
                stdout=log,
                stderr=log,
            )
        base = f"http://127.0.0.1:{port}"
        try:
            service.wait_until_ready(server, base, log_path, within=120)
            key = subprocess.run(
                [*command, "keys", "create", "--role", "admin"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.splitlines()[-1]
            with httpx.Client(timeout=None, headers={"Authorization": f"Bearer {key}"}) as client:
                api_trace.upload(client, base, parquet, rows)
                for _ in range(5):  # warm-up: the service's ledger, numba, first statements
                    api_trace.http_trace(client, base, body)
                    api_trace.run_engine(ledger, params)
                    client.get(f"{base}/healthz")
                http, engine, health = [], [], []
                for _ in range(repeat):
                    engine.append(api_trace.run_engine(ledger, params)[0])
                    http.append(api_trace.http_trace(client, base, body)[0])
                    started = time.perf_counter()
                    client.get(f"{base}/healthz").raise_for_status()
                    health.append(time.perf_counter() - started)
                timings.write_bytes(client.get(f"{base}/__spans").content)
        finally:
            service.stop(server, within=20)
    spans = {k: v[-repeat:] for k, v in json.loads(timings.read_text()).items()}
    lines = [
        f"{db}: seed {seed}, reach, {size} accounts; {rows:,} transactions; median of {repeat}; "
        f"load average {Path('/proc/loadavg').read_text().split()[:3]}",
        f"  {'client: POST /api/v1/traces round trip':<44} {_ms(http):7.2f} ms",
        f"  {'client: engine in-process (+ public frames)':<44} {_ms(engine):7.2f} ms",
        f"  {'client: added (round trip - engine)':<44} {_ms(http) - _ms(engine):7.2f} ms",
        f"  {'client: GET /healthz round trip (floor)':<44} {_ms(health):7.2f} ms",
    ]
    lines += [f"  {name:<44} {_ms(values):7.2f} ms" for name, values in spans.items()]
    return "\n".join(lines)


def _ms(values: list[float]) -> float:
    return statistics.median(values) * 1000 if values else float("nan")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=service.csv_list, default=["sqlite", "postgresql"])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--accounts", type=int, default=30, help="the seed's reach to pick")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="moneytrail-breakdown-") as tmp:
        for db in args.db:
            print(_run(db, Path(tmp), args.rows, args.repeat, args.accounts), flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve()
    else:
        main()
