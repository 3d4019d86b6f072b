"""What tracing needs while the service runs: the trace runtime, made warm."""

import fcntl
import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from importlib import resources
from pathlib import Path

import numpy as np
import polars as pl
import structlog
from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError

import tracing
from app.demo.service import EXCHANGE_ACCOUNT, SEED_TRANSACTIONS
from app.settings import Settings
from app.trace import service
from app.trace.runtime import TraceRuntime
from app.transaction.ingest import REQUIRED
from tracing import (
    AccountSeed,
    ClaimantRule,
    Direction,
    Ledger,
    Mask,
    Rule,
    SameDayPolicy,
    TraceParams,
    bits_at,
    trace,
)
from tracing.labelled import MAX_LABELS

log = structlog.get_logger("app.trace")
_EXIT = EXCHANGE_ACCOUNT
_WARM_ACCOUNT = "iban:DE44500105175407324931"


def _warm_ledger_frame() -> pl.DataFrame:
    """The demo's 23 transactions: cycles, same-day events, cash and external accounts."""
    raw = resources.files("app.demo").joinpath("transactions.csv").read_bytes()
    return pl.read_csv(
        raw, columns=[*REQUIRED, "sequence"], schema_overrides={"amount": pl.String}
    ).with_columns(
        pl.col("amount").cast(pl.Decimal(18, 2)),
        pl.col("value_time").str.to_datetime(time_zone="UTC"),
    )


def _warm_params() -> Iterator[TraceParams]:
    """Requests that between them reach every kernel: each rule from transaction and account
    seeds under each same-day policy with the optional limits, and reach backward."""
    seed = AccountSeed(account=_WARM_ACCOUNT, currency="EUR", amount=Decimal("1000.00"))
    for rule in Rule:
        yield TraceParams(
            seed_transactions=SEED_TRANSACTIONS, rule=rule, stop_at=frozenset({_EXIT})
        )
        for policy in SameDayPolicy:
            yield TraceParams(
                seeds=(seed,),
                rule=rule,
                same_day_policy=policy,
                min_amount=Decimal("1.00"),
                max_counterparties=3,
            )
    for policy in SameDayPolicy:
        yield TraceParams(
            seeds=(AccountSeed(account=_EXIT, currency="EUR"),),
            direction=Direction.BACKWARD,
            same_day_policy=policy,
            max_counterparties=3,
        )
    yield from _warm_claimants()


def _warm_claimants() -> Iterator[TraceParams]:
    """Claimants under each rule and claimant rule (more than the dense rows take, too) and
    sources of funds under each rule that has them: the labelled replay's kernels."""
    victims = tuple(
        AccountSeed(
            account=_WARM_ACCOUNT,
            currency="EUR",
            amount=Decimal("1000.00"),
            claimant=f"victim {i}",
        )
        for i in range(MAX_LABELS + 1)
    )
    for rule, by in (
        (Rule.HAIRCUT, ClaimantRule.PRO_RATA),
        (Rule.HAIRCUT, ClaimantRule.FIFO),
        (Rule.HAIRCUT, ClaimantRule.PARI_PASSU),
        (Rule.LIBR, ClaimantRule.PRO_RATA),
        (Rule.LIBR, ClaimantRule.FIFO),
        (Rule.FIFO, None),
        (Rule.LIFO, None),
    ):
        yield TraceParams(seeds=victims[:2], rule=rule, claimant_rule=by)
        if by is ClaimantRule.PRO_RATA:  # more labels than the dense rows take: vectors
            yield TraceParams(seeds=victims, rule=rule, claimant_rule=by)
    for rule in (Rule.HAIRCUT, Rule.FIFO, Rule.LIFO):
        yield TraceParams(
            seed_transactions=SEED_TRANSACTIONS, rule=rule, direction=Direction.BACKWARD
        )


@contextmanager
def compile_lock() -> Iterator[None]:
    """Held while this process compiles the engine: one process at a time, machine-wide.

    Numba writes a kernel's on-disk cache (`.nbi` index, `.nbc` code) without a lock of its
    own; two processes compiling the same kernels at once (`serve --workers N` on a cold
    cache) can leave an index naming code the other wrote, and every later load then fails
    ("NRT_adapt_ndarray_to_python descr is NULL") until the files are deleted. Under this lock
    the first worker compiles and writes the cache, the others wait and then load it.
    """
    home = Path(os.environ.get("NUMBA_CACHE_DIR") or tempfile.gettempdir())
    home.mkdir(parents=True, exist_ok=True)
    engine = str(Path(tracing.__file__).resolve().parent)  # one lock per copy of the engine
    name = f"moneytrail-engine-{hashlib.sha256(engine.encode()).hexdigest()[:16]}.lock"
    with open(home / name, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            # Told by whether the lock was held, not by how long the wait took: a wait that
            # happens to be short is still a wait, and the tests read these lines.
            log.info("engine_compile_waiting")
            started = time.perf_counter()
            fcntl.flock(handle, fcntl.LOCK_EX)
            log.info("engine_compile_waited", seconds=round(time.perf_counter() - started, 1))
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def compile_engine() -> None:
    """Run the engine through every kernel on a small ledger, so that they compile (or load from
    numba's on-disk cache) before the service answers, not inside an investigator's first trace
    of a rule (which took seconds and could answer 202). One process at a time (`compile_lock`)."""
    with compile_lock():
        ledger = Ledger.from_frame(_warm_ledger_frame())
        # a caller's mask (app.trace.filing) checks its seeds with a kernel of its own
        hides_none = Mask.of(ledger, np.ones(ledger.n_transactions, np.bool_))
        # and the cases a trace read (`Filing.read_by`) are one more
        bits_at(
            np.zeros((1, ledger.n_nodes), np.uint64), np.zeros(1, np.int64), np.ones(1, np.uint64)
        )
        for i, params in enumerate(_warm_params()):
            result = trace(ledger, params, mask=hides_none if i == 0 else None)
            # The result's frames are built lazily, some by kernels of their own.
            (result.accounts, result.flows, result.exits, result.flags, result.to_json_bytes())


def _warm(runtime: TraceRuntime) -> None:
    try:
        with runtime.sessions() as session:
            ledger = runtime.ledger(session)
        log.info("ledger_warm", transactions=ledger.n_transactions)
    except SQLAlchemyError:
        log.warning("ledger_not_warmed", hint="run: moneytrail db upgrade")


def start(app: FastAPI, settings: Settings) -> None:
    runtime = TraceRuntime.build(settings, app.state.sessionmaker, app.state.writer_sessions)
    app.state.trace_runtime = runtime
    try:
        with runtime.writer_sessions() as session:
            service.mark_interrupted(session, runtime)
    except SQLAlchemyError:
        return
    runtime.sync.start()
    if settings.trace_warm_ledger:
        # Before the service answers (start-up waits for it), so that /readyz means "fast".
        started = time.perf_counter()
        compile_engine()
        log.info("engine_compiled", seconds=round(time.perf_counter() - started, 1))
        threading.Thread(target=_warm, args=(runtime,), name="ledger-warm", daemon=True).start()


def stop(app: FastAPI) -> None:
    app.state.trace_runtime.shutdown()
